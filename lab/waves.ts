// Which reach probe sources run together. Linux keeps ONE IPv4 neighbour (ARP) table for the whole
// machine: every namespace's entries count against net.ipv4.neigh.default.gc_thresh3 (1024 by
// default, settable only for every namespace at once), and an entry younger than 5 s cannot be
// reclaimed, so a probe burst that needs more entries than are free loses packets ("neighbor table
// overflow"): the same pairs every time. A source's probe makes an entry on each side of every
// on-link pair it tries (its own for the target, the target's for it) and one on each side of its
// gateway. Sources are taken in waves whose new entries fit what the table has free; the check
// flushes the wave's namespaces' neighbour tables before the next one. Entries the check seeded
// beforehand (system/neigh-table.ts seedNeighbours: exempt from the limit) need no room, so a lab
// whose nodes' entries are all seeded is probed in one wave. Pure: unit-tested.
import { canonicalCidr, contains } from '../common/cidr.js';
import { durationMs, type Netem } from './netem.js';

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

/** The entries a check can seed before probing: those inside the lab's nodes (the gateway side, in
 *  the lab's host namespace or the machine's, and anything outside the lab are left to ARP alone). */
export const seedable = (entries: readonly string[]): string[] => entries.filter((e) => !e.startsWith('@'));

/** How many of `remaining` (in order) to probe at once so that their new entries stay within
 *  `budget`; at least one (a source alone is as small as a wave gets). `seeded` entries already
 *  exist and take no room. */
export function nextWave(remaining: readonly WaveSource[], budget: number, seeded: ReadonlySet<string> = new Set()): number {
  const entries = new Set<string>();
  let n = 0;
  for (const s of remaining) {
    const mine = entriesOf(s).filter((e) => !entries.has(e) && !seeded.has(e));
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

/** The least a wave waits after every expected answer came (and the last echo went), for a reply
 *  that should not come: far beyond the sub-millisecond round trip inside one machine and an ARP
 *  exchange, even with both cores busy. */
export const QUIET_MS = 250;

/** How long a wave keeps listening after every expected answer came, or undefined for the whole
 *  timeout. A reply that should not come (a pair expected denied that is in fact reached) travels
 *  the same veths and bridges as the expected ones, so it arrives with them unless an impairment
 *  holds it back: QUIET_MS plus four times the largest declared delay and jitter (a round trip
 *  crosses at most two impaired egresses each way). A rate limit can queue a burst of echoes
 *  for any time, so with one the wave waits its whole timeout. */
export function quietAfter(netems: readonly Partial<Netem>[]): number | undefined {
  if (netems.some((n) => n.rate !== undefined)) return undefined;
  const worst = Math.max(0, ...netems.map((n) => (n.delay ? durationMs(n.delay) : 0) + (n.jitter ? durationMs(n.jitter) : 0)));
  return QUIET_MS + 4 * worst;
}
