// The kernel's IPv4 neighbour (ARP) table is one for the whole machine, whatever namespace reads
// it: /proc/net/stat/arp_cache gives its entry count and per-CPU overflow counts (table_fulls),
// net.ipv4.neigh.default.gc_thresh3 its hard limit. netloom never changes the limit (it is the
// machine's, for every namespace at once); a lab frees what it used (flushLearntNeighbours).
// The limit counts only entries the kernel may collect: since Linux 4.19 an entry made over
// netlink as permanent or flagged NTF_EXT_LEARNED is exempt (neigh_alloc's gc_entries), which is
// what seedNeighbours uses to let a big lab's probe make every entry it needs at once.
import { readFile } from 'node:fs/promises';
import { parseIPv4 } from '../common/cidr.js';
import { icmpAddon } from './icmp-probe.js';
import { rtnetlinkIn, withNsFd } from './netns.js';
import { readSysctl } from './sysctl.js';
import type { NsRef } from './types.js';

const AF_INET = 2;

export interface NeighTableUse {
  /** Entries now, every namespace's. */
  readonly entries: number;
  /** gc_thresh3: no new entry beyond it while every entry is younger than 5 s. */
  readonly limit: number;
  /** Times an entry could not be made since boot ("neighbor table overflow"). */
  readonly overflows: number;
}

/** undefined where /proc does not tell: in any network namespace but the machine's first one
 *  (the kernel shows neither file there), or not Linux. */
export async function arpTableUse(): Promise<NeighTableUse | undefined> {
  const [text, limit] = await Promise.all([readFile('/proc/net/stat/arp_cache', 'utf8').catch(() => ''), readSysctl('net.ipv4.neigh.default.gc_thresh3')]);
  const [head, ...rows] = text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  const col = (name: string): number => head?.indexOf(name) ?? -1;
  const [e, f] = [col('entries'), col('table_fulls')];
  if (!rows.length || e < 0 || f < 0 || !limit) return undefined;
  return {
    entries: parseInt(rows[0][e], 16),
    limit: Number(limit),
    overflows: rows.reduce((sum, r) => sum + parseInt(r[f] ?? '0', 16), 0),
  };
}

/** Deletes a namespace's learnt IPv4 neighbour entries, as `ip -4 neigh flush all` does (every
 *  entry but permanent and noarp ones), over one rtnetlink socket opened in it: no process. A
 *  namespace that is gone has nothing to flush. Returns how many went. */
export async function flushLearntNeighbours(ns: NsRef): Promise<number> {
  let sock: ReturnType<typeof rtnetlinkIn>;
  try {
    sock = rtnetlinkIn(ns);
  } catch {
    return 0;
  }
  try {
    let n = 0;
    for (const m of await sock.getNeighbors({ family: AF_INET })) {
      const st = m.data.state;
      // Entries a control plane put there (seedNeighbours' own among them) are not learnt ones.
      if (!m.attrs.dst || st?.permanent || st?.noarp || m.data.flags?.extLearned) continue;
      // One that went meanwhile (ENOENT) is as good as deleted.
      await sock.delNeighbor({ family: AF_INET, ifindex: m.data.ifindex }, { dst: m.attrs.dst }).then(
        () => n++,
        () => undefined,
      );
    }
    return n;
  } finally {
    sock.socket.close();
  }
}

/** An entry seedNeighbours made, which unseedNeighbours removes. */
export interface SeededNeighbour {
  readonly ifindex: number;
  readonly address: string;
}

/** Makes in `ns`, for each address on the subnet of one of its IPv4 interfaces, a neighbour entry
 *  with no link-layer address (NUD_NONE) flagged NTF_EXT_LEARNED: the kernel resolves it with ARP
 *  on first use like any entry (request, reply, then reachable), but it is exempt from gc_thresh3,
 *  so any number of them fit. An address that already has an entry (EEXIST: it takes no new room)
 *  or is on no interface's subnet is left alone. Returns the entries made, and only those: none
 *  without native/icmpprobe.node (which sends them, a namespace's in one sendmsg). */
export function seedNeighbours(ns: NsRef, addresses: readonly string[]): SeededNeighbour[] {
  const a = icmpAddon();
  const wanted = [...new Set(addresses)].filter((x) => parseIPv4(x) !== undefined);
  if (!a || !wanted.length) return [];
  const made = withNsFd(ns, (fd) =>
    a.neighSeed(
      fd,
      Uint32Array.from(wanted, (x) => parseIPv4(x)!),
    ),
  );
  return wanted.flatMap((address, i) => (made[i] > 0 ? [{ ifindex: made[i], address }] : []));
}

/** Removes what seedNeighbours made in `ns` (whatever state ARP left them in). A namespace that is
 *  gone took its entries with it; one already deleted is as good as removed. */
export function unseedNeighbours(ns: NsRef, seeded: readonly SeededNeighbour[]): void {
  const a = icmpAddon();
  if (!a || !seeded.length) return;
  try {
    withNsFd(ns, (fd) =>
      a.neighUnseed(
        fd,
        Int32Array.from(seeded, (e) => e.ifindex),
        Uint32Array.from(seeded, (e) => parseIPv4(e.address)!),
      ),
    );
  } catch {
    // Gone with its namespace.
  }
}
