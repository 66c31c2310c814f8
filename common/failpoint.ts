// Crash points for tests: with NETLOOM_FAILPOINT=<name> the daemon kills itself with SIGKILL
// when it reaches <name>, exactly like a power cut or kill -9 at that step. Costs one string
// compare when unset.
const armed = process.env.NETLOOM_FAILPOINT;

export function failpoint(name: string): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
