// The lab as netloom understands it once the file is parsed and checked: typed, readonly, with
// every name already turned into the sandbox and network names netloomd will know. Pure.

import { describeNetem, type Netem } from './netem.js';

export const BUILTIN_NETWORKS = ['bridge', 'host', 'none'] as const;

export interface NetSpec {
  /** The key in the file (`mynet`), or `bridge` for the default bridge. */
  readonly key: string;
  /** The network's name in netloomd: `<lab>-<key>`; `bridge` keeps its name. */
  readonly name: string;
  readonly builtin: boolean;
  readonly driver: string;
  readonly subnet?: string;
  readonly gateway?: string;
  readonly ipRange?: string;
  readonly internal: boolean;
  readonly icc: boolean;
  readonly options: Readonly<Record<string, string>>;
}

export interface Attachment {
  readonly network: string; // NetSpec.key
  readonly ip?: string;
  readonly aliases: readonly string[];
  /** Impairment: a is the node, b the network (see lab/netem.ts). */
  readonly netem?: Netem;
}

export type NodeMode =
  | { readonly kind: 'networks'; readonly attach: readonly Attachment[] }
  | { readonly kind: 'host' }
  | { readonly kind: 'none' }
  | { readonly kind: 'container'; readonly target: string };

export interface Served {
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
}

export interface NodeSpec {
  readonly key: string;
  /** Its host in a multi-host lab (`hosts:`); undefined in a single-host lab. */
  readonly host?: string;
  /** The sandbox's name: `<lab>-<key>`. */
  readonly sandbox: string;
  readonly mode: NodeMode;
  readonly hostname?: string;
  readonly dns: readonly string[];
  readonly dnsSearch: readonly string[];
  readonly links: readonly string[];
  readonly addHosts: readonly string[];
  readonly ports: readonly string[];
  readonly serve: readonly Served[];
  readonly exec: readonly string[];
}

export interface LinkEnd {
  readonly node: string;
  readonly ifname: string;
  readonly ip?: string;
}

export interface LinkSpec {
  readonly a: LinkEnd;
  readonly b: LinkEnd;
  readonly netem?: Netem;
}

export type Probe = { readonly kind: 'icmp' } | { readonly kind: 'tcp' | 'udp'; readonly port: number };

export interface ReachSpec {
  readonly probe: Probe;
  readonly probeText: string;
  readonly nodes: readonly string[];
  readonly allow: readonly string[];
}

export type DnsAnswer = 'NXDOMAIN' | 'NODATA' | 'REFUSED' | 'SERVFAIL' | 'ANY' | readonly string[];

export interface DnsSpec {
  readonly from: string;
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'PTR';
  readonly answer: DnsAnswer;
}

export interface PortSpec {
  readonly from: string; // 'host' or a node key
  /** With from: host in a multi-host lab, the host whose namespace probes (default: the target
   *  node's host, else the first). */
  readonly host?: string;
  readonly to: string;
  readonly open: boolean;
}

export interface FileSpec {
  readonly node: string;
  readonly path: string;
  readonly contains?: string;
  readonly lacks?: string;
}

export interface CommandSpec {
  readonly node: string;
  readonly run: string;
  readonly exit?: number;
  readonly stdout?: string;
  readonly contains?: string;
}

/** Round trip time from one node to another, measured with ping. */
export interface RttSpec {
  readonly from: string;
  readonly to: string;
  readonly p50: string;
  readonly p50Ms: number;
  readonly tolerance: string;
  /** As a fraction of p50 (25% -> 0.25). */
  readonly toleranceFrac: number;
}

/** Packet loss from one node to another (echo requests without a reply), measured with ping. */
export interface LossSpec {
  readonly from: string;
  readonly to: string;
  readonly max: string;
  readonly maxFrac: number;
}

export interface Expectations {
  readonly reach: readonly ReachSpec[];
  readonly dns: readonly DnsSpec[];
  readonly ports: readonly PortSpec[];
  readonly files: readonly FileSpec[];
  readonly commands: readonly CommandSpec[];
  readonly rtt: readonly RttSpec[];
  readonly loss: readonly LossSpec[];
}

