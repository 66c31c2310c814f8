// The overlay driver's firewall, as data. Pure: golden-tested; the driver applies it.
//
// filter FORWARD -> NETLOOM-OVERLAY (placed after the bridge driver's jumps): per network
//   -i <bridge> -o <bridge> -j ACCEPT
//
// An overlay network's frames (VXLAN device <-> veths, all ports of one bridge) cross the
// bridge; with br_netfilter (bridge-nf-call-iptables=1, as Docker sets it) they traverse
// FORWARD, which Docker leaves with policy DROP. Nothing else is accepted: an overlay network
// reaches only its own members. Its own chain, not the bridge driver's, because each driver's
// full restore declares (so flushes) exactly the chains it owns.
import type { Table } from '../../system/types.js';
import { ruleLine, type Rule } from '../bridge/rules.js';

export const OVERLAY_CHAIN = 'NETLOOM-OVERLAY';
export const OVERLAY_JUMP = `-A FORWARD -j ${OVERLAY_CHAIN}`;

export function overlayNetworkRules(bridge: string): Rule[] {
  return [{ table: 'filter', chain: OVERLAY_CHAIN, spec: ['-i', bridge, '-o', bridge, '-j', 'ACCEPT'] }];
}

/** iptables-restore --noflush input that makes NETLOOM-OVERLAY hold exactly `rules` (declaring
 *  the chain flushes it), and adds the jump at `jumpAt` (1-based) when it is missing. */
export function renderOverlayAll(rules: readonly Rule[], jumpAt?: number): string {
  const jump = jumpAt === undefined ? [] : [`-I FORWARD ${jumpAt} -j ${OVERLAY_CHAIN}`];
  return `*filter\n:${OVERLAY_CHAIN} - [0:0]\n${[...rules.map(ruleLine), ...jump].join('\n')}\nCOMMIT\n`;
}

/** Where the jump goes in FORWARD: right after netloom's other jumps (the admin's NETLOOM-USER
 *  comes first), before anyone else's rules. `undefined` when it is already there. */
export function overlayJumpPosition(filterSave: string): number | undefined {
  const forward = filterSave.split('\n').filter((l) => l.startsWith('-A FORWARD '));
  if (forward.includes(OVERLAY_JUMP)) return undefined;
  let last = 0;
  forward.forEach((l, i) => {
    if (/ -j NETLOOM\S*$/.test(l)) last = i + 1;
  });
  return last + 1;
}

/** What iptables-save shows of the overlay firewall (IPv4 only: overlay networks are IPv4). */
export function overlayExpectedLines(rules: readonly Rule[]): Record<4 | 6, Record<Table, string[]>> {
  return { 4: { filter: [OVERLAY_JUMP, ...rules.map(ruleLine)], nat: [] }, 6: { filter: [], nat: [] } };
}

/** The overlay part of one table of an iptables-save. */
export function overlayOwnLines(save: string, table: Table): string[] {
  if (table !== 'filter') return [];
  return save.split('\n').filter((l) => l === OVERLAY_JUMP || l.startsWith(`-A ${OVERLAY_CHAIN} `));
}
