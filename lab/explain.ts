// Why a probe's outcome differs from the expectation, in one line, from what netloom knows of the
// lab: shared networks, ICC, internal networks, point-to-point links, served and published ports.
// Pure: unit-tested.
import { netByKey, nodeByKey, nsOwner, type Lab, type Probe } from './model.js';
import { networksOf, type Facts } from './facts.js';

const linked = (lab: Lab, a: string, b: string): boolean => lab.links.some((l) => (l.a.node === a && l.b.node === b) || (l.a.node === b && l.b.node === a));

const modeOf = (lab: Lab, key: string): string => nsOwner(lab, key).mode.kind;

export function explainReach(lab: Lab, facts: Facts, probe: Probe, from: string, to: string, actual: boolean, tried: readonly string[]): string {
  const ownA = nsOwner(lab, from).key;
  const ownB = nsOwner(lab, to).key;
  const netsA = networksOf(lab, from);
  const netsB = networksOf(lab, to);
  const shared = netsA.filter((n) => netsB.includes(n));
  const p2p = linked(lab, ownA, ownB);
  if (ownA === ownB)
    return `${from} and ${to} share one namespace (network_mode container:…), so ${actual ? 'they reach each other over it' : 'only a listener can be missing'}`;
  if (actual) {
    if (modeOf(lab, from) === 'host' || modeOf(lab, to) === 'host')
      return `${modeOf(lab, from) === 'host' ? from : to} has network_mode host: the host reaches every bridge it owns`;
    if (shared.length) return `${from} and ${to} share network ${shared.join(', ')}${shared.some((n) => !netByKey(lab, n)?.icc) ? '' : ' (ICC on)'}`;
    if (p2p) return `${from} and ${to} are wired by a point-to-point link`;
    return `${from} reached ${to} though they share no network: traffic crossed the host between networks`;
  }
  if (modeOf(lab, from) === 'none') return `${from} has network_mode none: only lo`;
  if (modeOf(lab, to) === 'none' && !p2p) return `${to} has network_mode none: only lo`;
  if (!tried.length) return `${to} has no address to probe`;
  if (probe.kind !== 'icmp') {
    const target = nodeByKey(lab, ownB);
    const owners = [nodeByKey(lab, to), target].filter((n) => n?.serve.some((s) => s.proto === probe.kind && s.port === probe.port));
    if (!owners.length) return `nothing serves ${probe.kind}/${probe.port} in ${to} (add it to the node's serve:)`;
  }
  if (shared.length) {
    const off = shared.filter((n) => !netByKey(lab, n)?.icc);
    if (off.length === shared.length) return `network ${off.join(', ')} has ICC off: only linked pairs pass`;
    return `${from} and ${to} share network ${shared.join(', ')}, yet no answer from ${tried.join(', ')} within 1 s`;
  }
  if (p2p) return `the point-to-point link between ${from} and ${to} did not answer (${tried.join(', ')})`;
  const internal = netsB.filter((n) => netByKey(lab, n)?.internal);
  const where = (nets: string[], key: string): string => (nets.length ? nets.join(', ') : modeOf(lab, key));
  return `no shared network: ${from} is on ${where(netsA, from)}, ${to} on ${where(netsB, to)}${internal.length ? ` (${internal.join(', ')} internal)` : ''}`;
}

/** Why a port expectation was not met. */
export function explainPort(lab: Lab, facts: Facts, node: string | undefined, port: number, proto: string, open: boolean, published: boolean): string {
  if (open) return `something answered on ${proto}/${port}`;
  if (node && !published) return `port ${port}/${proto} of ${node} is not published (add it to the node's ports:)`;
  if (!node) {
    const holders = Object.values(facts.nodes).filter((f) => f.ports.some((b) => b.proto === proto && port >= b.hostPort && port < b.hostPort + b.count));
    if (!holders.length) return `no node of the lab publishes ${port}/${proto} on the host`;
  }
  const n = node ? nodeByKey(lab, node) : undefined;
  if (n && !n.serve.some((s) => s.proto === proto && s.port === port)) return `nothing serves ${proto}/${port} in ${node} (add it to serve:)`;
  return `no answer within 1 s${node ? ` (bindings: ${facts.nodes[node]?.ports.map((b) => `${b.hostIP || '*'}:${b.hostPort}->${b.containerPort}/${b.proto}`).join(', ') || 'none'})` : ''}`;
}
