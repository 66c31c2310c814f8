// The DNS server's UDP socket: datagrams arrive in batches and a batch's replies leave together.
// With native/udpbatch.node that is one recvmmsg, one call into JavaScript and one sendmmsg per
// batch of up to 64 datagrams, with no object per datagram but the packet view the handler asks
// for; without the addon (not built), node:dgram delivers batches of one. Either way the handler
// answers synchronously with reply(), and a late answer (a forwarded query) goes out with send(),
// from the same socket, so the client sees it come from the address and port it asked.
import { loadNative } from '../system/native.js';
import { createSocket, type Socket } from 'node:dgram';
import { formatIPv4, formatIPv6 } from '../common/cidr.js';

/** One batch of datagrams, valid only while the handler runs: the next batch reuses its memory. */
export interface Datagrams {
  readonly count: number;
  /** The i-th datagram. A view into memory the next batch overwrites: copy what must outlive the handler. */
  packet(i: number): Buffer;
  /** Its source address, canonical text ("10.0.0.2", "fd00::2"). */
  address(i: number): string;
  port(i: number): number;
  /** Answers the i-th datagram (its source); a batch's replies leave together when the handler returns. */
  reply(i: number, data: Buffer): void;
}

export type BatchHandler = (batch: Datagrams) => void;

export interface BindOptions {
  readonly address: string;
  readonly port: number;
  /** Called for socket errors: a failed send(), or (node:dgram only) a receive error. */
  readonly onError?: (err: Error) => void;
  /** false: use node:dgram even when the addon is built (tests compare the two). */
  readonly native?: boolean;
}

export interface UdpCounters {
  readonly received: number;
  readonly batches: number;
  readonly truncated: number;
  readonly recvErrors: number;
  readonly sent: number;
  readonly sendErrors: number;
  readonly sendDropped: number;
  readonly badReplies: number;
}

// The addon's interface (native/udpbatch.c).
interface NativeSocket {
  send(data: Uint8Array, port: number, address: string): string | undefined;
  close(): void;
  localPort(): number;
  counters(): UdpCounters;
}
interface Addon {
  UdpBatchSocket: new (address: string, port: number, onBatch: (count: number) => void) => NativeSocket;
  shared: { recv: ArrayBuffer; out: ArrayBuffer; meta: ArrayBuffer; addr6: ArrayBuffer };
  BATCH: number;
  RECV_SLOT: number;
  OUT_SLOT: number;
  META: number;
}

const M_LEN = 0;
const M_PORT = 1;
const M_ADDR4 = 2;
const M_REPLY = 3;

/** The addon, or null when it is not built (or fails to load): the caller falls back to node:dgram. */
function loadAddon(): Addon | null {
  return loadNative<Addon>('udpbatch') ?? null;
}

/** Whether BatchUdpSocket.bind will use the addon. */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

// Source addresses seen recently, as text: sandboxes ask again and again from the same few.
const V4_NAMES_MAX = 4096;
const v4Names = new Map<number, string>();

function v4Name(a: number): string {
  let s = v4Names.get(a);
  if (s === undefined) {
    if (v4Names.size >= V4_NAMES_MAX) v4Names.clear();
    s = formatIPv4(a >>> 0);
    v4Names.set(a, s);
  }
  return s;
}

function v6Name(b: Uint8Array, off: number): string {
  let v = 0n;
  for (let i = 0; i < 16; i += 4) v = (v << 32n) | BigInt(((b[off + i]! << 24) | (b[off + i + 1]! << 16) | (b[off + i + 2]! << 8) | b[off + i + 3]!) >>> 0);
  return formatIPv6(v);
}

/** The addon's batch: views over its shared memory, one object for every batch of every socket. */
class NativeBatch implements Datagrams {
  count = 0;
  /** The socket whose batch this is, and its family (a 0 IPv4 source is still IPv4). */
  socket: NativeSocket | undefined;
  v6 = false;
  /** Set while a handler runs: reply() outside it would write into some later batch. */
  live = false;
  private readonly recv: ArrayBuffer;
  private readonly out: Buffer;
  private readonly meta: Int32Array;
  private readonly addr6: Uint8Array;

  constructor(private readonly a: Addon) {
    this.recv = a.shared.recv;
    this.out = Buffer.from(a.shared.out);
    this.meta = new Int32Array(a.shared.meta);
    this.addr6 = new Uint8Array(a.shared.addr6);
  }

  packet(i: number): Buffer {
    return Buffer.from(this.recv, i * this.a.RECV_SLOT, this.meta[i * this.a.META + M_LEN]!);
  }

