// An in-memory System for unit tests, close enough to the kernel for the controller: namespaces
// live while they have a name (self always), a veth pair dies with either end or either end's
// namespace, an address on an up link brings its connected route, a gateway must be reachable,
// and the firewall interprets iptables-restore --noflush input. Every call can be made to fail
// (failNext) so tests can prove rollback, and snapshot() gives the whole state as plain data.
import { cidrOf, contains, formatCidr, parseIp } from '../../common/cidr.js';
import type { AddrInfo, LinkInfo, Namespaces, NetHandle, NsRef, RouteInfo, System, VethSpec } from '../types.js';
import { FakeFirewall, type FirewallSnapshot } from './firewall.js';

interface Link {
  index: number;
  name: string;
  kind?: string;
  master?: Link;
  mtu: number;
  mac: string;
  up: boolean;
  alias?: string;
  peer?: Link;
  ns: Ns;
}

class Ns {
  readonly names = new Set<string>();
  readonly links = new Map<string, Link>();
  addrs: AddrInfo[] = [];
  routes: RouteInfo[] = [];
  alive = true;
  private nextIndex = 1;
  constructor(readonly pinned: boolean) {
    this.add({ name: 'lo', mtu: 65536, mac: '00:00:00:00:00:00', up: false });
  }
  add(p: Omit<Link, 'index' | 'ns'>): Link {
    const l: Link = { ...p, index: this.nextIndex++, ns: this };
    this.links.set(l.name, l);
    return l;
  }
}

export interface FakeCall {
  readonly method: string;
  readonly detail: string;
}

export interface NamespaceSnapshot {
  names: string[];
  links: { name: string; kind?: string; master?: string; mtu: number; mac: string; up: boolean; alias?: string; peer?: string }[];
  addrs: AddrInfo[];
  routes: RouteInfo[];
}

export interface FakeSnapshot {
  namespaces: Record<string, NamespaceSnapshot>;
  firewall: FirewallSnapshot;
  sysctls: Record<string, string>;
}

const linkNotFound = (name: string): Error => new Error(`link "${name}" not found: ENODEV`);
const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);
const sortBy = <T>(xs: T[]): T[] => xs.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** The prefix route the kernel adds for an address on an up link (none for /32, /128 and lo). */
function connectedRoute(link: Link, cidr: string): RouteInfo | undefined {
  const [ip, p] = cidr.split('/');
  const addr = parseIp(ip);
  if (!addr || link.name === 'lo' || Number(p) >= (addr.family === 4 ? 32 : 128)) return undefined;
  return { dst: formatCidr(cidrOf(addr, Number(p))), link: link.name, family: addr.family };
}

function addConnected(ns: Ns, link: Link): void {
  if (!link.up) return;
  for (const a of ns.addrs.filter((x) => x.link === link.name)) {
    const r = connectedRoute(link, a.cidr);
    if (r && !ns.routes.some((x) => x.dst === r.dst && x.link === r.link)) ns.routes.push(r);
  }
}

/** Removes a link and everything that hangs on it; a veth takes its peer with it. */
function removeLink(l: Link): void {
  const ns = l.ns;
  if (ns.links.get(l.name) !== l) return;
  ns.links.delete(l.name);
  ns.addrs = ns.addrs.filter((a) => a.link !== l.name);
  ns.routes = ns.routes.filter((r) => r.link !== l.name);
  for (const x of ns.links.values()) if (x.master === l) x.master = undefined;
  if (l.peer) removeLink(l.peer);
}

export class FakeSystem implements System {
  readonly host: NetHandle;
  readonly netns: Namespaces;
  readonly firewall: FakeFirewall;
  /** Every system call, in order, with what it was called on: tests sweep failures over these. */
  readonly calls: FakeCall[] = [];
  private readonly self = new Ns(true);
  private readonly spaces = new Set<Ns>([this.self]);
  private readonly failures = new Map<string, { skip: number; err?: Error }[]>();
  private readonly sysctls = new Map<string, string>();
  private readonly handles = new Set<FakeHandle>();
  private macs = 0;

