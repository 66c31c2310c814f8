// Packet capture with tcpdump (Debian's) inside a node: `lab capture FILE NODE[:IFACE]`, and
// `check --capture-failures DIR`, which keeps a short pcap of each failed reach cell's source
// interfaces while that cell's probe is sent once more.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { durationMs } from './netem.js';
import { nsOwner, type Lab } from './model.js';
import type { CheckReport } from './report.js';
import { inNode, type Programs } from './runtime.js';

/** tcpdump's argv for `lab capture`: every interface unless one is named; to a file or, line-
 *  buffered, to stdout; for a duration (SIGINT after it, so the pcap is complete) or until ^C. */
export function captureArgv(iface: string | undefined, file: string | undefined, forText: string | undefined): string[] {
  const dump = ['tcpdump', '-i', iface ?? 'any', '-n', '-U', ...(file ? ['-w', file] : ['-l'])];
  if (forText === undefined) return dump;
  const secs = durationMs(forText) / 1000;
  return ['timeout', '--preserve-status', '-s', 'INT', String(secs), ...dump];
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, '_');

/** The probe sent again while capturing, as a shell command inside the source node. */
function probeCommand(progs: Programs, probe: string, addrs: readonly string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  if (probe === 'icmp') return addrs.map((a) => `ping -n -c2 -W1 ${q(a)} >/dev/null 2>&1`).join('; ');
  const [proto, port] = probe.split('/');
  return [process.execPath, progs.cliScript, 'lab', '_ask', proto, port, ...addrs].map(q).join(' ') + ' >/dev/null 2>&1';
}

/** A pcap per failed reach cell, named SUITE-FROM-TO.pcap: tcpdump on every interface of the
 *  source node, started (waiting for it to listen, at most 5 s), the probe, then stopped by PID. */
export async function captureFailures(lab: Lab, rep: CheckReport, progs: Programs, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const s of rep.suites) {
    if (!s.reach) continue;
    for (const c of s.reach.cells.filter((x) => x.actual !== undefined && x.actual !== x.expected)) {
      const file = join(dir, `${safe(s.name)}-${safe(c.from)}-${safe(c.to)}.pcap`);
      const script = [
        `tcpdump -i any -n -U -w "$1" 2>"$1.log" & p=$!`,
        `i=0; until grep -q listening "$1.log" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done`,
        probeCommand(progs, s.reach.probe, c.tried),
        'sleep 0.3; kill -INT $p; wait $p; rm -f "$1.log"',
      ].join('\n');
      const r = await inNode(nsOwner(lab, c.from).sandbox, ['sh', '-c', script, 'capture', file], 30_000);
      if (r.exitCode === 0 || r.exitCode === 130) written.push(file);
    }
  }
  return written;
}
