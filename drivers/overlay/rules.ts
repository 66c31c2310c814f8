// The overlay driver's firewall, as data. Pure: golden-tested; the driver applies it.
//
// filter FORWARD -> NETLOOM-OVERLAY, placed first (after the admin's NETLOOM-USER only), so
// before the bridge driver's NETLOOM-FORWARD and its outbound accept: per network
//   -i <bridge> -o <bridge> -j ACCEPT     its own members, bridged
//   -i <bridge> -j DROP                   nothing routed out of the overlay ...
//   -o <bridge> -j DROP                   ... nor into it, from any other network
//
// An overlay network's frames (VXLAN device <-> veths, all ports of one bridge) cross the
// bridge; with br_netfilter (bridge-nf-call-iptables=1, as Docker sets it) they traverse
// FORWARD, which Docker leaves with policy DROP. The bridge holds the gateway (for the embedded
// DNS), so the host could route between an overlay and a bridge network; the drops stop that in
// both directions (Docker keeps overlays in their own namespace: nothing local reaches them).
// Traffic to and from the host itself (INPUT, OUTPUT: the DNS) is not FORWARD and not touched.
// Its own chain, not the bridge driver's, because each driver's full restore declares (so
// flushes) exactly the chains it owns.
import type { Table } from '../../system/types.js';
import { ruleLine, type Rule } from '../shared/iptables.js';

export const OVERLAY_CHAIN = 'NETLOOM-OVERLAY';
export const OVERLAY_JUMP = `-A FORWARD -j ${OVERLAY_CHAIN}`;
/** The admin's chain, the only rule allowed before the overlay's jump. */
const ADMIN_JUMP = '-A FORWARD -j NETLOOM-USER';
/** What ownLines reports for a jump that is there but after other rules (so compares unequal). */
export const MISPLACED_JUMP = `${OVERLAY_JUMP} (misplaced: after other FORWARD rules)`;

export function overlayNetworkRules(bridge: string): Rule[] {
  const rule = (...spec: string[]): Rule => ({ table: 'filter', chain: OVERLAY_CHAIN, spec });
  return [rule('-i', bridge, '-o', bridge, '-j', 'ACCEPT'), rule('-i', bridge, '-j', 'DROP'), rule('-o', bridge, '-j', 'DROP')];
}

/** iptables-restore --noflush input that makes NETLOOM-OVERLAY hold exactly `rules` (declaring
 *  the chain flushes it), and places the jump (`jumpFix`, from overlayJumpFix) when it is not. */
export function renderOverlayAll(rules: readonly Rule[], jumpFix: readonly string[] = []): string {
  return `*filter\n:${OVERLAY_CHAIN} - [0:0]\n${[...rules.map(ruleLine), ...jumpFix].join('\n')}\nCOMMIT\n`;
}

const forwardLines = (filterSave: string): string[] => filterSave.split('\n').filter((l) => l.startsWith('-A FORWARD '));

/** Whether the jump is in FORWARD once, right after the admin's NETLOOM-USER (which the bridge
 *  driver keeps just before its own jumps), or first when there is no NETLOOM-USER. Rules of
 *  others before NETLOOM-USER (dockerd's DOCKER-USER, say) stay before it. */
function wellPlaced(forward: readonly string[]): boolean {
  const at = forward.indexOf(OVERLAY_JUMP);
  if (at < 0 || forward.lastIndexOf(OVERLAY_JUMP) !== at) return false;
  const admin = forward.indexOf(ADMIN_JUMP);
  return admin >= 0 ? at === admin + 1 : at === 0;
}

/** Restore lines that put the jump right after the admin's NETLOOM-USER (so before the bridge
 *  driver's jumps), or first without one; none when it is already there. A misplaced jump is
 *  deleted first. */
export function overlayJumpFix(filterSave: string): string[] {
  const forward = forwardLines(filterSave);
  if (wellPlaced(forward)) return [];
  const rest = forward.filter((l) => l !== OVERLAY_JUMP);
  const admin = rest.indexOf(ADMIN_JUMP);
  const dels = forward.filter((l) => l === OVERLAY_JUMP).map(() => `-D FORWARD -j ${OVERLAY_CHAIN}`);
  return [...dels, `-I FORWARD ${admin >= 0 ? admin + 2 : 1} -j ${OVERLAY_CHAIN}`];
}

/** What iptables-save shows of the overlay firewall (IPv4 only: overlay networks are IPv4). */
export function overlayExpectedLines(rules: readonly Rule[]): Record<4 | 6, Record<Table, string[]>> {
  return { 4: { filter: [OVERLAY_JUMP, ...rules.map(ruleLine)], nat: [] }, 6: { filter: [], nat: [] } };
}

/** The overlay part of one table of an iptables-save; a jump in the wrong place shows as
 *  MISPLACED_JUMP, so the guard and doctor see it (and a restore moves it). */
export function overlayOwnLines(save: string, table: Table): string[] {
  if (table !== 'filter') return [];
  const jump = wellPlaced(forwardLines(save)) ? OVERLAY_JUMP : MISPLACED_JUMP;
  return save.split('\n').flatMap((l) => (l === OVERLAY_JUMP ? [jump] : l.startsWith(`-A ${OVERLAY_CHAIN} `) ? [l] : []));
}
