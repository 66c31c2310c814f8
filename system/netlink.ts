// Links, addresses and routes over rtnetlink (the `netlink` package): no `ip` process per
// operation. A handle is bound to one namespace by the socket it owns (see netns.ts).
import { AttrStream, createRtNetlink, ifla, rt, type RtNetlinkSocket, type StreamData } from 'netlink';
import { bytesToIp, ipToBytes } from '../common/cidr.js';
import type { AddrInfo, LinkInfo, NeighEntry, NetHandle, NsRef, RouteInfo, VethSpec, VxlanSpec } from './types.js';
import { notABridge, obj, stepOf, systemError, systemFailure } from './errors.js';

const CREATE_EXCL = 0x400 | 0x200; // NLM_F_CREATE | NLM_F_EXCL
const CREATE_REPLACE = 0x400 | 0x100; // NLM_F_CREATE | NLM_F_REPLACE
const AF_BRIDGE = 7;
const AF_INET = 2;
const AF_INET6 = 10;
const RT_TABLE_MAIN = 254;

function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

function macToBuf(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

function bufToMac(b?: Buffer): string {
  return b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

/** The errno of a rejected request. The netlink package reports it only in its message text
 *  ("Request rejected: EEXIST"), so this is the one place that reads it from there: every failure
 *  leaves this file as a SystemError with the errno as a field. */
function netlinkErrno(err: unknown): string {
  const m = /^Request rejected: (\w+)$/.exec(err instanceof Error ? err.message : '');
  return m?.[1] ?? '';
}

/** Runs a netlink request, treating the listed errnos as success (the "ensure" semantics). */
async function tolerate<T>(p: Promise<T>, ...ok: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (ok.includes(netlinkErrno(err))) return undefined;
    throw err;
  }
}

function splitCidr(cidr: string): { ip: string; prefix: number; family: 4 | 6 } {
  const [ip, p] = cidr.split('/');
  const family = ip.includes(':') ? 6 : 4;
  return { ip, prefix: p === undefined ? (family === 4 ? 32 : 128) : Number(p), family };
}

/** The netlink package reassembles one multipart (dump) reply per socket at a time, so two
 *  dumps in flight on one socket corrupt each other: every request on a handle is queued. */
function serialized(sock: RtNetlinkSocket): RtNetlinkSocket {
  let chain: Promise<unknown> = Promise.resolve();
  return new Proxy(sock, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || !/^(get|new|del|set)[A-Z]/.test(String(prop))) return v;
      return (...args: unknown[]) => {
        const run = chain.then(() => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        chain = run.catch(() => undefined);
        return run;
      };
    },
  });
}

function toLinkInfo(m: rt.LinkMessage): LinkInfo {
  return {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    kind: m.attrs.linkinfo ? ifla.parseInfo(m.attrs.linkinfo).kind : undefined,
    master: m.attrs.master,
    mtu: m.attrs.mtu ?? 0,
    mac: bufToMac(m.attrs.address),
    up: Boolean(m.data.flags?.up),
    alias: m.attrs.ifalias,
  };
}

export class NetlinkHandle implements NetHandle {
  private readonly sock: RtNetlinkSocket;
  constructor(
    readonly ns: NsRef,
    sock: RtNetlinkSocket,
    private readonly openPeerNs: (ns: NsRef) => number,
    private readonly closeFd: (fd: number) => void,
  ) {
    this.sock = serialized(sock);
  }

