// What the running lab looks like, read from netloomd (sandboxes, networks) and, for the
// point-to-point links netloomd does not know, from the file. Explanations and the picture use it.
import { api } from '../cli/client.js';
import { addressOf } from '../common/cidr.js';
import { attachmentsOf, nsOwner, type Lab } from './model.js';
import { socketFor, type LabState } from './runtime.js';

export interface Binding {
  readonly proto: string;
  readonly hostIP: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly count: number;
}

export interface Iface {
  readonly ifname: string;
  /** A lab network key, or `link` for a point-to-point veth. */
  readonly network: string;
  readonly address: string; // with prefix
}

export interface NodeFacts {
  readonly key: string;
  readonly ifaces: readonly Iface[];
  readonly ports: readonly Binding[];
}

export interface NetFacts {
  readonly key: string;
  readonly subnet?: string;
  readonly gateway?: string;
}

export interface Facts {
  readonly nodes: Readonly<Record<string, NodeFacts>>;
  readonly networks: Readonly<Record<string, NetFacts>>;
}

interface SandboxView {
  Networks: Record<string, { Interface?: string; IPv4Address: string; Gateway?: string; Ports?: Binding[] }>;
}

/** `socketOf`: the netloomd that knows a node (its host's, in a multi-host lab). */
export async function readFacts(lab: Lab, socket: string, socketOf: (node: string) => string = () => socket): Promise<Facts> {
  const enc = encodeURIComponent;
  const networks: Record<string, NetFacts> = {};
  for (const n of lab.networks) {
    const v = await api<{ IPAM: { Config: { Subnet: string; Gateway?: string }[] } }>(socket, 'GET', `/networks/${enc(n.name)}`).catch(() => undefined);
    const c = v?.IPAM.Config.find((x) => !x.Subnet.includes(':'));
    networks[n.key] = { key: n.key, ...(c ? { subnet: c.Subnet, ...(c.Gateway ? { gateway: c.Gateway } : {}) } : {}) };
  }
  const byName = new Map(lab.networks.map((n) => [n.name, n.key]));
  const nodes: Record<string, NodeFacts> = {};
  // One list per netloomd rather than a request per node; one not listed (not ready) is asked for.
  const listed = new Map<string, SandboxView>();
  for (const sock of new Set(lab.nodes.map((n) => socketOf(nsOwner(lab, n.key).key)))) {
    for (const v of await api<(SandboxView & { Name: string })[]>(sock, 'GET', '/sandboxes')) listed.set(`${sock}\u0000${v.Name}`, v);
  }
  for (const node of lab.nodes) {
    const owner = nsOwner(lab, node.key);
    const sock = socketOf(owner.key);
    const v = listed.get(`${sock}\u0000${owner.sandbox}`) ?? (await api<SandboxView>(sock, 'GET', `/sandboxes/${enc(owner.sandbox)}`));
    const ifaces: Iface[] = Object.entries(v.Networks)
      .filter(([, e]) => e.IPv4Address)
      .map(([net, e]) => ({ ifname: e.Interface ?? '?', network: byName.get(net) ?? net, address: e.IPv4Address }));
    for (const l of lab.links) {
      for (const end of [l.a, l.b]) if (end.node === owner.key && end.ip) ifaces.push({ ifname: end.ifname, network: 'link', address: end.ip });
    }
    nodes[node.key] = { key: node.key, ifaces, ports: Object.values(v.Networks).flatMap((e) => e.Ports ?? []) };
    // Network inspect shows a gateway only where the user gave one (Docker 20.10); a sandbox's
    // view always has its networks' gateways.
    for (const [net, e] of Object.entries(v.Networks)) {
      const key = byName.get(net);
      const known = key ? networks[key] : undefined;
      if (known && !known.gateway && e.Gateway) networks[key!] = { ...known, gateway: e.Gateway };
    }
  }
  return { nodes, networks };
}

/** The addresses a probe to a node tries: its own, or for a host-mode node the lab host's
 *  gateways on the lab's networks (it shares the host's stack). */
export function targetAddresses(lab: Lab, facts: Facts, key: string): string[] {
  const owner = nsOwner(lab, key);
  if (owner.mode.kind === 'host')
    return Object.values(facts.networks)
      .map((n) => n.gateway)
      .filter((g): g is string => !!g);
  return (facts.nodes[key]?.ifaces ?? []).map((i) => addressOf(i.address));
}

/** The facts of a running lab, each node asked of its own host's netloomd. */
export const labFacts = (lab: Lab, s: LabState): Promise<Facts> => readFacts(lab, s.socket, (k) => socketFor(lab, s, k));

export const networksOf = (lab: Lab, key: string): string[] => attachmentsOf(lab, key).map((a) => a.network);
