// The driver interface. A driver turns the controller's records into kernel state and back;
// it knows nothing of the CLI, the HTTP APIs or the store. Options are parsed once, in
// options.parse, into a typed readonly config; every apply verb is idempotent (create what
// exists is success, delete what is gone is success) because reconcile after a crash calls
// them again.
import type { Logger } from '../common/log.js';
import type { PoolRecord } from '../ipam/types.js';
import type { PortBinding } from '../common/ports.js';
import type { NsRef, System, Table } from '../system/types.js';
import { attemptAll } from '../common/errors.js';

export interface DriverEnv {
  readonly sys: System;
  readonly log: Logger;
  /** Tag written into IFLA_IFALIAS of every link netloom creates, so reconcile can tell ours apart. */
  tag(kind: 'net' | 'ep', id: string): string;
  /** Set when the controller runs a reaper (controller/reaper.ts): a host link the driver has
   *  retired (NetHandle.retire: it carries nothing and its name is free) is handed over and
   *  deleted later, when the daemon is idle. Unset: drivers delete links at once. */
  reap?(name: string): void;
}

export interface NetworkInfo {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
  readonly enableIPv6: boolean;
  readonly pools: readonly PoolRecord[];
}

export interface EndpointInfo {
  readonly id: string;
  readonly sandboxNs: NsRef;
  /** Interface name inside the sandbox: eth0, eth1, ... in connection order. */
  readonly ifname: string;
  readonly mac: string;
  readonly ipv4?: string; // address/prefix
  readonly ipv6?: string;
  /** True for the sandbox's first (gateway-providing) network. */
  readonly defaultRoute: boolean;
  /** The sandbox end stays in the host namespace, named `ifname`, unconfigured: the caller (a
   *  Docker engine, through Join) moves it into the container and sets its addresses and routes. */
  readonly external?: boolean;
  /** Published ports (host ports already chosen and checked free by the controller). */
  readonly ports?: readonly PortBinding[];
  /** Legacy links (--link) from this endpoint's sandbox to others on the same network: with
   *  inter-container traffic off, the pair may still talk on the linked one's exposed ports. */
  readonly links?: readonly LinkPeer[];
}

export interface LinkPeer {
  /** The linked sandbox's IPv4 address (no prefix). */
  readonly address: string;
  /** Its exposed ports; empty = every port. */
  readonly ports: readonly { readonly proto: 'tcp' | 'udp'; readonly port: number; readonly end: number }[];
}

/** One difference between what the records say and what the kernel has (`netloom doctor`). */
export interface Finding {
  readonly kind: 'namespace' | 'link' | 'address' | 'route' | 'rule' | 'port' | 'orphan' | 'record' | 'peer';
  /** What it is about: a link, a sandbox interface, a rule. */
  readonly object: string;
  readonly problem: string;
}

export interface DriverNetwork<C = unknown> {
  readonly net: NetworkInfo;
  readonly config: C;
  readonly endpoints: readonly EndpointInfo[];
}

/** The identity of a network its options are parsed against. */
export interface NetworkMeta {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
}

/** A remote endpoint as a multi-host driver programs it. */
export interface Peer {
  readonly ip: string;
  readonly mac: string;
  readonly vtep: string;
}

/** What a driver supports. The controller tests these, never a driver's name. */
export interface Capabilities {
  readonly scope: 'local' | 'global';
  /** Networks get IPAM pools and endpoints get addresses. */
  readonly usesIpam: boolean;
  /** Sandboxes join it as a mode (host, none) rather than through an endpoint. */
  readonly sandboxMode?: 'host' | 'none';
  /** The embedded DNS serves its user-defined networks (it listens on the gateway address). */
  readonly dns: boolean;
  /** Endpoints may publish ports (-p). */
  readonly publish: boolean;
  /** An endpoint may give its sandbox the default route (else the network reaches only its members). */
  readonly defaultRoute: boolean;
}

