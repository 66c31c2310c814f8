// The kernel's IPv4 neighbour (ARP) table is one for the whole machine, whatever namespace reads
// it: /proc/net/stat/arp_cache gives its entry count and per-CPU overflow counts (table_fulls),
// net.ipv4.neigh.default.gc_thresh3 its hard limit. netloom never changes the limit (it is the
// machine's, for every namespace at once); a lab frees what it used (flushLearntNeighbours).
import { readFile } from 'node:fs/promises';
import { rtnetlinkIn } from './netns.js';
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
      if (!m.attrs.dst || st?.permanent || st?.noarp) continue;
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