  address(i: number): string {
    return this.v6 ? v6Name(this.addr6, i * 16) : v4Name(this.meta[i * this.a.META + M_ADDR4]!);
  }

  port(i: number): number {
    return this.meta[i * this.a.META + M_PORT]!;
  }

  reply(i: number, data: Buffer): void {
    if (!this.live || i < 0 || i >= this.count) throw new RangeError(`reply(${i}): no datagram ${i} in the current batch`);
    if (data.length <= this.a.OUT_SLOT) {
      this.out.set(data, i * this.a.OUT_SLOT);
      this.meta[i * this.a.META + M_REPLY] = data.length;
    } else {
      this.socket?.send(data, this.port(i), this.address(i)); // too big for its slot: on its own
    }
  }
}

let nativeBatch: NativeBatch | undefined;

/** A bound UDP socket whose datagrams reach `handler` in batches. */
export class BatchUdpSocket {
  private constructor(
    private readonly impl: { kind: 'native'; sock: NativeSocket } | { kind: 'dgram'; sock: Socket },
    private readonly onError: ((err: Error) => void) | undefined,
  ) {}

  /** Binds address:port (SO_REUSEADDR, as the dgram socket it replaces) in the calling thread's
   *  network namespace and starts delivering. Rejects as dgram's bind does ("bind EADDRINUSE ..."). */
  static async bind(opts: BindOptions, handler: BatchHandler): Promise<BatchUdpSocket> {
    const a = opts.native === false ? null : loadAddon();
    if (!a) return BatchUdpSocket.bindDgram(opts, handler);
    const batch = (nativeBatch ??= new NativeBatch(a));
    const v6 = opts.address.includes(':');
    const sock: NativeSocket = new a.UdpBatchSocket(opts.address, opts.port, (count) => {
      batch.count = count;
      batch.socket = sock;
      batch.v6 = v6;
      batch.live = true;
      try {
        handler(batch);
      } finally {
        batch.live = false;
      }
    });
    return new BatchUdpSocket({ kind: 'native', sock }, opts.onError);
  }

  private static bindDgram(opts: BindOptions, handler: BatchHandler): Promise<BatchUdpSocket> {
    const udp = createSocket({ type: opts.address.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
    let msg: Buffer = Buffer.alloc(0);
    let from = { address: '', port: 0 };
    let live = false;
    const one: Datagrams = {
      count: 1,
      packet: () => msg,
      address: () => from.address,
      port: () => from.port,
      reply: (_i, data) => {
        if (!live) throw new RangeError("reply(): the datagram's handler has returned; use send()");
        udp.send(data, from.port, from.address);
      },
    };
    udp.on('message', (m, rinfo) => {
      [msg, from, live] = [m, rinfo, true];
      try {
        handler(one);
      } finally {
        live = false;
      }
    });
    udp.on('error', (err) => opts.onError?.(err));
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(opts.port, opts.address, () => {
        udp.off('error', reject);
        resolve(new BatchUdpSocket({ kind: 'dgram', sock: udp }, opts.onError));
      });
    });
  }

  /** Whether the addon serves this socket (else node:dgram). */
  get native(): boolean {
    return this.impl.kind === 'native';
  }

  /** The bound port (useful after binding port 0). */
  get port(): number {
    return this.impl.kind === 'native' ? this.impl.sock.localPort() : this.impl.sock.address().port;
  }

  /** One datagram from this socket, outside any batch (a forwarded query's answer). Errors,
   *  including sending after close() (a forward that outlived its network), go to onError. */
  send(data: Buffer, port: number, address: string): void {
    if (this.impl.kind === 'dgram') {
      try {
        this.impl.sock.send(data, port, address);
      } catch (err) {
        this.onError?.(err as Error);
      }
      return;
    }
    const code = this.impl.sock.send(data, port, address);
    if (code !== undefined) this.onError?.(Object.assign(new Error(`send ${code} ${address}:${port}`), { code }));
  }

  /** What the addon counted (zeros for node:dgram, which counts nothing). */
  counters(): UdpCounters {
    if (this.impl.kind === 'native') return this.impl.sock.counters();
    return { received: 0, batches: 0, truncated: 0, recvErrors: 0, sent: 0, sendErrors: 0, sendDropped: 0, badReplies: 0 };
  }

  /** Stops delivering and frees the address at once; idempotent. */
  close(): void {
    if (this.impl.kind === 'native') this.impl.sock.close();
    else {
      try {
        this.impl.sock.close();
      } catch {
        // already closed: dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING
      }
    }
  }
}