/** Docker's option strings, parsed once per network into the driver's typed config. */
export interface DriverOptions<C> {
  /** Called before anything is stored: throws NetloomError naming the bad option. */
  parse(options: Readonly<Record<string, string>>, net: NetworkMeta): C;
  /** Option keys the driver does not know: kept and ignored, as Docker does; the API names them in
   *  the create response's Warning. Absent: parse refuses unknown keys itself. */
  unknown?(options: Readonly<Record<string, string>>): string[];
  /** Options whose values must be unique across networks of this driver (e.g. the bridge name). */
  unique?(config: C): Readonly<Record<string, string>>;
  /** Prefix of the sandbox interface names of this network's endpoints (eth when undefined). */
  ifnamePrefix?(config: C): string | undefined;
  /** Host address a published port binds to when --publish names none ('0.0.0.0': every address). */
  hostBinding?(config: C): string;
  /** Capabilities one network's options take away (bridge inhibit_ipv4: no gateway, so no DNS). */
  capabilities?(config: C): Partial<Capabilities>;
  /** The options of the driver's predefined network as the daemon's flags describe it (the
   *  default bridge: dockerd's -b, --mtu, --icc, --ip-masq). */
  predefined?(s: PredefinedSettings): Record<string, string>;
}

/** Daemon settings a predefined network's options are made from. */
export interface PredefinedSettings {
  readonly name: string;
  readonly mtu: number;
  readonly icc: boolean;
  readonly masquerade: boolean;
}

