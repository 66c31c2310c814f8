// Whether a process the lab started still runs. A zombie (exited, not yet reaped: its parent died
// and the PID 1 that inherited it does not reap, as node does as a test's PID 1) does not: it
// serves nothing and needs no stopping.
import { readFileSync } from 'node:fs';

export function pidAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
