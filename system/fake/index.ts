// An in-memory System for unit tests, close enough to the kernel for the controller: namespaces
// live while they have a name (self always), a veth pair dies with either end or either end's
// namespace, an address on an up link brings its connected route, a gateway must be reachable,
// and the firewall interprets iptables-restore --noflush input. Every call can be made to fail
// (failNext) so tests can prove rollback, and snapshot() gives the whole state as plain data.
import type { AddrInfo, Listener, Namespaces, NetHandle, NsRef, RouteInfo, System, UtsNamespaces } from '../types.js';
import { FakeFirewall, type FirewallSnapshot } from './firewall.js';
import { FakeHandle, Ns, addConnected, linkUp, nsPath, removeLink, type HandleOwner } from './kernel.js';
import { SystemError } from '../../common/errors.js';
import { aliasTaken, invalidNetnsName, keepMessage, netnsTaken, notThere, obj, stepOf, systemError } from '../errors.js';

export interface FakeCall {
  readonly method: string;
  readonly detail: string;
}

export interface NamespaceSnapshot {
  names: string[];
  links: {
    name: string;
    kind?: string;
    master?: string;
    mtu: number;
    mac: string;
    up: boolean;
    alias?: string;
    peer?: string;
    conf?: Record<string, string>;
    hairpin?: boolean;
  }[];
  addrs: AddrInfo[];
  routes: RouteInfo[];
}

export interface FakeSnapshot {
  namespaces: Record<string, NamespaceSnapshot>;
  firewall: FirewallSnapshot;
  sysctls: Record<string, string>;
  uts: Record<string, [string, string]>;
}

interface Failure {
  skip: number;
  readonly err?: Error;
  readonly after: boolean;
}

const sortBy = <T>(xs: T[]): T[] => xs.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