  constructor(opts: { uplink?: boolean } = {}) {
    const lo = this.self.links.get('lo')!;
    lo.up = true;
    this.self.addrs.push({ link: 'lo', cidr: '127.0.0.1/8' });
    if (opts.uplink !== false) {
      const eth0 = this.self.add({ name: 'eth0', mtu: 1500, mac: '52:54:00:12:34:56', up: true });
      this.self.addrs.push({ link: 'eth0', cidr: '10.0.2.15/24' });
      addConnected(this.self, eth0);
      this.self.routes.push({ dst: 'default', gateway: '10.0.2.2', link: 'eth0', family: 4 });
    }
    this.host = new FakeHandle(this, { kind: 'self' }, this.self);
    this.firewall = new FakeFirewall((method, detail) => this.enter(method, detail));
    this.netns = this.namespaces();
  }

  /** Makes the next call of `method` (after `skip` successful ones) throw `err`, changing nothing.
   *  Names: handle methods ('addVeth', 'addAddr', ...), 'open', 'sysctl', firewall methods
   *  ('restore', 'ensureJump', ...) and 'netns.add', 'netns.alias', 'netns.del', ... */
  failNext(method: string, err?: Error, skip = 0): void {
    const m = method.replace(/^firewall\./, '');
    this.failures.set(m, [...(this.failures.get(m) ?? []), { skip, err }]);
  }

  /** Records the call and throws if a failure is armed for it. */
  enter(method: string, detail: string): void {
    this.calls.push({ method, detail });
    const queue = this.failures.get(method);
    const f = queue?.[0];
    if (!f) return;
    if (f.skip > 0) {
      f.skip -= 1;
      return;
    }
    queue.shift();
    throw f.err ?? new Error(`${method} ${detail}: injected failure: EIO`);
  }

  /** Handles opened with open() and not closed yet. */
  get openHandles(): number {
    return this.handles.size;
  }

