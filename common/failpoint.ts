// Crash points for tests: with NETLOOM_FAILPOINT=<name> the daemon kills itself with SIGKILL
// when a request reaches <name>, exactly like a power cut or kill -9 at that step. They are
// armed once start-up is over (reconcile walks the same code), and cost one compare when unset.
const wanted = process.env.NETLOOM_FAILPOINT;
let armed = false;

export function armFailpoints(): void {
  armed = wanted !== undefined;
}

export function failpoint(name: string): void {
  if (armed && wanted === name) process.kill(process.pid, 'SIGKILL');
}
