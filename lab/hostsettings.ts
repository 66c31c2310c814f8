// A lab's netloomd settings (`daemon:`, Docker's daemon.json keys) and, in a multi-host lab, each
// host's (`hosts.H.daemon`). Pure; errors at FILE:LINE:COL.
import type { Located, Path } from './labschema.js';

/** daemon.json keys a multi-host lab sets itself on every host's netloomd (lab/cluster.ts). */
export const CLUSTER_KEYS = ['cluster-store', 'advertise-addr', 'node-name'] as const;

/** The lab's daemon settings. Single-host: the file's. Multi-host: the file's go to every host,
 *  `hosts.H.daemon` adds to or overrides them for H; `daemon` is then what every host has (a key
 *  some host overrides is left out) and `hostDaemon` each host's own, in full. The cluster keys
 *  the lab sets itself cannot be given. */
export function daemonSettings(
  common: Record<string, unknown>,
  perHost: Readonly<Record<string, { daemon?: Record<string, unknown> }>>,
  loc: Located,
): { daemon: Record<string, unknown>; hostDaemon: Record<string, Record<string, unknown>> } {
  const hosts = Object.keys(perHost);
  if (!hosts.length) return { daemon: common, hostDaemon: {} };
  const own = (path: Path, d: Record<string, unknown>): void => {
    const k = CLUSTER_KEYS.find((x) => x in d);
    if (k)
      throw loc.error(
        [...path, k],
        `daemon key "${k}" is set by the lab itself on every host (${CLUSTER_KEYS.join(', ')}: etcd on the underlay, the host's underlay address and name): drop it`,
        true,
      );
  };
  own(['daemon'], common);
  const hostDaemon: Record<string, Record<string, unknown>> = {};
  for (const h of hosts) {
    const d = perHost[h].daemon ?? {};
    own(['hosts', h, 'daemon'], d);
    hostDaemon[h] = { ...common, ...d };
  }
  const overridden = new Set(hosts.flatMap((h) => Object.keys(perHost[h].daemon ?? {})));
  return { daemon: Object.fromEntries(Object.entries(common).filter(([k]) => !overridden.has(k))), hostDaemon };
}
