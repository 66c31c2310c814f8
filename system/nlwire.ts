// rtnetlink requests as netlink.ts sends them: message builders, the errno of a refusal, and the
// queue that keeps one socket's requests apart (and lets a batch of them go together).
import { AttrStream, ifla, rt, type RtNetlinkSocket, type StreamData } from 'netlink';
import { bytesToIp, ipToBytes } from '../common/cidr.js';
import type { LinkInfo, RouteInfo } from './types.js';
import { stepOf, systemFailure } from './errors.js';

export const CREATE_EXCL = 0x400 | 0x200; // NLM_F_CREATE | NLM_F_EXCL
export const CREATE_REPLACE = 0x400 | 0x100; // NLM_F_CREATE | NLM_F_REPLACE
export const AF_BRIDGE = 7;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const RT_TABLE_MAIN = 254;

export function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

export function macToBuf(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function bufToMac(b?: Buffer): string {
  return b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

/** The errno of a rejected request. The netlink package reports it only in its message text
 *  ("Request rejected: EEXIST"), so this is the one place that reads it from there: every failure
 *  leaves netlink.ts as a SystemError with the errno as a field. */
export function netlinkErrno(err: unknown): string {
  const m = /^Request rejected: (\w+)$/.exec(err instanceof Error ? err.message : '');
  return m?.[1] ?? '';
}

/** Runs a netlink request, treating the listed errnos as success (the "ensure" semantics). */
export async function tolerate<T>(p: Promise<T>, ...ok: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (ok.includes(netlinkErrno(err))) return undefined;
    throw err;
  }
}

export function splitCidr(cidr: string): { ip: string; prefix: number; family: 4 | 6 } {
  const [ip, p] = cidr.split('/');
  const family = ip.includes(':') ? 6 : 4;
  return { ip, prefix: p === undefined ? (family === 4 ? 32 : 128) : Number(p), family };
}

/** The requests of one socket, one at a time: the netlink package reassembles one multipart
 *  (dump) reply per socket at a time, so two dumps in flight corrupt each other. A batch holds the
 *  socket for a group of requests that are no dumps, sent together (see `together`). */
export class RequestQueue {
  private chain: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(fn);
    this.chain = r.catch(() => undefined);
    return r;
  }
}

/** The socket with every request queued. */
export function serialized(sock: RtNetlinkSocket, queue: RequestQueue): RtNetlinkSocket {
  return new Proxy(sock, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || !/^(get|new|del|set)[A-Z]/.test(String(prop))) return v;
      return (...args: unknown[]) => queue.run(() => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}

/** One request of a batch: what to send, the step and object a failure names, errnos that mean
 *  "already so" (the "ensure" semantics). */
export interface Req {
  readonly method: string;
  readonly object: string;
  readonly send: () => Promise<unknown>;
  readonly ok?: readonly string[];
}

/** Sends the requests at once, in order (the kernel applies each before the next is read, so a
 *  route may follow the address and the up it needs), and awaits every answer: one wait instead
 *  of one per request. The first failure, in sending order, leaves as its own step's error. */
export async function together(reqs: readonly Req[]): Promise<void> {
  const settled = await Promise.allSettled(reqs.map((r) => tolerate(r.send(), ...(r.ok ?? []))));
  for (const [i, s] of settled.entries()) {
    if (s.status === 'rejected') throw systemFailure(stepOf(reqs[i].method), reqs[i].object, s.reason, netlinkErrno(s.reason) || undefined);
  }
}

export const UP = { change: { up: true }, flags: { up: true } } as const;
/** NLM_F_ECHO: the kernel answers a create with the new link's message (its index), before the
 *  ACK. Kernels before 6.3 only ACK; then the index is asked for. */
export const ECHO = 0x8;

/** RTM_NEWADDR of `cidr` on link `index`. IPv6: no duplicate address detection, so the address
 *  is usable the moment connect returns. */
export function addrMessage(index: number, cidr: string): [rt.Address, rt.AddressAttrs] {
  const { ip, prefix, family } = splitCidr(cidr);
  const bytes = ipToBytes(ip);
  const flags = family === 6 ? { nodad: true as const } : undefined;
  return [
    { family: family === 4 ? AF_INET : AF_INET6, prefixlen: prefix, index, flags },
    { local: bytes, address: bytes, flags },
  ];
}

/** A route in the main table; `oif` the index of r.link. */
export function routeMessage(r: RouteInfo, oif: number | undefined): [rt.Route, rt.RouteAttrs] {
  const dst = r.dst === 'default' ? undefined : splitCidr(r.dst);
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

export function toLinkInfo(m: rt.LinkMessage): LinkInfo {
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
