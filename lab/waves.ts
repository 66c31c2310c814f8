// Which reach probe sources run together. Linux keeps ONE IPv4 neighbour (ARP) table for the whole
// machine: every namespace's entries count against net.ipv4.neigh.default.gc_thresh3 (1024 by
// default, settable only for every namespace at once), and an entry younger than 5 s cannot be
// reclaimed, so a probe burst that needs more entries than are free loses packets ("neighbor table
// overflow"): the same pairs every time. A source's probe makes an entry on each side of every
// on-link pair it tries (its own for the target, the target's for it) and one on each side of its
// gateway. Sources are taken in waves whose new entries fit what the table has free; the check
// flushes the wave's namespaces' neighbour tables before the next one. Pure: unit-tested.
import { canonicalCidr, contains } from '../common/cidr.js';

/** One probe source: its namespace and addresses (with prefix), and what it probes. */
export interface WaveSource {
  readonly key: string;
  /** The namespace the probe runs in (a container-mode node's owner). */
  readonly ns: string;
  /** Its addresses with prefix (`10.1.0.2/24`) and the gateway of each, if any. */
  readonly ifaces: readonly { readonly address: string; readonly gateway?: string }[];
  /** The target addresses with the namespace each lives in (undefined: outside the lab). */
  readonly targets: readonly { readonly address: string; readonly ns?: string }[];
}

const onLink = (iface: string, addr: string): boolean => {
  try {
    return contains(iface, addr);
  } catch {
    return false;
  }
};

/** The neighbour entries one source's probe makes, as `namespace|address` (`@gw` for the gateway
 *  side, in the lab's host namespace). */
export function entriesOf(s: WaveSource): string[] {
  const out = new Set<string>();
  for (const t of s.targets) {
    const local = s.ifaces.find((i) => onLink(i.address, t.address));
    if (local) {
      out.add(`${s.ns}|${t.address}`);
      out.add(`${t.ns ?? '@outside'}|${local.address.split('/')[0]}`);
    }
  }
  // Anything off-link goes through a gateway: one entry in the node, one on the gateway's side.
  for (const i of s.ifaces) {
    if (!i.gateway) continue;
    out.add(`${s.ns}|${i.gateway}`);
    out.add(`@gw|${i.address.split('/')[0]}`);
  }
  return [...out];
}

/** How many of `remaining` (in order) to probe at once so that their new entries stay within
 *  `budget`; at least one (a source alone is as small as a wave gets). */
export function nextWave(remaining: readonly WaveSource[], budget: number): number {
  const entries = new Set<string>();
  let n = 0;
  for (const s of remaining) {
    const mine = entriesOf(s).filter((e) => !entries.has(e));
    if (n > 0 && entries.size + mine.length > budget) break;
    for (const e of mine) entries.add(e);
    n++;
  }
  return n;
}

/** Sources ordered so that a wave holds whole networks where it can (peers share their entries):
 *  by their first address's network, then as given. */
export function waveOrder(sources: readonly WaveSource[]): WaveSource[] {
  const net = (s: WaveSource): string => (s.ifaces[0] ? (canonicalCidr(s.ifaces[0].address) ?? '') : '');
  return sources
    .map((s, i) => ({ s, i, k: net(s) }))
    .sort((a, b) => a.k.localeCompare(b.k) || a.i - b.i)
    .map((x) => x.s);
}

/** net.ipv4.neigh.default.gc_thresh3 unless the machine's administrator changed it. */
export const DEFAULT_GC_THRESH3 = 1024;

/** The entries the kernel can still make for a wave: the limit less those in use and a margin for
 *  everything else on the machine (an eighth of the limit), never below 64. */
export function waveBudget(limit: number, inUse: number): number {
  return Math.max(64, limit - inUse - Math.ceil(limit / 8));
}
