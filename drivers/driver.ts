// The driver interface. A driver turns the controller's records into kernel state and back;
// it knows nothing of the CLI, the HTTP APIs or the store. Options are parsed once, in
// parseOptions, into a typed readonly config; every apply verb is idempotent (create what
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

export interface Driver<C = unknown> {
  readonly name: string;
  readonly scope: 'local' | 'global';
  /** Whether networks of this driver get IPAM pools and endpoints get addresses. */
  readonly usesIpam: boolean;
  /** Whether sandboxes join it as a mode (host, none) rather than through an endpoint. */
  readonly sandboxMode?: 'host' | 'none';
  /** Called by the controller before anything is stored: throws NetloomError naming the bad option. */
  parseOptions(options: Readonly<Record<string, string>>, net: { id: string; name: string; internal: boolean }): C;
  /** Option keys the driver does not know: kept and ignored, as Docker does; the API names them in
   *  the create response's Warning. Absent: parseOptions refuses unknown keys itself. */
  unknownOptions?(options: Readonly<Record<string, string>>): string[];
  /** Prefix of the sandbox interface names of this network's endpoints (eth when undefined). */
  ifnamePrefix?(config: C): string | undefined;
  /** Options whose values must be unique across networks of this driver (e.g. the bridge name). */
  uniqueOptions?(config: C): Readonly<Record<string, string>>;
  /** Called once at daemon start, before any network verb. */
  init?(env: DriverEnv): Promise<void>;
  /** Rebuilds everything global the driver owns (firewall chains) from the full set of networks
   *  and their endpoints. `keep`: lines of its own chains (as ownFirewallLines gives them) no
   *  record explains, kept as they are after a salvage. */
  restore?(env: DriverEnv, nets: readonly DriverNetwork<C>[], keep?: KeptLines): Promise<void>;
  /** Its firewall rules as iptables-save prints them, per family and table, for the firewall
   *  guard and `netloom doctor` to compare with the kernel. */
  firewallLines?(nets: readonly DriverNetwork<C>[]): Record<4 | 6, Record<Table, string[]>>;
  /** Compares one network's kernel objects (links, addresses, routes) with what it should have. */
  check?(env: DriverEnv, net: DriverNetwork<C>): Promise<Finding[]>;
  /** The driver's part of an iptables-save of one table (its chains and jumps). */
  ownFirewallLines?(save: string, table: Table): string[];
  createNetwork?(env: DriverEnv, net: NetworkInfo, config: C): Promise<void>;
  deleteNetwork?(env: DriverEnv, net: NetworkInfo, config: C): Promise<void>;
  join?(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  leave?(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  /** Programs exactly these remote endpoints (multi-host drivers): FDB and neighbour entries. */
  setPeers?(env: DriverEnv, net: NetworkInfo, config: C, peers: readonly { ip: string; mac: string; vtep: string }[]): Promise<void>;
  /** `netloom doctor`: the FDB and neighbour entries the kernel holds against these peers. */
  checkPeers?(env: DriverEnv, net: NetworkInfo, config: C, peers: readonly { ip: string; mac: string; vtep: string }[]): Promise<Finding[]>;
  /** Removes an endpoint's published ports and nothing else (Docker's RevokeExternalConnectivity). */
  unpublish?(env: DriverEnv, net: NetworkInfo, config: C, ep: EndpointInfo): Promise<void>;
  /** Names of host links the driver made for a network and its endpoints (reconcile keeps these). */
  hostLinks?(net: NetworkInfo, config: C, endpointIds: readonly string[]): string[];
}

/** Host-side veth name of an endpoint: deterministic, so a crash never loses track of it. */
export const hostVethName = (endpointId: string): string => `nlv${endpointId.slice(0, 10)}`;

/** Runs every undo even when some fail, then reports all failures together: an ErrorList (each
 *  failure kept with its cause; the message is theirs joined with '; '). */
export async function undoAll(steps: readonly (() => Promise<void>)[]): Promise<void> {
  const failed = await attemptAll(steps);
  if (failed) throw failed;
}

/** Firewall lines (`-A CHAIN spec`) per family and table. */
export type KeptLines = Partial<Record<4 | 6, Partial<Record<Table, readonly string[]>>>>;
