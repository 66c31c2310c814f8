// The system layer's interfaces: everything netloom does to the kernel goes through these.
// system/ holds the real implementation (rtnetlink, ip netns, iptables-restore, /proc/sys);
// system/fake/ holds an in-memory one with the same behaviour for unit tests.

/** Where a namespace is: the daemon's own, a named one under /run/netns, a process's, or any nsfs path. */
export type NsRef =
  | { readonly kind: 'self' }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'pid'; readonly pid: number }
  | { readonly kind: 'path'; readonly path: string };

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly kind?: string; // 'bridge', 'veth', 'vxlan', ... (undefined for lo/physical)
  readonly master?: number;
  readonly mtu: number;
  readonly mac: string;
  readonly up: boolean;
  readonly alias?: string; // IFLA_IFALIAS: netloom tags its links with it
}

export interface AddrInfo {
  readonly link: string;
  readonly cidr: string; // address with prefix length, e.g. 10.31.0.1/24
}

export interface RouteInfo {
  readonly dst: string; // CIDR, "default" for 0.0.0.0/0 and ::/0
  readonly gateway?: string;
  readonly link?: string;
  readonly family: 4 | 6;
}

export interface VxlanSpec {
  readonly name: string;
  readonly vni: number;
  /** Local VTEP address (the underlay address this host advertises). */
  readonly local: string;
  readonly port: number;
  readonly mtu: number;
  readonly master: string;
  readonly alias: string;
}

/** A static entry: FDB (MAC -> remote VTEP, on a vxlan device) or neighbour (IP -> MAC). */
export interface NeighEntry {
  readonly link: string;
  readonly mac: string;
  /** FDB: the remote VTEP; neighbour: the IP. */
  readonly ip: string;
  readonly fdb: boolean;
}

export interface VethSpec {
  readonly hostName: string;
  readonly peerName: string;
  readonly peerNs: NsRef;
  readonly peerMac?: string;
  readonly mtu?: number;
  readonly master?: string; // bridge the host end is enslaved to
  readonly alias: string;
}

/** One network namespace. Every method is idempotent the way an "ensure" is: adding what exists
 *  with the same identity succeeds, deleting what is gone succeeds. */
export interface NetHandle {
  readonly ns: NsRef;
  links(): Promise<LinkInfo[]>;
  link(name: string): Promise<LinkInfo | undefined>;
  /** A fixed `mac` matters: a bridge without one takes its lowest port's MAC, which changes as
   *  ports come and go and leaves sandboxes with a stale ARP entry for their gateway. */
  addBridge(name: string, opts: { mtu?: number; alias: string; mac?: string }): Promise<void>;
  addVeth(spec: VethSpec): Promise<void>;
  /** A VXLAN device with learning off, ARP proxy on, no multicast group, enslaved to `master`. */
  addVxlan(spec: VxlanSpec): Promise<void>;
  /** Permanent FDB and neighbour entries on one link (fdb: AF_BRIDGE with NTF_SELF). */
  neighbours(link: string, fdb: boolean): Promise<NeighEntry[]>;
  addNeighbour(e: NeighEntry): Promise<void>;
  delNeighbour(e: NeighEntry): Promise<void>;
  delLink(name: string): Promise<void>;
  /** Takes a link out of service without deleting it (a delete holds the kernel's RTNL lock for
   *  tens of ms): down, out of its bridge, its addresses removed (its routes go with the down),
   *  then renamed to `newName` so its name is free again. It keeps its alias. Gone: succeeds. */
  retire(name: string, newName: string): Promise<void>;
  setUp(name: string): Promise<void>;
  setMtu(name: string, mtu: number): Promise<void>;
  /** Bridge port hairpin mode: frames may leave by the port they came in (a sandbox reaching
   *  its own published port through a host address, with bridge netfilter on). */
  setHairpin(name: string, on: boolean): Promise<void>;
  addrs(link?: string): Promise<AddrInfo[]>;
  addAddr(link: string, cidr: string): Promise<void>;
  delAddr(link: string, cidr: string): Promise<void>;
  routes(): Promise<RouteInfo[]>;
  addRoute(route: RouteInfo): Promise<void>;
  delRoute(route: RouteInfo): Promise<void>;
  /** A link as connect leaves its sandbox end: its addresses, up, then its routes (all on this
   *  link) — what addAddr, setUp and addRoute in turn would do, fails as they would, in one batch. */
  configure(link: string, want: { readonly addrs: readonly string[]; readonly routes: readonly RouteInfo[] }): Promise<void>;
  close(): void;
}

export type Table = 'filter' | 'nat';

export interface Listener {
  readonly proto: 'tcp' | 'udp';
  readonly family: 4 | 6;
  /** Local address, canonical text; 0.0.0.0 or :: for any. */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

export interface Firewall {
  /** Apply a ruleset fragment for one family with iptables-restore --noflush (one batch). */
  restore(family: 4 | 6, text: string): Promise<void>;
  /** iptables-save of one table. */
  save(family: 4 | 6, table: Table): Promise<string>;
  /** Ensure `-j target` is the first rule of a built-in chain (a jump into netloom's chains). */
  ensureJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void>;
  /** Create a chain if it does not exist; an existing one keeps its rules. */
  ensureChain(family: 4 | 6, table: Table, chain: string): Promise<void>;
  removeJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void>;
  /** Delete one rule; a rule that is not there is success. */
  deleteRule(family: 4 | 6, table: Table, chain: string, spec: readonly string[]): Promise<void>;
}

export interface Namespaces {
  /** Create a named namespace as `ip netns add` does (lo down, unless `loUp`: then as `ip link set
   *  lo up` inside had followed); fails, leaving nothing, if the name exists or is no valid name. */
  add(name: string, opts?: { readonly loUp?: boolean }): Promise<void>;
  /** Make `name` another name for an existing namespace (container:<x> and host modes). */
  alias(name: string, target: NsRef): Promise<void>;
  del(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  list(): Promise<string[]>;
}

/** UTS namespaces (hostname, domainname) of sandboxes that have their own. */
export interface UtsNamespaces {
  /** Makes (or remakes) the sandbox's UTS namespace with these names; '' = no domain name. */
  add(sandbox: string, hostname: string, domainname: string): Promise<void>;
  /** Removes it; one that is gone is success. */
  del(sandbox: string): Promise<void>;
  exists(sandbox: string): Promise<boolean>;
}

export interface System {
  /** The daemon's own namespace ("the host"). */
  readonly host: NetHandle;
  /** A handle on links inside another namespace; close() it when done. */
  open(ns: NsRef): Promise<NetHandle>;
  readonly netns: Namespaces;
  readonly uts: UtsNamespaces;
  readonly firewall: Firewall;
  /** Write a sysctl in the daemon's namespace, e.g. net.ipv4.ip_forward=1 (a key with "/"
   *  separators, e.g. net/ipv4/conf/br.1/route_localnet, keeps dots in interface names). */
  sysctl(key: string, value: string): Promise<void>;
  /** Read one; undefined when it does not exist. */
  readSysctl(key: string): Promise<string | undefined>;
  /** Sockets bound in the daemon's namespace: TCP listeners and bound UDP sockets. */
  listeners(): Promise<Listener[]>;
  /** The process holding a socket (by inode), for error messages. */
  socketOwner(inode: number): Promise<{ pid: number; command: string } | undefined>;
  close(): void;
}
