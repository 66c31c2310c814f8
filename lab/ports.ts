// Where a port expectation's probe goes: for NODE:PORT, each host binding of the node's published
// port, as an address seen from where the probe runs. Pure.
import type { Binding } from './facts.js';

/** Where a probe runs, seen from the host of the node that publishes the port: on that host
 *  (its namespace, or a single-host lab's anywhere), or elsewhere (another host of a multi-host
 *  lab, or a node there), reaching that host at its underlay address. */
export type Vantage = { readonly kind: 'local' } | { readonly kind: 'remote'; readonly host: string; readonly hostAddress: string };

const ANY = new Set(['', '0.0.0.0']);
const loopback = (ip: string): boolean => ip.startsWith('127.');

/** The bindings covering `port`/`proto` as ADDRESS:PORT to try: locally a binding's address
 *  (loopback for one on every address); remotely the host's underlay address for one on every
 *  address, the binding's own address otherwise, and none for a loopback binding (out of reach
 *  from another machine: listed in `unreachable`). `published`: some binding covers the port. */
export function bindingTargets(
  bindings: readonly Binding[],
  port: number,
  proto: string,
  v: Vantage,
): { published: boolean; targets: string[]; unreachable: string[] } {
  const covering = bindings.filter((x) => x.proto === proto && port >= x.containerPort && port < x.containerPort + x.count);
  const targets: string[] = [];
  const unreachable: string[] = [];
  for (const x of covering) {
    const hostPort = x.hostPort + port - x.containerPort;
    if (v.kind === 'local') targets.push(`${ANY.has(x.hostIP) ? '127.0.0.1' : x.hostIP}:${hostPort}`);
    else if (ANY.has(x.hostIP)) targets.push(`${v.hostAddress}:${hostPort}`);
    else if (loopback(x.hostIP)) unreachable.push(`${x.hostIP}:${hostPort}`);
    else targets.push(`${x.hostIP}:${hostPort}`);
  }
  return { published: covering.length > 0, targets, unreachable };
}