  nextMac(): string {
    const n = ++this.macs;
    return ['02', '00', '00', n >>> 16, (n >>> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0')).join(':');
  }

  resolve(ref: NsRef): Ns {
    let name: string | undefined;
    if (ref.kind === 'self') return this.self;
    if (ref.kind === 'named') name = ref.name;
    else if (ref.path === '/proc/self/ns/net' || ref.path === `/proc/${process.pid}/ns/net`) return this.self;
    else if (ref.path.startsWith('/run/netns/')) name = ref.path.slice('/run/netns/'.length);
    const ns = name === undefined ? undefined : this.find(name);
    if (!ns) throw new Error(`network namespace ${ref.kind === 'path' ? ref.path : `/run/netns/${name}`} is not there`);
    return ns;
  }

  private find(name: string): Ns | undefined {
    return [...this.spaces].find((s) => s.names.has(name));
  }

  async open(ref: NsRef): Promise<NetHandle> {
    this.enter('open', JSON.stringify(ref));
    const h = new FakeHandle(this, ref, this.resolve(ref), () => this.handles.delete(h));
    this.handles.add(h);
    return h;
  }

  async sysctl(key: string, value: string): Promise<void> {
    this.enter('sysctl', `${key}=${value}`);
    this.sysctls.set(key, value);
  }

  close(): void {
    this.host.close();
  }

  private namespaces(): Namespaces {
    return {
      add: async (name) => {
        this.enter('netns.add', name);
        if (this.find(name)) throw new Error(`ip netns add ${name}: Cannot create namespace file "/run/netns/${name}": File exists`);
        const ns = new Ns(false);
        ns.names.add(name);
        this.spaces.add(ns);
      },
      alias: async (name, target) => {
        this.enter('netns.alias', `${name} -> ${JSON.stringify(target)}`);
        if (this.find(name)) throw new Error(`network namespace "${name}" already exists`);
        this.resolve(target).names.add(name);
      },
      del: async (name) => {
        this.enter('netns.del', name);
        const ns = this.find(name);
        if (!ns) return;
        ns.names.delete(name);
        if (ns.names.size || ns.pinned) return;
        // The last name is gone: the namespace dies, and every veth in it takes its peer along.
        ns.alive = false;
        for (const l of [...ns.links.values()]) removeLink(l);
        this.spaces.delete(ns);
      },
      exists: async (name) => {
        this.enter('netns.exists', name);
        return this.find(name) !== undefined;
      },
      list: async () => {
        this.enter('netns.list', '');
        return [...this.spaces].flatMap((s) => [...s.names]).sort();
      },
    };
  }

  /** Everything, as deep-comparable plain data (no link indexes, which only ever grow). */
  snapshot(): FakeSnapshot {
    const label = (ns: Ns): string => (ns === this.self ? 'self' : [...ns.names].sort()[0]);
    const namespaces: Record<string, NamespaceSnapshot> = {};
    for (const ns of [...this.spaces].sort((a, b) => label(a).localeCompare(label(b)))) {
      namespaces[label(ns)] = {
        names: [...ns.names].sort(),
        links: [...ns.links.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((l) => ({
            name: l.name, kind: l.kind, master: l.master?.name, mtu: l.mtu, mac: l.mac, up: l.up, alias: l.alias,
            peer: l.peer && `${label(l.peer.ns)}:${l.peer.name}`,
          })),
        addrs: sortBy([...ns.addrs]),
        routes: sortBy([...ns.routes]),
      };
    }
    const sysctls = Object.fromEntries([...this.sysctls].sort(([a], [b]) => a.localeCompare(b)));
    // The JSON round trip drops undefined members, so equal states compare equal.
    return JSON.parse(JSON.stringify({ namespaces, firewall: this.firewall.snapshot(), sysctls })) as FakeSnapshot;
  }
}

class FakeHandle implements NetHandle {
  private closed = false;
  constructor(
    private readonly sys: FakeSystem,
    readonly ns: NsRef,
    private readonly space: Ns,
    private readonly onClose?: () => void,
  ) {}

  private run<T>(method: string, detail: string, fn: (ns: Ns) => T): Promise<T> {
    try {
      const where = this.ns.kind === 'named' ? this.ns.name : this.ns.kind === 'self' ? 'self' : this.ns.path;
      this.sys.enter(method, `${where} ${detail}`.trim());
      if (this.closed) throw new Error(`${method}: the handle on ${where} is closed`);
      if (!this.space.alive) throw new Error(`${method}: network namespace ${where} is gone`);
      return Promise.resolve(fn(this.space));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private must(ns: Ns, name: string): Link {
    const l = ns.links.get(name);
    if (!l) throw linkNotFound(name);
    return l;
  }

  links(): Promise<LinkInfo[]> {
    return this.run('links', '', (ns) => [...ns.links.values()].map(info));
  }

  link(name: string): Promise<LinkInfo | undefined> {
    return this.run('link', name, (ns) => {
      const l = ns.links.get(name);
      return l && info(l);
    });
  }

  addBridge(name: string, opts: { mtu?: number; alias: string }): Promise<void> {
    return this.run('addBridge', name, (ns) => {
      const l = ns.links.get(name) ?? ns.add({ name, kind: 'bridge', mtu: opts.mtu ?? 1500, mac: this.sys.nextMac(), up: false, alias: opts.alias });
      if (l.kind !== 'bridge') throw new Error(`link "${name}" exists and is a ${l.kind ?? 'device'}, not a bridge`);
      if (opts.mtu) l.mtu = opts.mtu;
      l.up = true;
      addConnected(ns, l);
    });
  }

  addVeth(spec: VethSpec): Promise<void> {
    return this.run('addVeth', `${spec.hostName} ${spec.peerName}`, (ns) => {
      if (ns.links.has(spec.hostName)) return; // ensure: the pair is there already
      const master = spec.master === undefined ? undefined : this.must(ns, spec.master);
      const peerNs = this.sys.resolve(spec.peerNs);
      if (peerNs.links.has(spec.peerName) || (peerNs === ns && spec.peerName === spec.hostName)) {
        throw new Error(`create veth "${spec.hostName}": peer "${spec.peerName}" exists: EEXIST`);
      }
      const mtu = spec.mtu ?? 1500;
      const host = ns.add({ name: spec.hostName, kind: 'veth', master, mtu, mac: this.sys.nextMac(), up: true, alias: spec.alias });
      const peer = peerNs.add({ name: spec.peerName, kind: 'veth', mtu, mac: spec.peerMac ?? this.sys.nextMac(), up: false, peer: host });
      host.peer = peer;
    });
  }

  delLink(name: string): Promise<void> {
    return this.run('delLink', name, (ns) => {
      const l = ns.links.get(name);
      if (l) removeLink(l);
    });
  }

  setUp(name: string): Promise<void> {
    return this.run('setUp', name, (ns) => {
      const l = this.must(ns, name);
      l.up = true;
      if (name === 'lo' && !ns.addrs.some((a) => a.link === 'lo')) ns.addrs.push({ link: 'lo', cidr: '127.0.0.1/8' });
      addConnected(ns, l);
    });
  }

  setMtu(name: string, mtu: number): Promise<void> {
    return this.run('setMtu', `${name} ${mtu}`, (ns) => {
      this.must(ns, name).mtu = mtu;
    });
  }

  addrs(link?: string): Promise<AddrInfo[]> {
    return this.run('addrs', link ?? '', (ns) => ns.addrs.filter((a) => link === undefined || a.link === link).map((a) => ({ ...a })));
  }

  addAddr(link: string, cidr: string): Promise<void> {
    return this.run('addAddr', `${link} ${cidr}`, (ns) => {
      const l = this.must(ns, link);
      if (!parseIp(cidr.split('/')[0])) throw new Error(`add address ${cidr} to "${link}": EINVAL`);
      if (!ns.addrs.some((a) => a.link === link && a.cidr === cidr)) ns.addrs.push({ link, cidr });
      addConnected(ns, l);
    });
  }

  delAddr(link: string, cidr: string): Promise<void> {
    return this.run('delAddr', `${link} ${cidr}`, (ns) => {
      const before = ns.addrs.length;
      ns.addrs = ns.addrs.filter((a) => !(a.link === link && a.cidr === cidr));
      const l = ns.links.get(link);
      const r = l && before !== ns.addrs.length ? connectedRoute(l, cidr) : undefined;
      const stillCovered = r && ns.addrs.some((a) => a.link === link && connectedRoute(l!, a.cidr)?.dst === r.dst);
      if (r && !stillCovered) ns.routes = ns.routes.filter((x) => !(x.dst === r.dst && x.link === link && !x.gateway));
    });
  }

  routes(): Promise<RouteInfo[]> {
    return this.run('routes', '', (ns) => ns.routes.map((r) => ({ ...r })));
  }

  addRoute(route: RouteInfo): Promise<void> {
    return this.run('addRoute', `${route.dst} via ${route.gateway ?? '-'} dev ${route.link ?? '-'}`, (ns) => {
      if (route.link !== undefined) this.must(ns, route.link);
      let link = route.link;
      if (route.gateway !== undefined) {
        // Like the kernel: a gateway must sit inside a connected route (of that link, if given).
        const gw = route.gateway;
        const via = ns.routes.find(
          (r) => !r.gateway && r.dst !== 'default' && r.family === familyOf(gw) && contains(r.dst, gw) && (!route.link || r.link === route.link),
        );
        if (!via) throw new Error(`add route ${route.dst} via ${gw}: ENETUNREACH`);
        link = via.link;
      } else if (link === undefined) throw new Error(`add route ${route.dst}: neither gateway nor link: EINVAL`);
      if (ns.routes.some((r) => r.family === route.family && r.dst === route.dst)) return; // EEXIST is success
      ns.routes.push({ dst: route.dst, gateway: route.gateway, link, family: route.family });
    });
  }

  delRoute(route: RouteInfo): Promise<void> {
    return this.run('delRoute', `${route.dst} via ${route.gateway ?? '-'} dev ${route.link ?? '-'}`, (ns) => {
      ns.routes = ns.routes.filter(
        (r) =>
          !(r.family === route.family && r.dst === route.dst &&
            (route.gateway === undefined || r.gateway === route.gateway) && (route.link === undefined || r.link === route.link)),
      );
    });
  }

  close(): void {
    this.closed = true;
    this.onClose?.();
  }
}

function info(l: Link): LinkInfo {
  return { index: l.index, name: l.name, kind: l.kind, master: l.master?.index, mtu: l.mtu, mac: l.mac, up: l.up, alias: l.alias };
}

export function createFakeSystem(opts: { uplink?: boolean } = {}): FakeSystem {
  return new FakeSystem(opts);
}

export type { FirewallSnapshot } from './firewall.js';
