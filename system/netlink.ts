// Links, addresses and routes over rtnetlink (the `netlink` package): no `ip` process per
// operation. A handle is bound to one namespace by the socket it owns (see netns.ts).
import { createRtNetlink, ifla, rt, type RtNetlinkSocket } from 'netlink';
import { bytesToIp, ipToBytes } from '../common/cidr.js';
import type { AddrInfo, LinkInfo, NeighEntry, NetHandle, NsRef, RouteInfo, VethSpec, VxlanSpec } from './types.js';
import { notABridge, obj, stepOf, systemError, systemFailure } from './errors.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  CREATE_EXCL,
  CREATE_REPLACE,
  ECHO,
  RT_TABLE_MAIN,
  RequestQueue,
  UP,
  addrMessage,
  bufToMac,
  encode,
  macToBuf,
  netlinkErrno,
  routeMessage,
  serialized,
  splitCidr,
  together,
  tolerate,
  toLinkInfo,
  type Req,
} from './nlwire.js';

export class NetlinkHandle implements NetHandle {
  private readonly sock: RtNetlinkSocket;
  private readonly queue = new RequestQueue();
  constructor(
    readonly ns: NsRef,
    private readonly raw: RtNetlinkSocket,
    private readonly openPeerNs: (ns: NsRef) => number,
    private readonly closeFd: (fd: number) => void,
  ) {
    this.sock = serialized(raw, this.queue);
  }

  /** Holds the socket for `fn`, which sends on the raw socket (no dumps: see RequestQueue). */
  private batch<T>(fn: (raw: RtNetlinkSocket) => Promise<T>): Promise<T> {
    return this.queue.run(() => fn(this.raw));
  }

  /** Creates a link (CREATE_EXCL, so an existing one is EEXIST) and returns its index. */
  private async create(raw: RtNetlinkSocket, data: rt.Link, attrs: ifla.LinkAttrs): Promise<number> {
    const echo = await raw.newLink(data, attrs, { flags: CREATE_EXCL | ECHO });
    const index = echo[0]?.data.index ?? (await raw.getLink({}, { ifname: attrs.ifname }))[0]?.data.index;
    if (index === undefined) throw systemError(stepOf('link'), obj.link(attrs.ifname ?? '', this.ns), 'ENODEV');
    return index;
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

  /** A new bridge is made up, with its MTU and MAC, in one request, then tagged: two waits. */
  addBridge(name: string, opts: { mtu?: number; alias: string; mac?: string }): Promise<void> {
    return this.op('addBridge', obj.link(name, this.ns), async () => {
      const made = await this.batch((raw) =>
        tolerate(
          this.create(raw, UP, {
            ifname: name,
            mtu: opts.mtu,
            address: opts.mac ? macToBuf(opts.mac) : undefined,
            linkinfo: encode(ifla.formatInfo({ kind: 'bridge' })),
          }),
          'EEXIST',
        ),
      );
      if (made !== undefined) return this.sock.setLink({ index: made }, { ifalias: opts.alias }).then(() => undefined);
      // There already (adopted, or made before a crash): checked and set up, never re-tagged.
      const existing = await this.link(name);
      if (!existing) throw systemError(stepOf('addBridge'), obj.link(name, this.ns), 'EEXIST');
      if (existing.kind !== 'bridge') throw notABridge(name, this.ns, existing.kind);
      if (opts.mtu && existing.mtu !== opts.mtu) await this.setMtu(name, opts.mtu);
      await this.setUp(name);
    });
  }

  /** A new pair is made with its host end up and in its bridge, in one request, then tagged:
   *  three waits (the bridge's index, the create, the tag). The sandbox end is set up by whoever
   *  configures it (a peer created up fails with ENOTCONN). */
  addVeth(spec: VethSpec): Promise<void> {
    return this.op('addVeth', obj.link(spec.hostName, this.ns), async () => {
      const master = spec.master ? await this.mustIndex(spec.master) : undefined;
      const fd = this.openPeerNs(spec.peerNs);
      let made: unknown;
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
        made = await tolerate(this.sock.newLink(UP, { ifname: spec.hostName, mtu: spec.mtu, master, linkinfo: info }, { flags: CREATE_EXCL }), 'EEXIST');
      } finally {
        this.closeFd(fd);
      }
      // Tagged by name: index 0 and IFLA_IFNAME select the link, they rename nothing.
      if (made !== undefined) return this.sock.setLink({}, { ifname: spec.hostName, ifalias: spec.alias }).then(() => undefined);
      // EEXIST: the host end is there (ensure, not skip: a bridge recreated after a crash must get
      // its ports back), or else the peer's name is taken in the sandbox.
      const existing = await this.link(spec.hostName);
      if (!existing) throw systemError(stepOf('addVeth'), obj.link(spec.hostName, this.ns), 'EEXIST');
      if (master !== undefined && existing.master !== master) await this.sock.setLink({ index: existing.index }, { master });
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
      const [data, attrs] = addrMessage(await this.mustIndex(link), cidr);
      await tolerate(this.sock.newAddress(data, attrs, { flags: CREATE_EXCL }), 'EEXIST');
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
    return routeMessage(r, r.link ? await this.mustIndex(r.link) : undefined);
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

  /** One wait for the index, one for the batch: addresses, up, routes (see `together`). */
  configure(link: string, want: { readonly addrs: readonly string[]; readonly routes: readonly RouteInfo[] }): Promise<void> {
    return this.batch(async (raw) => {
      const [m] =
        (await tolerate(raw.getLink({}, { ifname: link }), 'ENODEV').catch((err: unknown) => {
          throw systemFailure(stepOf('link'), obj.link(link, this.ns), err, netlinkErrno(err) || undefined);
        })) ?? [];
      const index = m?.data.index;
      const first = want.addrs[0] ? obj.addr(link, want.addrs[0], this.ns) : obj.link(link, this.ns);
      if (index === undefined) throw systemError(stepOf(want.addrs.length ? 'addAddr' : 'setUp'), first, 'ENODEV');
      const reqs: Req[] = want.addrs.map((cidr) => {
        const [data, attrs] = addrMessage(index, cidr);
        return { method: 'addAddr', object: obj.addr(link, cidr, this.ns), send: () => raw.newAddress(data, attrs, { flags: CREATE_EXCL }), ok: ['EEXIST'] };
      });
      reqs.push({ method: 'setUp', object: obj.link(link, this.ns), send: () => raw.setLink({ index, ...UP }) });
      for (const r of want.routes) {
        const [data, attrs] = routeMessage(r, index);
        reqs.push({ method: 'addRoute', object: obj.route(r, this.ns), send: () => raw.newRoute(data, attrs, { flags: CREATE_EXCL }), ok: ['EEXIST'] });
      }
      await together(reqs);
    });
  }

  close(): void {
    this.sock.socket.close();
  }
}

export { createRtNetlink };
