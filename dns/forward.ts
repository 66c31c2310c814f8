// Forwarding names netloom does not own to upstream servers: UDP first, TCP when the answer
// comes back truncated, each upstream in turn, the whole attempt inside a budget shorter than a
// client's usual 5 s timeout. It runs beside the local answers, never in front of them: a dead
// upstream costs its own query time and nothing else.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { isTruncated, readId, withId } from './wire.js';

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

/** "10.0.0.53", "10.0.0.53:5353", "[fd00::53]:53", "fd00::53" */
export function parseUpstream(s: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
  const v4 = /^([\d.]+)(?::(\d+))?$/.exec(s);
  if (v4) return { host: v4[1], port: v4[2] ? Number(v4[2]) : 53 };
  return { host: s, port: 53 };
}

interface Pending {
  resolve(buf: Buffer | undefined): void;
  timer: NodeJS.Timeout;
}

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
      s.on('message', (msg) => {
        if (msg.length < 12) return;
        const p = this.pending.get(readId(msg));
        if (!p) return;
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

  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 65536);
      if (!this.pending.has(id)) return id;
    }
  }

  private udp(query: Buffer, host: string, port: number, ms: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const id = this.freeId();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, ms);
      this.pending.set(id, { resolve, timer });
      this.socket(host.includes(':') ? 6 : 4).send(withId(query, id), port, host, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      });
    });
  }

  private tcp(query: Buffer, host: string, port: number, ms: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host, port });
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
      const { host, port } = parseUpstream(u);
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
