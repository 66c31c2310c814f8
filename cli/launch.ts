// What bin/netloom.mjs's first line takes out of node's environment, put back for the programs the
// CLI starts (netloomd, sandbox exec's command, the lab's processes): Node 20 loads the
// NODE_EXTRA_CA_CERTS bundle at every start, about 30 ms where it is set, and the CLI speaks no
// TLS. README, Performance, measures it.

/** Where the launcher keeps NODE_EXTRA_CA_CERTS's value ("" when it was unset). */
export const SAVED_EXTRA_CA_CERTS = 'NETLOOM_NODE_EXTRA_CA_CERTS';

/** Puts NODE_EXTRA_CA_CERTS back from the launcher's copy; an empty copy means it was unset. */
export function restoreExtraCaCerts(env: NodeJS.ProcessEnv): void {
  const saved = env[SAVED_EXTRA_CA_CERTS];
  if (saved === undefined) return;
  delete env[SAVED_EXTRA_CA_CERTS];
  if (saved && env.NODE_EXTRA_CA_CERTS === undefined) env.NODE_EXTRA_CA_CERTS = saved;
}