export class FakeSystem implements System, HandleOwner {
  readonly host: NetHandle;
  readonly netns: Namespaces;
  readonly uts: UtsNamespaces;
  readonly firewall: FakeFirewall;
  /** UTS namespaces by sandbox: [hostname, domainname]. */
  readonly utsNames = new Map<string, [string, string]>();
  /** Every system call, in order, with what it was called on: tests sweep failures over these. */
  readonly calls: FakeCall[] = [];
  private readonly self = new Ns(true);
  private readonly spaces = new Set<Ns>([this.self]);
  private readonly failures = new Map<string, Failure[]>();
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
    this.firewall = new FakeFirewall((method, detail, effect, object) => this.call(method, detail, effect, object));
    this.netns = this.namespaces();
    this.uts = {
      add: async (sb, hostname, domainname) => this.call('uts.add', sb, () => void this.utsNames.set(sb, [hostname, domainname]), `sandbox ${sb}`),
      del: async (sb) => this.call('uts.del', sb, () => void this.utsNames.delete(sb), `sandbox ${sb}`),
      exists: async (sb) => this.call('uts.exists', sb, () => this.utsNames.has(sb)),
    };
  }

  /** Makes the next call of `method` (after `skip` successful ones) throw `err`, changing nothing.
   *  Names: handle methods ('addVeth', 'addAddr', ...), 'open', 'sysctl', firewall methods
   *  ('restore', 'ensureJump', ...) and 'netns.add', 'netns.alias', 'netns.del', ... */
  failNext(method: string, err?: Error, skip = 0): void {
    this.arm(method, { skip, err, after: false });
  }

  /** Like failNext, but the call does its work before it throws: a composite kernel operation
   *  (the real addBridge is create, then tag, then up) failing in its last step. */
  failAfter(method: string, err?: Error, skip = 0): void {
    this.arm(method, { skip, err, after: true });
  }

  private arm(method: string, f: Failure): void {
    const m = method.replace(/^firewall\./, '');
    this.failures.set(m, [...(this.failures.get(m) ?? []), f]);
  }

  /** Runs one system call: records it, and throws an armed failure before or after `effect`.
   *  Failures are SystemErrors naming the step (system/errors.ts STEP) and `object` (what the
   *  real system names), as the real system's are; an injected one has errno EIO. */
  call<T>(method: string, detail: string, effect: () => T, object = detail): T {
    this.calls.push({ method, detail });
    const queue = this.failures.get(method);
    let f = queue?.[0];
    if (f && f.skip > 0) {
      f.skip -= 1;
      f = undefined;
    } else if (f) queue!.shift();
    const err = f && (f.err ?? new SystemError({ step: stepOf(method), object, errno: 'EIO', message: `${method} ${detail}: injected failure: EIO` }));
    if (f && !f.after) throw err;
    let v: T;
    try {
      v = effect();
    } catch (e) {
      throw e instanceof SystemError ? e : keepMessage(stepOf(method), object, e);
    }
    if (f) throw err;
    return v;
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
    if (ref.kind === 'self') return this.self;
    const path = nsPath(ref);
    if (path === '/proc/self/ns/net' || path === `/proc/${process.pid}/ns/net`) return this.self;
    const ns = path.startsWith('/run/netns/') ? this.find(path.slice('/run/netns/'.length)) : undefined;
    if (!ns) throw notThere(path);
    return ns;
  }

  private find(name: string): Ns | undefined {
    return [...this.spaces].find((s) => s.names.has(name));
  }

  async open(ref: NsRef): Promise<NetHandle> {
    // Counted only once handed out: an open that fails late never gave the caller a handle.
    const h: FakeHandle = this.call(
      'open',
      JSON.stringify(ref),
      () => new FakeHandle(this, ref, this.resolve(ref), () => this.handles.delete(h)),
      obj.netns(nsPath(ref)),
    );
    this.handles.add(h);
    return h;
  }

  /** Sockets the fake host has bound (tests add to it). */
  readonly bound: Listener[] = [];

  async readSysctl(key: string): Promise<string | undefined> {
    return this.sysctls.get(key) ?? (key === 'net.ipv4.ip_local_port_range' ? '32768\t60999' : undefined);
  }

  async listeners(): Promise<Listener[]> {
    return [...this.bound];
  }

  async socketOwner(inode: number): Promise<{ pid: number; command: string } | undefined> {
    return this.bound.some((b) => b.inode === inode) ? { pid: 4242, command: 'fake-server' } : undefined;
  }

  async sysctl(key: string, value: string): Promise<void> {
    this.call('sysctl', `${key}=${value}`, () => {
      const perLink = /^net\/ipv[46]\/conf\/([^/]+)\/(.+)$/.exec(key);
      if (perLink && perLink[1] !== 'all' && perLink[1] !== 'default') {
        const link = this.self.links.get(perLink[1]);
        if (!link) throw systemError(stepOf('sysctl'), `${key}=${value}`, 'ENOENT', `sysctl ${key}: no such file or directory`);
        link.conf = { ...link.conf, [perLink[2]]: value };
        return;
      }
      this.sysctls.set(key, value);
    });
  }

  close(): void {
    this.host.close();
  }

  private namespaces(): Namespaces {
    return {
      add: async (name, opts) =>
        this.call(
          'netns.add',
          name,
          () => {
            const bad = invalidNetnsName(name, 'netns.add');
            if (bad) throw bad;
            if (this.find(name)) throw netnsTaken(name, '/run/netns');
            const ns = new Ns(false);
            if (opts?.loUp) linkUp(ns, ns.links.get('lo')!);
            ns.names.add(name);
            this.spaces.add(ns);
          },
          obj.netns(name),
        ),
      alias: async (name, target) =>
        this.call(
          'netns.alias',
          `${name} -> ${JSON.stringify(target)}`,
          () => {
            const bad = invalidNetnsName(name, 'netns.alias');
            if (bad) throw bad;
            if (this.find(name)) throw aliasTaken(name);
            this.resolve(target).names.add(name);
          },
          obj.netns(name),
        ),
      del: async (name) =>
        this.call(
          'netns.del',
          name,
          () => {
            const ns = this.find(name);
            if (!ns) return;
            ns.names.delete(name);
            if (ns.names.size || ns.pinned) return;
            // The last name is gone: the namespace dies, and every veth in it takes its peer along.
            ns.alive = false;
            for (const l of [...ns.links.values()]) removeLink(l);
            this.spaces.delete(ns);
          },
          obj.netns(name),
        ),
      exists: async (name) => this.call('netns.exists', name, () => this.find(name) !== undefined),
      list: async () => this.call('netns.list', '', () => [...this.spaces].flatMap((s) => [...s.names]).sort()),
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
            name: l.name,
            kind: l.kind,
            master: l.master?.name,
            mtu: l.mtu,
            mac: l.mac,
            up: l.up,
            alias: l.alias,
            conf: l.conf,
            hairpin: l.hairpin,
            peer: l.peer && `${label(l.peer.ns)}:${l.peer.name}`,
          })),
        addrs: sortBy([...ns.addrs]),
        routes: sortBy([...ns.routes]),
      };
    }
    const sysctls = Object.fromEntries([...this.sysctls].sort(([a], [b]) => a.localeCompare(b)));
    // The JSON round trip drops undefined members, so equal states compare equal.
    const uts = Object.fromEntries([...this.utsNames].sort(([a], [b]) => a.localeCompare(b)));
    return JSON.parse(JSON.stringify({ namespaces, firewall: this.firewall.snapshot(), sysctls, uts })) as FakeSnapshot;
  }
}

export function createFakeSystem(opts: { uplink?: boolean } = {}): FakeSystem {
  return new FakeSystem(opts);
}

export type { FirewallSnapshot } from './firewall.js';