  /** Runs one System call: any failure leaves as a SystemError naming the step and the object. */
  private async op<T>(method: string, object: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      throw systemFailure(stepOf(method), object, err, netlinkErrno(err) || undefined);
    }
  }

  links(): Promise<LinkInfo[]> {
    return this.op('links', obj.where(this.ns), async () => {
      return (await this.sock.getLinks()).map(toLinkInfo);
    });
  }

  /** One RTM_GETLINK by name, not a dump: its cost does not grow with the number of links. */
  link(name: string): Promise<LinkInfo | undefined> {
    return this.op('link', obj.link(name, this.ns), async () => {
      const msgs = await tolerate(this.sock.getLink({}, { ifname: name }), 'ENODEV');
      return msgs?.[0] ? toLinkInfo(msgs[0]) : undefined;
    });
  }

  private async index(name: string): Promise<number | undefined> {
    return (await this.link(name))?.index;
  }

  private async mustIndex(name: string): Promise<number> {
    const idx = await this.index(name);
    if (idx === undefined) throw systemError(stepOf('link'), obj.link(name, this.ns), 'ENODEV');
    return idx;
  }

  addBridge(name: string, opts: { mtu?: number; alias: string; mac?: string }): Promise<void> {
    return this.op('addBridge', obj.link(name, this.ns), async () => {
      const existing = await this.link(name);
      if (existing) {
        if (existing.kind !== 'bridge') throw notABridge(name, this.ns, existing.kind);
      } else {
        await this.sock.newLink(
          {},
          { ifname: name, mtu: opts.mtu, address: opts.mac ? macToBuf(opts.mac) : undefined, linkinfo: encode(ifla.formatInfo({ kind: 'bridge' })) },
          { flags: CREATE_EXCL },
        );
      }
      if (opts.mtu && existing && existing.mtu !== opts.mtu) await this.setMtu(name, opts.mtu);
      if (!existing) await this.setAlias(name, opts.alias);
      await this.setUp(name);
    });
  }

  addVeth(spec: VethSpec): Promise<void> {
    return this.op('addVeth', obj.link(spec.hostName, this.ns), async () => {
      const master = spec.master ? await this.mustIndex(spec.master) : undefined;
      const existing = await this.link(spec.hostName);
      if (existing) {
        // Ensure, not skip: a bridge recreated after a crash must get its ports back.
        if (master !== undefined && existing.master !== master) await this.sock.setLink({ index: existing.index }, { master });
        await this.setUp(spec.hostName);
        return;
      }
      const fd = this.openPeerNs(spec.peerNs);
      try {
        // The peer is created directly inside the sandbox namespace under its final name (eth0,
        // eth1 ...): no temporary name in the host, no move, no rename.
        const peer = Buffer.concat([
          rt.formatLink({}),
          encode(
            ifla.formatLinkAttrs({
              ifname: spec.peerName,
              netNsFd: fd,
              mtu: spec.mtu,
              address: spec.peerMac ? macToBuf(spec.peerMac) : undefined,
            }),
          ),
        ]);
        const info = encode(ifla.formatInfo({ kind: 'veth', data: encode(ifla.formatVethInfo({ peer })) }));
        await this.sock.newLink({}, { ifname: spec.hostName, mtu: spec.mtu, master, linkinfo: info }, { flags: CREATE_EXCL });
      } finally {
        this.closeFd(fd);
      }
      await this.setAlias(spec.hostName, spec.alias);
      await this.setUp(spec.hostName);
    });
  }

  addVxlan(spec: VxlanSpec): Promise<void> {
    return this.op('addVxlan', obj.link(spec.name, this.ns), async () => {
      const master = await this.mustIndex(spec.master);
      const existing = await this.link(spec.name);
      if (!existing) {
        const port = Buffer.alloc(2);
        port.writeUInt16BE(spec.port);
        // No UDP checksum on transmit (as Docker's overlay): the inner packets carry their own.
        const data = encode(
          ifla.formatVxlan({
            id: spec.vni,
            ...(spec.local ? { local: ipToBytes(spec.local) } : {}),
            port,
            learning: 0,
            proxy: 1,
            l2miss: 0,
            l3miss: 0,
            udpCsum: 0,
          }),
        );
        const info = encode(ifla.formatInfo({ kind: 'vxlan', data }));
        await this.sock.newLink({}, { ifname: spec.name, mtu: spec.mtu, master, linkinfo: info }, { flags: CREATE_EXCL });
        await this.setAlias(spec.name, spec.alias);
      } else if (existing.master !== master) {
        await this.sock.setLink({ index: existing.index }, { master });
      }
      await this.setUp(spec.name);
    });
  }

  neighbours(link: string, fdb: boolean): Promise<NeighEntry[]> {
    return this.op('neighbours', obj.link(link, this.ns), async () => {
      const index = await this.index(link);
      if (index === undefined) return [];
      const msgs = await this.sock.getNeighbors({ family: fdb ? AF_BRIDGE : AF_INET, ifindex: index });
      return msgs
        .filter((m) => m.data.ifindex === index && m.data.state?.permanent && m.attrs.lladdr && m.attrs.dst)
        .map((m) => ({ link, fdb, mac: bufToMac(m.attrs.lladdr!), ip: bytesToIp(m.attrs.dst!) }));
    });
  }

  addNeighbour(e: NeighEntry): Promise<void> {
    return this.op('addNeighbour', obj.neigh(e, this.ns), async () => {
      const ifindex = await this.mustIndex(e.link);
      await this.sock.newNeighbor(
        { family: e.fdb ? AF_BRIDGE : AF_INET, ifindex, state: { permanent: true }, flags: e.fdb ? { self: true } : {} },
        { lladdr: macToBuf(e.mac), dst: ipToBytes(e.ip) },
        { flags: CREATE_REPLACE },
      );
    });
  }

  delNeighbour(e: NeighEntry): Promise<void> {
    return this.op('delNeighbour', obj.neigh(e, this.ns), async () => {
      const ifindex = await this.index(e.link);
      if (ifindex === undefined) return;
      await tolerate(
        this.sock.delNeighbor(
          { family: e.fdb ? AF_BRIDGE : AF_INET, ifindex, flags: e.fdb ? { self: true } : {} },
          { lladdr: macToBuf(e.mac), dst: ipToBytes(e.ip) },
        ),
        'ENOENT',
      );
    });
  }

  delLink(name: string): Promise<void> {
    return this.op('delLink', obj.link(name, this.ns), async () => {
      const idx = await this.index(name);
      if (idx === undefined) return;
      await tolerate(this.sock.delLink({ index: idx }), 'ENODEV');
    });
  }

  retire(name: string, newName: string): Promise<void> {
    return this.op('retire', obj.link(name, this.ns), async () => {
      const index = await this.index(name);
      if (index === undefined) return;
      // Two requests: the kernel refuses to rename a device that is up (EBUSY), and it renames
      // before it applies the flags. IFLA_MASTER 0 releases a bridge port (none: a no-op).
      await this.sock.setLink({ index, change: { up: true }, flags: {} }, { master: 0 });
      for (const a of await this.addrs(name)) await this.delAddr(name, a.cidr);
      await this.sock.setLink({ index }, { ifname: newName });
    });
  }

  setUp(name: string): Promise<void> {
    return this.op('setUp', obj.link(name, this.ns), async () => {
      const index = await this.mustIndex(name);
      await this.sock.setLink({ index, change: { up: true }, flags: { up: true } });
    });
  }

  /** The kernel ignores IFLA_IFALIAS in a create request; it only takes it on a change. */
  private async setAlias(name: string, alias: string): Promise<void> {
    const index = await this.mustIndex(name);
    await this.sock.setLink({ index }, { ifalias: alias });
  }

  setHairpin(name: string, on: boolean): Promise<void> {
    return this.op('setHairpin', obj.link(name, this.ns), async () => {
      const index = await this.mustIndex(name);
      // IFLA_LINKINFO { SLAVE_KIND "bridge", SLAVE_DATA { IFLA_BRPORT_MODE (4): u8 } }; slave data is
      // only applied by RTM_NEWLINK on an existing link (as `ip link set ... type bridge_slave hairpin on`).
      const mode = Buffer.from([5, 0, 4, 0, on ? 1 : 0, 0, 0, 0]);
      const info = encode(ifla.formatInfo({ slaveKind: 'bridge', slaveData: mode }));
      await this.sock.newLink({ index }, { linkinfo: info });
    });
  }

  setMtu(name: string, mtu: number): Promise<void> {
    return this.op('setMtu', obj.link(name, this.ns), async () => {
      const index = await this.mustIndex(name);
      await this.sock.setLink({ index }, { mtu });
    });
  }

  addrs(link?: string): Promise<AddrInfo[]> {
    return this.op('addrs', obj.where(this.ns), async () => {
      const [links, msgs] = await Promise.all([this.links(), this.sock.getAddresses()]);
      const names = new Map(links.map((l) => [l.index, l.name]));
      return msgs
        .map((m) => {
          const raw = m.attrs.local ?? m.attrs.address;
          return { link: names.get(m.data.index ?? -1) ?? '', cidr: raw ? `${bytesToIp(raw)}/${m.data.prefixlen}` : '' };
        })
        .filter((a) => a.cidr && (link === undefined || a.link === link));
    });
  }

  addAddr(link: string, cidr: string): Promise<void> {
    return this.op('addAddr', obj.addr(link, cidr, this.ns), async () => {
      const index = await this.mustIndex(link);
      const { ip, prefix, family } = splitCidr(cidr);
      const bytes = ipToBytes(ip);
      // IPv6: no duplicate address detection, so the address is usable the moment connect returns.
      const flags = family === 6 ? { nodad: true as const } : undefined;
      await tolerate(
        this.sock.newAddress(
          { family: family === 4 ? AF_INET : AF_INET6, prefixlen: prefix, index, flags },
          { local: bytes, address: bytes, flags },
          { flags: CREATE_EXCL },
        ),
        'EEXIST',
      );
    });
  }

  delAddr(link: string, cidr: string): Promise<void> {
    return this.op('delAddr', obj.addr(link, cidr, this.ns), async () => {
      const index = await this.index(link);
      if (index === undefined) return;
      const { ip, prefix, family } = splitCidr(cidr);
      const bytes = ipToBytes(ip);
      await tolerate(
        this.sock.delAddress({ family: family === 4 ? AF_INET : AF_INET6, prefixlen: prefix, index }, { local: bytes, address: bytes }),
        'EADDRNOTAVAIL',
        'ENODEV',
      );
    });
  }

  routes(): Promise<RouteInfo[]> {
    return this.op('routes', obj.where(this.ns), async () => {
      const [links, msgs] = await Promise.all([this.links(), this.sock.getRoutes()]);
      const names = new Map(links.map((l) => [l.index, l.name]));
      return msgs
        .filter((m) => (m.attrs.table ?? m.data.table) === RT_TABLE_MAIN)
        .map((m) => {
          const family: 4 | 6 = m.data.family === AF_INET6 ? 6 : 4;
          const dst = m.attrs.dst ? `${bytesToIp(m.attrs.dst)}/${m.data.dstLen}` : 'default';
          return {
            dst,
            family,
            gateway: m.attrs.gateway ? bytesToIp(m.attrs.gateway) : undefined,
            link: m.attrs.oif !== undefined ? names.get(m.attrs.oif) : undefined,
          };
        });
    });
  }

  private async routeMessage(r: RouteInfo): Promise<[rt.Route, rt.RouteAttrs]> {
    const isDefault = r.dst === 'default';
    const dst = isDefault ? undefined : splitCidr(r.dst);
    const oif = r.link ? await this.mustIndex(r.link) : undefined;
    return [
      {
        family: r.family === 4 ? AF_INET : AF_INET6,
        dstLen: dst?.prefix ?? 0,
        table: RT_TABLE_MAIN,
        protocol: 'BOOT',
        scope: r.gateway ? 'UNIVERSE' : 'LINK',
        type: 'UNICAST',
      },
      { dst: dst ? ipToBytes(dst.ip) : undefined, gateway: r.gateway ? ipToBytes(r.gateway) : undefined, oif },
    ];
  }

  addRoute(r: RouteInfo): Promise<void> {
    return this.op('addRoute', obj.route(r, this.ns), async () => {
      const [data, attrs] = await this.routeMessage(r);
      await tolerate(this.sock.newRoute(data, attrs, { flags: CREATE_EXCL }), 'EEXIST');
    });
  }

  delRoute(r: RouteInfo): Promise<void> {
    return this.op('delRoute', obj.route(r, this.ns), async () => {
      const [data, attrs] = await this.routeMessage(r).catch(() => [undefined, undefined] as const);
      if (!data) return;
      await tolerate(this.sock.delRoute({ ...data, scope: 'NOWHERE' }, attrs), 'ESRCH', 'ENODEV');
    });
  }

  close(): void {
    this.sock.socket.close();
  }
}

export { createRtNetlink };
