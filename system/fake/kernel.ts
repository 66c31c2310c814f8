// The fake's kernel objects: namespaces, links, addresses and routes, and the NetHandle over
// them. Only system/fake/index.ts builds these; tests see them through the System interfaces.
import { addressOf, cidrOf, contains, formatCidr, parseIfAddr, parseIp } from '../../common/cidr.js';
import { notABridge, obj, stepOf, systemError, systemFailure } from '../errors.js';
import type { AddrInfo, LinkInfo, NeighEntry, NetHandle, NsRef, RouteInfo, VethSpec, VxlanSpec } from '../types.js';

export interface Link {
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
  /** Per-interface sysctls (net/ipv4/conf/<name>/...): they go when the link goes. */
  conf?: Record<string, string>;
  hairpin?: boolean;
}

/** One network namespace. `pinned` is the daemon's own, which lives whatever its names. */
export class Ns {
  readonly names = new Set<string>();
  readonly links = new Map<string, Link>();
  addrs: AddrInfo[] = [];
  routes: RouteInfo[] = [];
  neigh: NeighEntry[] = [];
  alive = true;
  private nextIndex = 1;
  constructor(readonly pinned: boolean) {
    // A fresh namespace has lo, down: `ip netns add` does not bring it up (the controller does).
    this.add({ name: 'lo', mtu: 65536, mac: '00:00:00:00:00:00', up: false });
  }
  add(p: Omit<Link, 'index' | 'ns'>): Link {
    const l: Link = { ...p, index: this.nextIndex++, ns: this };
    this.links.set(l.name, l);
    return l;
  }
}

/** A link set up: lo gets 127.0.0.1/8 as the kernel gives it, any link its connected routes. */
export function linkUp(ns: Ns, l: Link): void {
  l.up = true;
  if (l.name === 'lo' && !ns.addrs.some((a) => a.link === 'lo')) ns.addrs.push({ link: 'lo', cidr: '127.0.0.1/8' });
  addConnected(ns, l);
}

/** What a handle needs from the system that made it. */
export interface HandleOwner {
  /** Records the call and throws an armed failure before or after `effect`; failures name `object`. */
  call<T>(method: string, detail: string, effect: () => T, object?: string): T;
  nextMac(): string;
  resolve(ref: NsRef): Ns;
}

/** Where a reference points, as the real system/netns.ts spells it (the fake has no other processes). */
export function nsPath(ref: NsRef): string {
  switch (ref.kind) {
    case 'self':
      return `/proc/${process.pid}/ns/net`;
    case 'named':
      return `/run/netns/${ref.name}`;
    case 'pid':
      return `/proc/${ref.pid}/ns/net`;
    case 'path':
      return ref.path;
  }
}

/** What a fake kernel object refuses with (the kernel's errno); run() names the step and object. */
class Fault extends Error {
  constructor(
    readonly errno: string,
    why: string,
  ) {
    super(why);
  }
}
const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** The prefix route the kernel adds for an address on an up link (none for /32, /128 and lo). */
export function connectedRoute(link: Link, cidr: string): RouteInfo | undefined {
  const a = parseIfAddr(cidr);
  const addr = a && parseIp(a.ip);
  if (!a || !addr || link.name === 'lo' || a.prefix >= (addr.family === 4 ? 32 : 128)) return undefined;
  return { dst: formatCidr(cidrOf(addr, a.prefix)), link: link.name, family: addr.family };
}

export function addConnected(ns: Ns, link: Link): void {
  if (!link.up) return;
  for (const a of ns.addrs.filter((x) => x.link === link.name)) {
    const r = connectedRoute(link, a.cidr);
    if (r && !ns.routes.some((x) => x.dst === r.dst && x.link === r.link)) ns.routes.push(r);
  }
}

/** Removes a link and everything that hangs on it; a veth takes its peer with it. */
export function removeLink(l: Link): void {
  const ns = l.ns;
  if (ns.links.get(l.name) !== l) return;
  ns.links.delete(l.name);
  ns.addrs = ns.addrs.filter((a) => a.link !== l.name);
  ns.routes = ns.routes.filter((r) => r.link !== l.name);
  ns.neigh = ns.neigh.filter((e) => e.link !== l.name);
  for (const x of ns.links.values()) if (x.master === l) x.master = undefined;
  if (l.peer) removeLink(l.peer);
}

export class FakeHandle implements NetHandle {
  private closed = false;
  constructor(
    private readonly sys: HandleOwner,
    readonly ns: NsRef,
    private readonly space: Ns,
    private readonly onClose?: () => void,
  ) {}

