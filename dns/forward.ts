// Forwarding names netloom does not own to upstream servers: UDP first, TCP when the answer
// comes back truncated, each upstream in turn, the whole attempt inside a budget shorter than a
// client's usual 5 s timeout. It runs beside the local answers, never in front of them: a dead
// upstream costs its own query time and nothing else.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { isTruncated, readId, withId } from './wire.js';
import { parseUpstream } from '../common/upstream.js';

export interface ForwardResult {
  readonly reply?: Buffer; // with the client's id
  readonly upstream?: string; // which server answered
  readonly tried: readonly string[];
}

export interface ForwardOptions {
  /** Per-upstream UDP wait (ms). */
  readonly tryMs?: number;
  /** Whole budget across upstreams and the TCP retry (ms). */
  readonly budgetMs?: number;
}

export { parseUpstream } from '../common/upstream.js';

interface Pending {
  resolve(buf: Buffer | undefined): void;
  timer: NodeJS.Timeout;
  host: string;
  port: number;
}

/** At most this many forwarded queries wait at once; beyond it a query fails at once (SERVFAIL),
 *  so a flood through a dead upstream can never exhaust the 16-bit id space or memory. */
export const MAX_IN_FLIGHT = 4096;

export class Forwarder {
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pending = new Map<number, Pending>();
  private readonly tryMs: number;
  private readonly budgetMs: number;

  constructor(opts: ForwardOptions = {}) {
    this.tryMs = opts.tryMs ?? 1000;
    this.budgetMs = opts.budgetMs ?? 4000;
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = createSocket(family === 4 ? 'udp4' : 'udp6');
      s.on('message', (msg, rinfo) => {
        if (msg.length < 12) return;
        const p = this.pending.get(readId(msg));
        // Only the upstream we asked may answer: a sandbox spraying ids at our port cannot.
        if (!p || rinfo.address !== p.host || rinfo.port !== p.port) return;
        this.pending.delete(readId(msg));
        clearTimeout(p.timer);
        p.resolve(msg);
      });
      s.on('error', () => undefined);
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  /** A random free id; undefined when MAX_IN_FLIGHT are waiting (bounded: never loops forever). */
  private freeId(): number | undefined {
    if (this.pending.size >= MAX_IN_FLIGHT) return undefined;
    for (let i = 0; i < 64; i++) {
      const id = randomInt(0, 65536);
      if (!this.pending.has(id)) return id;
    }
    return undefined;
  }

  private udp(query: Buffer, host: string, port: number, ms: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const id = this.freeId();
      if (id === undefined) return resolve(undefined);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, ms);
      this.pending.set(id, { resolve, timer, host, port });
      const fail = (): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      };
      try {
        this.socket(host.includes(':') ? 6 : 4).send(withId(query, id), port, host, (err) => err && fail());
      } catch {
        fail(); // a bad address or port throws synchronously
      }
    });
  }

  private tcp(query: Buffer, host: string, port: number, ms: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let sock: ReturnType<typeof connect>;
      try {
        sock = connect({ host, port });
      } catch {
        return resolve(undefined);
      }
      const chunks: Buffer[] = [];
      const done = (b?: Buffer): void => {
        sock.destroy();
        clearTimeout(timer);
        resolve(b);
      };
      const timer = setTimeout(() => done(), ms);
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) done(all.subarray(2, 2 + all.readUInt16BE(0)));
      });
      sock.on('error', () => done());
    });
  }

  async forward(query: Buffer, upstreams: readonly string[]): Promise<ForwardResult> {
    const clientId = readId(query);
    const deadline = Date.now() + this.budgetMs;
    const tried: string[] = [];
    for (const [i, u] of upstreams.entries()) {
      const left = deadline - Date.now();
      if (left <= 50) break;
      // The budget is shared out among the upstreams still to try: one upstream gets all of it,
      // so a slow but live server is waited for; several get a fair slice each (at least tryMs).
      const wait = Math.min(left, Math.max(this.tryMs, left / (upstreams.length - i)));
      tried.push(u);
      const parsed = parseUpstream(u);
      if (!parsed) continue; // not an address (a malformed resolv.conf line): skip it
      const { host, port } = parsed;
      let reply = await this.udp(query, host, port, wait);
      if (reply && isTruncated(reply)) {
        reply = (await this.tcp(query, host, port, Math.max(50, deadline - Date.now()))) ?? reply;
      }
      if (reply) return { reply: withId(reply, clientId), upstream: u, tried };
    }
    return { tried };
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