/** Network and endpoint verbs: each idempotent, each delete undoing exactly its create. */
export interface Lifecycle<C> {
  createNetwork(env: DriverEnv, net: NetworkInfo, config: C): Promise<void>;
  deleteNetwork(env: DriverEnv, net: NetworkInfo, config: C): Promise<void>;
  join(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  leave(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  /** Names of host links the driver made for a network and its endpoints (reconcile keeps these). */
  hostLinks(net: NetworkInfo, config: C, endpointIds: readonly string[]): string[];
}

/** A driver's firewall (netavark's FirewallDriver): it renders its rules, owns its chains (their
 *  names never leave the driver) and rebuilds them whole. */
export interface Firewaller<C> {
  /** Rebuilds every chain the driver owns from the full set of its networks and their endpoints.
   *  `keep`: lines of its own chains (as ownLines gives them) no record explains, kept as they
   *  are after a salvage. */
  restore(env: DriverEnv, nets: readonly DriverNetwork<C>[], keep?: KeptLines): Promise<void>;
  /** Its rules as iptables-save prints them, per family and table, for the firewall guard and
   *  `netloom doctor` to compare with the kernel. */
  lines(nets: readonly DriverNetwork<C>[]): Record<4 | 6, Record<Table, string[]>>;
  /** The driver's part of an iptables-save of one table (its chains and jumps). */
  ownLines(save: string, table: Table): string[];
  /** Removes an endpoint's published ports and nothing else (Docker's RevokeExternalConnectivity). */
  unpublish?(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  /** Chains whose rules after the first compare as a multiset (order carries no meaning). */
  readonly unorderedChains?: ReadonlySet<string>;
  /** Whether one of its lines is a published port's (doctor says "port" rather than "rule"). */
  isPortLine?(line: string): boolean;
}

/** `netloom doctor`: one network's kernel objects (links, addresses, routes) against the records. */
export interface Doctor<C> {
  check(env: DriverEnv, net: DriverNetwork<C>): Promise<Finding[]>;
}

/** Multi-host drivers: the remote endpoints of a network. */
export interface Peers<C> {
  /** Programs exactly these remote endpoints: FDB and neighbour entries. */
  set(env: DriverEnv, net: NetworkInfo, config: C, peers: readonly Peer[]): Promise<void>;
  /** `netloom doctor`: the entries the kernel holds against these peers. */
  check(env: DriverEnv, net: NetworkInfo, config: C, peers: readonly Peer[]): Promise<Finding[]>;
}

export interface Driver<C = unknown> {
  readonly name: string;
  readonly caps: Capabilities;
  readonly options: DriverOptions<C>;
  /** Called once at daemon start, before any network verb. */
  init?(env: DriverEnv): Promise<void>;
  /** Absent: the driver makes no kernel objects (host, null). */
  readonly lifecycle?: Lifecycle<C>;
  /** Absent: no rules (and, with netloomd --iptables=false, none compared). */
  readonly firewall?: Firewaller<C>;
  readonly doctor?: Doctor<C>;
  readonly peers?: Peers<C>;
  /** Multi-host drivers: the cluster they keep (absent on local drivers). */
  readonly cluster?: ClusterDriver;
}

/** Host-side veth name of an endpoint: deterministic, so a crash never loses track of it. */
export const hostVethName = (endpointId: string): string => `nlv${endpointId.slice(0, 10)}`;

/** What a retired link of an endpoint or network is renamed to until the reaper deletes it. */
export const retiredName = (id: string): string => `nlr${id.slice(0, 10)}`;

/** Runs every undo even when some fail, then reports all failures together: an ErrorList (each
 *  failure kept with its cause; the message is theirs joined with '; '). */
export async function undoAll(steps: readonly (() => Promise<void>)[]): Promise<void> {
  const failed = await attemptAll(steps);
  if (failed) throw failed;
}

/** Firewall lines (`-A CHAIN spec`) per family and table. */
export type KeptLines = Partial<Record<4 | 6, Partial<Record<Table, readonly string[]>>>>;

// Multi-host drivers (libnetwork's EventNotify idea). A driver whose networks span hosts keeps
// the cluster state itself, tells the controller when it changed, and answers what the
// controller needs to know; the controller has no driver-specific branch. Optional: a driver
// without these is local to this host.

/** What the controller gives a cluster member when it starts it. */
export interface ClusterEvents {
  /** Runs fn in the controller's serial queue. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** Cluster state changed: the controller makes its records, peers and DNS match (run in serial). */
  changed(): Promise<void>;
}

/** A local endpoint as a cluster announces it. */
export interface LocalEndpoint {
  readonly id: string;
  readonly network: string;
  readonly sandbox: string;
  readonly ipv4?: string; // address/prefix
  readonly mac: string;
  readonly aliases: readonly string[];
}

/** A network defined cluster-wide, which every host mirrors in its own records. */
export interface ClusterNetwork {
  readonly id: string;
  readonly name: string;
  readonly subnet: string;
  readonly gateway: string;
  /** Driver options as the defining host fixed them. */
  readonly options: Readonly<Record<string, string>>;
}

/** An endpoint as the cluster holds it; `vtep`: the underlay address of its host. */
export interface ClusterEndpoint {
  readonly id: string;
  readonly name: string;
  readonly ip: string; // address/prefix
  readonly mac: string;
  readonly aliases: readonly string[];
  readonly hostId: string;
  readonly hostName: string;
  readonly vtep: string;
}

/** This host's membership of a cluster, as the controller uses it. */
export interface ClusterMember {
  readonly hostId: string;
  start(events: ClusterEvents): Promise<void>;
  close(): Promise<void>;
  /** Takes a new endpoint's address cluster-wide; undefined when the network has no IPv4 pool. */
  allocate(net: NetworkInfo, endpointId: string, wanted?: string): Promise<string | undefined>;
  release(networkId: string, ip: string): Promise<void>;
  announce(ep: LocalEndpoint): Promise<void>;
  withdraw(ep: LocalEndpoint): Promise<void>;
  /** Removes a network's definition (refused while any host has an endpoint on it, unless force). */
  undefine(net: { readonly id: string; readonly name: string }, force?: boolean): Promise<void>;
  /** Announces these local endpoints where the cluster lacks them; drops own records none explains. */
  syncLocal(eps: readonly LocalEndpoint[]): Promise<void>;
  networks(): ClusterNetwork[];
  /** Every endpoint of a network, this host's included. */
  endpoints(networkId: string): ClusterEndpoint[];
  /** Hosts by node ID: display name and underlay address. */
  hosts(): { readonly id: string; readonly name: string; readonly address: string }[];
}

export interface ClusterDriver {
  /** Fixes what a new network's options leave to the driver (e.g. a VNI), cluster-wide when there
   *  is a cluster; `others`: the options of this host's other networks of the driver. */
  defineNetwork?(
    net: { readonly id: string; readonly name: string; readonly created: string },
    pools: readonly PoolRecord[],
    options: Readonly<Record<string, string>>,
    others: readonly Readonly<Record<string, string>>[],
  ): Promise<Record<string, string>>;
  /** This host's cluster membership; undefined on a single host. */
  clusterMember?(): ClusterMember | undefined;
}

export const clusterMemberOf = (d: { readonly cluster?: ClusterDriver }): ClusterMember | undefined => d.cluster?.clusterMember?.();