  /** One call on this handle: a Fault its effect throws leaves as a SystemError naming the
   *  method's step and `object`, as the real handle names it. */
  private run<T>(method: string, detail: string, object: string, fn: (ns: Ns) => T): Promise<T> {
    const where = this.ns.kind === 'named' ? this.ns.name : this.ns.kind === 'self' ? 'self' : nsPath(this.ns);
    const step = stepOf(method);
    try {
      return Promise.resolve(
        this.sys.call(
          method,
          `${where} ${detail}`.trim(),
          () => {
            try {
              if (this.closed) throw new Fault('EBADF', `the handle on ${where} is closed`);
              if (!this.space.alive) throw new Fault('ENOENT', `network namespace ${where} is gone`);
              return fn(this.space);
            } catch (err) {
              if (err instanceof Fault) throw systemError(step, object, err.errno, err.message);
              throw systemFailure(step, object, err);
            }
          },
          object,
        ),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private must(ns: Ns, name: string): Link {
    const l = ns.links.get(name);
    if (!l) throw new Fault('ENODEV', `link "${name}" not found: ENODEV`);
    return l;
  }

  links(): Promise<LinkInfo[]> {
    return this.run('links', '', obj.where(this.ns), (ns) => [...ns.links.values()].map(info));
  }

  link(name: string): Promise<LinkInfo | undefined> {
    return this.run('link', name, obj.link(name, this.ns), (ns) => {
      const l = ns.links.get(name);
      return l && info(l);
    });
  }

  addBridge(name: string, opts: { mtu?: number; alias: string }): Promise<void> {
    return this.run('addBridge', name, obj.link(name, this.ns), (ns) => {
      const l = ns.links.get(name) ?? ns.add({ name, kind: 'bridge', mtu: opts.mtu ?? 1500, mac: this.sys.nextMac(), up: false, alias: opts.alias });
      if (l.kind !== 'bridge') throw notABridge(name, this.ns, l.kind);
      if (opts.mtu) l.mtu = opts.mtu;
      l.up = true;
      addConnected(ns, l);
    });
  }

  addVxlan(spec: VxlanSpec): Promise<void> {
    return this.run('addVxlan', spec.name, obj.link(spec.name, this.ns), (ns) => {
      const master = this.must(ns, spec.master);
      const l = ns.links.get(spec.name) ?? ns.add({ name: spec.name, kind: 'vxlan', mtu: spec.mtu, mac: this.sys.nextMac(), up: false, alias: spec.alias });
      if (l.kind !== 'vxlan') throw new Fault('EEXIST', `link "${spec.name}" exists and is a ${l.kind ?? 'device'}, not a vxlan`);
      l.master = master;
      l.up = true;
    });
  }

  neighbours(link: string, fdb: boolean): Promise<NeighEntry[]> {
    return this.run('neighbours', link, obj.link(link, this.ns), (ns) => ns.neigh.filter((e) => e.link === link && e.fdb === fdb).map((e) => ({ ...e })));
  }

  addNeighbour(e: NeighEntry): Promise<void> {
    return this.run('addNeighbour', `${e.link} ${e.ip} ${e.mac}`, obj.neigh(e, this.ns), (ns) => {
      this.must(ns, e.link);
      ns.neigh = ns.neigh.filter((x) => !(x.link === e.link && x.fdb === e.fdb && (e.fdb ? x.mac === e.mac : x.ip === e.ip)));
      ns.neigh.push({ ...e });
    });
  }

  delNeighbour(e: NeighEntry): Promise<void> {
    return this.run('delNeighbour', `${e.link} ${e.ip} ${e.mac}`, obj.neigh(e, this.ns), (ns) => {
      ns.neigh = ns.neigh.filter((x) => !(x.link === e.link && x.fdb === e.fdb && (e.fdb ? x.mac === e.mac : x.ip === e.ip)));
    });
  }

  addVeth(spec: VethSpec): Promise<void> {
    return this.run('addVeth', `${spec.hostName} ${spec.peerName}`, obj.link(spec.hostName, this.ns), (ns) => {
      const master = spec.master === undefined ? undefined : this.must(ns, spec.master);
      const existing = ns.links.get(spec.hostName);
      if (existing) {
        // ensure, like the real one: the pair is there; re-attach it to a recreated bridge
        if (master !== undefined) existing.master = master;
        existing.up = true;
        return;
      }
      const peerNs = this.sys.resolve(spec.peerNs);
      if (peerNs.links.has(spec.peerName) || (peerNs === ns && spec.peerName === spec.hostName)) {
        throw new Fault('EEXIST', `peer "${spec.peerName}" exists: EEXIST`);
      }
      const mtu = spec.mtu ?? 1500;
      const host = ns.add({ name: spec.hostName, kind: 'veth', master, mtu, mac: this.sys.nextMac(), up: true, alias: spec.alias });
      const peer = peerNs.add({ name: spec.peerName, kind: 'veth', mtu, mac: spec.peerMac ?? this.sys.nextMac(), up: false, peer: host });
      host.peer = peer;
    });
  }

  delLink(name: string): Promise<void> {
    return this.run('delLink', name, obj.link(name, this.ns), (ns) => {
      const l = ns.links.get(name);
      if (l) removeLink(l);
    });
  }

  retire(name: string, newName: string): Promise<void> {
    return this.run('retire', `${name} ${newName}`, obj.link(name, this.ns), (ns) => {
      const l = ns.links.get(name);
      if (!l) return;
      if (ns.links.has(newName)) throw new Fault('EEXIST', 'EEXIST (name taken)');
      l.up = false;
      l.master = undefined;
      ns.routes = ns.routes.filter((r) => r.link !== name);
      ns.links.delete(name);
      l.name = newName;
      ns.links.set(newName, l);
      ns.addrs = ns.addrs.filter((a) => a.link !== name);
      ns.neigh = ns.neigh.filter((e) => e.link !== name); // a down link's entries go
    });
  }

  setUp(name: string): Promise<void> {
    return this.run('setUp', name, obj.link(name, this.ns), (ns) => {
      linkUp(ns, this.must(ns, name));
    });
  }

  setMtu(name: string, mtu: number): Promise<void> {
    return this.run('setMtu', `${name} ${mtu}`, obj.link(name, this.ns), (ns) => {
      this.must(ns, name).mtu = mtu;
    });
  }

  setHairpin(name: string, on: boolean): Promise<void> {
    return this.run('setHairpin', `${name} ${on}`, obj.link(name, this.ns), (ns) => {
      const l = this.must(ns, name);
      if (!l.master) throw new Fault('EOPNOTSUPP', 'EOPNOTSUPP (not a bridge port)');
      l.hairpin = on;
    });
  }

  addrs(link?: string): Promise<AddrInfo[]> {
    return this.run('addrs', link ?? '', obj.where(this.ns), (ns) => ns.addrs.filter((a) => link === undefined || a.link === link).map((a) => ({ ...a })));
  }

  addAddr(link: string, cidr: string): Promise<void> {
    return this.run('addAddr', `${link} ${cidr}`, obj.addr(link, cidr, this.ns), (ns) => {
      const l = this.must(ns, link);
      if (!parseIp(addressOf(cidr))) throw new Fault('EINVAL', 'EINVAL');
      if (!ns.addrs.some((a) => a.link === link && a.cidr === cidr)) ns.addrs.push({ link, cidr });
      addConnected(ns, l);
    });
  }

  delAddr(link: string, cidr: string): Promise<void> {
    return this.run('delAddr', `${link} ${cidr}`, obj.addr(link, cidr, this.ns), (ns) => {
      const before = ns.addrs.length;
      ns.addrs = ns.addrs.filter((a) => !(a.link === link && a.cidr === cidr));
      const l = ns.links.get(link);
      const r = l && before !== ns.addrs.length ? connectedRoute(l, cidr) : undefined;
      const stillCovered = r && ns.addrs.some((a) => a.link === link && connectedRoute(l!, a.cidr)?.dst === r.dst);
      if (r && !stillCovered) ns.routes = ns.routes.filter((x) => !(x.dst === r.dst && x.link === link && !x.gateway));
    });
  }

  routes(): Promise<RouteInfo[]> {
    return this.run('routes', '', obj.where(this.ns), (ns) => ns.routes.map((r) => ({ ...r })));
  }

  addRoute(route: RouteInfo): Promise<void> {
    return this.run('addRoute', `${route.dst} via ${route.gateway ?? '-'} dev ${route.link ?? '-'}`, obj.route(route, this.ns), (ns) => {
      if (route.link !== undefined) this.must(ns, route.link);
      let link = route.link;
      if (route.gateway !== undefined) {
        // Like the kernel: a gateway must sit inside a connected route (of that link, if given).
        const gw = route.gateway;
        const via = ns.routes.find(
          (r) => !r.gateway && r.dst !== 'default' && r.family === familyOf(gw) && contains(r.dst, gw) && (!route.link || r.link === route.link),
        );
        if (!via) throw new Fault('ENETUNREACH', 'ENETUNREACH');
        link = via.link;
      } else if (link === undefined) throw new Fault('EINVAL', 'neither gateway nor link: EINVAL');
      if (ns.routes.some((r) => r.family === route.family && r.dst === route.dst)) return; // EEXIST is success
      ns.routes.push({ dst: route.dst, gateway: route.gateway, link, family: route.family });
    });
  }

  delRoute(route: RouteInfo): Promise<void> {
    return this.run('delRoute', `${route.dst} via ${route.gateway ?? '-'} dev ${route.link ?? '-'}`, obj.route(route, this.ns), (ns) => {
      ns.routes = ns.routes.filter(
        (r) =>
          !(
            r.family === route.family &&
            r.dst === route.dst &&
            (route.gateway === undefined || r.gateway === route.gateway) &&
            (route.link === undefined || r.link === route.link)
          ),
      );
    });
  }

  /** As the real handle's batch: the same calls, in the same order, each failing on its own. */
  async configure(link: string, want: { readonly addrs: readonly string[]; readonly routes: readonly RouteInfo[] }): Promise<void> {
    for (const a of want.addrs) await this.addAddr(link, a);
    await this.setUp(link);
    for (const r of want.routes) await this.addRoute(r);
  }

  close(): void {
    this.closed = true;
    this.onClose?.();
  }
}

function info(l: Link): LinkInfo {
  return { index: l.index, name: l.name, kind: l.kind, master: l.master?.index, mtu: l.mtu, mac: l.mac, up: l.up, alias: l.alias };
}
