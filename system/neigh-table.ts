// The kernel's IPv4 neighbour (ARP) table is one for the whole machine, whatever namespace reads
// it: /proc/net/stat/arp_cache gives its entry count and per-CPU overflow counts (table_fulls),
// net.ipv4.neigh.default.gc_thresh3 its hard limit. Read only: netloom never changes the limit
// (it is the machine's, for every namespace at once).
import { readFile } from 'node:fs/promises';
import { readSysctl } from './sysctl.js';

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
  const [head, ...rows] = text.trim().split('\n').map((l) => l.trim().split(/\s+/));
  const col = (name: string): number => head?.indexOf(name) ?? -1;
  const [e, f] = [col('entries'), col('table_fulls')];
  if (!rows.length || e < 0 || f < 0 || !limit) return undefined;
  return {
    entries: parseInt(rows[0][e], 16),
    limit: Number(limit),
    overflows: rows.reduce((sum, r) => sum + parseInt(r[f] ?? '0', 16), 0),
  };
}