/** One fault or change a step makes, in the order written. */
export type Action =
  | { readonly kind: 'link'; readonly node: string; readonly ifname: string; readonly state: 'up' | 'down' }
  | { readonly kind: 'netem'; readonly target: string; readonly netem: Partial<Netem>; readonly clear: boolean }
  | { readonly kind: 'connect' | 'disconnect'; readonly node: string; readonly network: string }
  | { readonly kind: 'node'; readonly node: string; readonly state: 'stop' | 'start' }
  | { readonly kind: 'daemon'; readonly op: 'kill' | 'stop' | 'start' | 'restart'; readonly host?: string }
  | { readonly kind: 'etcd'; readonly op: 'stop' | 'start'; readonly member?: number }
  | { readonly kind: 'partition'; readonly hosts: readonly string[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'iptables'; readonly table: string; readonly chain?: string; readonly host?: string }
  | { readonly kind: 'exec'; readonly node: string; readonly run: string }
  | { readonly kind: 'wait'; readonly ms: number; readonly text: string };

export interface StepSpec {
  readonly name: string;
  readonly actions: readonly Action[];
  /** The step's expectations; `reach: same` puts the top-level reach blocks here. */
  readonly expect: Expectations;
  readonly withinMs: number;
  readonly within: string;
  readonly repeat: number;
  readonly everyMs: number;
}

/** Settings the lab needs from netloomd that an older daemon would silently drop. */
export type Requirement = 'hostname' | 'links' | 'add_hosts' | 'daemon' | 'dns' | 'netem';

export interface Lab {
  readonly name: string;
  readonly file: string;
  readonly description?: string;
  /** netloomd settings (daemon.json keys); in a multi-host lab, those every host has. */
  readonly daemon: Readonly<Record<string, unknown>>;
  /** A multi-host lab's settings per host, in full: the lab's, with `hosts.H.daemon` over them. */
  readonly hostDaemon: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly requires: readonly Requirement[];
  readonly networks: readonly NetSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly links: readonly LinkSpec[];
  readonly expect: Expectations;
  readonly steps: readonly StepSpec[];
  /** Multi-host labs: each host its own namespace and netloomd, on an underlay with etcd. */
  readonly hosts: readonly string[];
  readonly cluster: ClusterSpec;
}

export interface ClusterSpec {
  readonly etcdMembers: 1 | 3;
  /** The underlay's subnet: .1 (.2, .3) are etcd members, .11 onwards the hosts. */
  readonly underlay: string;
}

export const nodeByKey = (lab: Lab, key: string): NodeSpec | undefined => lab.nodes.find((n) => n.key === key);
export const netByKey = (lab: Lab, key: string): NetSpec | undefined => lab.networks.find((n) => n.key === key);

/** The node whose namespace a node lives in (container mode shares its target's). */
export function nsOwner(lab: Lab, key: string): NodeSpec {
  let n = nodeByKey(lab, key);
  for (let i = 0; n && n.mode.kind === 'container' && i < lab.nodes.length; i++) n = nodeByKey(lab, n.mode.target);
  if (!n) throw new Error(`no node "${key}"`);
  return n;
}

/** Networks a node is attached to (through its namespace owner). */
export function attachmentsOf(lab: Lab, key: string): readonly Attachment[] {
  const o = nsOwner(lab, key);
  return o.mode.kind === 'networks' ? o.mode.attach : [];
}

/** Which of the settings an older netloomd drops this lab uses. */
export function requirementsOf(lab: Lab): Requirement[] {
  const r = new Set<Requirement>(lab.requires);
  if ([lab.daemon, ...Object.values(lab.hostDaemon)].some((d) => Object.keys(d).length)) r.add('daemon');
  if (lab.links.some((l) => l.netem) || lab.nodes.some((n) => n.mode.kind === 'networks' && n.mode.attach.some((a) => a.netem))) r.add('netem');
  for (const n of lab.nodes) {
    if (n.hostname) r.add('hostname');
    if (n.links.length) r.add('links');
    if (n.addHosts.length) r.add('add_hosts');
    if (n.dns.length && !attachmentsOf(lab, n.key).some((a) => a.network !== 'bridge')) r.add('dns');
  }
  return [...r].sort();
}

/** Number of checks in the expectations (a reach block counts its ordered pairs). */
export function checkCount(e: Expectations): number {
  const pairs = e.reach.reduce((s, r) => s + r.nodes.length * (r.nodes.length - 1), 0);
  return pairs + e.dns.length + e.ports.length + e.files.length + e.commands.length + e.rtt.length + e.loss.length;
}

/** An action as one line (reports, progress). */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'link':
      return `link ${a.node}:${a.ifname} ${a.state}`;
    case 'netem':
      return `netem ${a.target} ${a.clear ? 'clear' : describeNetem(a.netem)}`;
    case 'connect':
    case 'disconnect':
      return `${a.kind} ${a.node} ${a.network}`;
    case 'node':
      return `node ${a.node} ${a.state}`;
    case 'daemon':
      return `daemon ${a.op}${a.host ? ` on ${a.host}` : ''}`;
    case 'etcd':
      return `etcd ${a.op}${a.member !== undefined ? ` member ${a.member}` : ''}`;
    case 'partition':
      return `partition ${a.hosts.join(', ')}`;
    case 'heal':
      return 'heal';
    case 'iptables':
      return `iptables flush ${a.table}${a.chain ? ` ${a.chain}` : ''}${a.host ? ` on ${a.host}` : ''}`;
    case 'exec':
      return `exec ${a.node}: ${a.run}`;
    case 'wait':
      return `wait ${a.text}`;
  }
}
