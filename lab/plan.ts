// What `lab up` asks netloomd for, as API request bodies, in order. Pure: unit-tested.
import { netByKey, type Lab, type NetSpec, type NodeSpec } from './model.js';

export function networkBody(n: NetSpec): Record<string, unknown> {
  const pool: Record<string, string> = {};
  if (n.subnet) pool.Subnet = n.subnet;
  if (n.gateway) pool.Gateway = n.gateway;
  if (n.ipRange) pool.IPRange = n.ipRange;
  return {
    Name: n.name,
    Driver: n.driver,
    Internal: n.internal,
    IPAM: { Driver: 'default', Config: pool.Subnet ? [pool] : [] },
    Options: { ...n.options },
    Labels: { 'netloom.lab': n.name.slice(0, n.name.length - n.key.length - 1) },
  };
}

function endpoint(lab: Lab, node: NodeSpec, i: number): Record<string, unknown> {
  if (node.mode.kind !== 'networks') return {};
  const a = node.mode.attach[i];
  return {
    IPAMConfig: a.ip ? { IPv4Address: a.ip } : {},
    Aliases: [...a.aliases],
    // Published ports go with the first network, as `docker run -p` does with the container's one.
    ...(i === 0 && node.ports.length ? { Publish: [...node.ports] } : {}),
    ...(node.dns.length ? { Dns: [...node.dns] } : {}),
  };
}

export const networkName = (lab: Lab, key: string): string => netByKey(lab, key)?.name ?? key;

/** Sandbox create: the node's first network (or its mode), and the per-sandbox settings. The
 *  top-level Hostname, Links and ExtraHosts are the seed-flags fields (Docker's names); an older
 *  netloomd ignores them, which `lab up` detects afterwards. */
export function sandboxBody(lab: Lab, node: NodeSpec): Record<string, unknown> {
  const m = node.mode;
  const network = m.kind === 'networks' ? networkName(lab, m.attach[0].network) : m.kind === 'container' ? `container:${lab.name}-${m.target}` : m.kind;
  return {
    Name: node.sandbox,
    Network: network,
    EndpointConfig: endpoint(lab, node, 0),
    ...(node.dns.length ? { Dns: [...node.dns] } : {}),
    DnsSearch: [...node.dnsSearch],
    ...(node.hostname ? { Hostname: node.hostname } : {}),
    ...(node.links.length ? { Links: [...node.links] } : {}),
    ...(node.addHosts.length ? { ExtraHosts: [...node.addHosts] } : {}),
  };
}

/** Further networks after the first: one connect each. */
export function connectBodies(lab: Lab, node: NodeSpec): { network: string; body: Record<string, unknown> }[] {
  if (node.mode.kind !== 'networks') return [];
  return node.mode.attach.slice(1).map((a, j) => ({
    network: networkName(lab, a.network),
    body: { Container: node.sandbox, EndpointConfig: endpoint(lab, node, j + 1) },
  }));
}

/** Connect body for a node joining a network in a step: the file's settings for that attachment
 *  when it declares one, else the node's name as its alias. */
export function attachBody(lab: Lab, node: NodeSpec, net: string): Record<string, unknown> {
  const i = node.mode.kind === 'networks' ? node.mode.attach.findIndex((a) => a.network === net) : -1;
  if (i >= 0) return { Container: node.sandbox, EndpointConfig: { ...endpoint(lab, node, i), Publish: undefined } };
  const builtin = netByKey(lab, net)?.builtin;
  return { Container: node.sandbox, EndpointConfig: { Aliases: builtin ? [] : [node.key] } };
}

/** Nodes in creation order: a container-mode node after the node whose namespace it shares. */
export function creationOrder(lab: Lab): NodeSpec[] {
  const done = new Set<string>();
  const out: NodeSpec[] = [];
  const visit = (n: NodeSpec): void => {
    if (done.has(n.key)) return;
    done.add(n.key);
    if (n.mode.kind === 'container') {
      const target = lab.nodes.find((x) => x.key === (n.mode as { target: string }).target);
      if (target) visit(target);
    }
    out.push(n);
  };
  lab.nodes.forEach(visit);
  return out;
}

/** Nodes in creation levels: those with a namespace of their own first (any order within a level,
 *  so they may be made at once), then the container-mode nodes on them, and so on. */
export function creationLevels(lab: Lab): NodeSpec[][] {
  const depth = (n: NodeSpec): number => {
    let d = 0;
    for (let x: NodeSpec | undefined = n; x?.mode.kind === 'container' && d <= lab.nodes.length; d++) {
      const target: string = x.mode.target;
      x = lab.nodes.find((y) => y.key === target);
    }
    return d;
  };
  const levels: NodeSpec[][] = [];
  for (const n of creationOrder(lab)) (levels[depth(n)] ??= []).push(n);
  return levels.filter((l) => l?.length);
}
