// ICMP echo from inside many namespaces at once, from netloom's own process (native/icmpprobe.c):
// a raw ICMP socket made in each source's network namespace (setns on the main thread, as
// rtnetlinkIn does for netlink), then every echo sent and every reply collected on a worker thread
// against one deadline. No process per source: `ip netns exec` (which remounts /sys) and fping
// cost about as much as the echoes' whole wait on a loaded 2-core machine. Only the network
// namespace matters to an ICMP socket: a source's UTS namespace (its hostname) changes nothing.
import { closeSync } from 'node:fs';
import { parseIPv4 } from '../common/cidr.js';
import { loadNative } from './native.js';
import { withNsFd } from './netns.js';
import type { NsRef } from './types.js';

/** native/icmpprobe.node: the echoes here, the neighbour seeds of system/neigh-table.ts. */
export interface IcmpAddon {
  openIcmp(nsFd: number): number;
  echoAll(fds: Int32Array, addrs: Uint32Array, groups: Uint32Array, timeoutMs: number, graceMs: number, burst: number): Promise<Float64Array>;
  neighSeed(nsFd: number, addrs: Uint32Array): Int32Array;
  neighUnseed(nsFd: number, ifindexes: Int32Array, addrs: Uint32Array): void;
}

/** The addon; undefined when it is not built or does not load. */
export const icmpAddon = (): IcmpAddon | undefined => loadNative<IcmpAddon>('icmpprobe');

/** Whether the in-process prober is built (`make addon`); callers keep a fallback without it. */
export const icmpProberAvailable = (): boolean => !!icmpAddon();

export interface EchoTarget {
  readonly address: string;
  /** Targets with the same group > 0 are one expected answer (any of them will do); 0: none. */
  readonly group: number;
}

export interface EchoSource {
  readonly ns: NsRef;
  readonly targets: readonly EchoTarget[];
}

export interface EchoOptions {
  /** What every echo gets after the last one is sent (fping -t). */
  readonly timeoutMs: number;
  /** Stop this long after every group has answered (and the last echo was sent); undefined: never early. */
  readonly graceMs?: number;
  /** Echoes sent before replies are drained again. */
  readonly burst?: number;
}

/** Per source: the round-trip time in ms of each address that answered, or why it was not probed. */
export type EchoResult = { readonly rtt: ReadonlyMap<string, number> } | { readonly error: string };

const u32 = (a: string): number => {
  const n = parseIPv4(a);
  if (n === undefined) throw new Error(`invalid IPv4 address "${a}"`);
  return n;
};

/** One echo from each source to each of its targets, all at once. A source whose namespace cannot
 *  be entered gets an error; the others are probed. Throws when the addon is not built. */
export async function echoFrom(sources: readonly EchoSource[], opts: EchoOptions): Promise<EchoResult[]> {
  const a = icmpAddon();
  if (!a) throw new Error('native/icmpprobe.node is missing or does not load: run "make build" first');
  const fds: (number | { error: string })[] = sources.map((s) => {
    try {
      return s.ns.kind === 'self' ? a.openIcmp(-1) : withNsFd(s.ns, (fd) => a.openIcmp(fd));
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  });
  try {
    const jobs: { src: number; address: string }[] = [];
    const fd: number[] = [];
    const addrs: number[] = [];
    const groups: number[] = [];
    sources.forEach((s, i) => {
      const f = fds[i];
      if (typeof f !== 'number') return;
      for (const t of s.targets) {
        jobs.push({ src: i, address: t.address });
        fd.push(f);
        addrs.push(u32(t.address));
        groups.push(t.group);
      }
    });
    const rtts = jobs.length
      ? await a.echoAll(Int32Array.from(fd), Uint32Array.from(addrs), Uint32Array.from(groups), opts.timeoutMs, opts.graceMs ?? -1, opts.burst ?? 64)
      : new Float64Array(0);
    const out = sources.map((_, i): Map<string, number> => new Map());
    jobs.forEach((j, k) => void (rtts[k] >= 0 && out[j.src].set(j.address, rtts[k])));
    return sources.map((_, i): EchoResult => {
      const f = fds[i];
      return typeof f === 'number' ? { rtt: out[i] } : { error: `cannot open an ICMP socket in ${nsLabel(sources[i].ns)}: ${f.error}` };
    });
  } finally {
    for (const f of fds) if (typeof f === 'number') closeSync(f);
  }
}

const nsLabel = (ns: NsRef): string => (ns.kind === 'named' ? `namespace ${ns.name}` : ns.kind === 'pid' ? `the namespace of pid ${ns.pid}` : ns.kind);
