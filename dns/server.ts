// The embedded DNS server: UDP and TCP on port 53 of every user-defined network's gateway
// addresses, in the daemon's namespace (Podman's aardvark-dns layout). Each query is answered
// from the in-memory records by respond() — one synchronous call, so updating the records
// between two queries can never drop one in flight — or handed to the Forwarder. The source
// address identifies the sandbox; anything else is dropped, so the server answers nobody
// outside the sandboxes' networks.
import { createServer, type Server } from 'node:net';
import type { Logger } from '../common/log.js';
import { AnswerCache } from './cache.js';
import { Forwarder } from './forward.js';
import type { Records } from './records.js';
import { respond } from './respond.js';
import { RCODE, type Question } from './types.js';
import { BatchUdpSocket, type Datagrams } from './udp.js';
import { encodeError } from './wire.js';
import { parseUpstream } from '../common/upstream.js';

export interface DnsServerOptions {
  readonly records: Records;
  readonly log: Logger;
  readonly port: number;
  /** Upstreams when neither the endpoint nor its network names any (the host's resolv.conf). */
  readonly defaultUpstreams: () => readonly string[];
  readonly ttl?: number;
}

interface Listener {
  readonly udp: BatchUdpSocket;
  readonly tcp: Server;
}

const MAX_TCP_QUERY = 4096;
const MAX_TCP_CONNECTIONS = 256;

export class DnsServer {
  private readonly listeners = new Map<string, Listener[]>(); // network id -> one per gateway address
  readonly forwarder = new Forwarder();
  private stats = { answered: 0, forwarded: 0, dropped: 0 };
  private readonly local = new Set<string>();
  private readonly cache: AnswerCache;

  constructor(private readonly opts: DnsServerOptions) {
    this.cache = new AnswerCache(opts.records);
  }

  /** Handles one query: a local answer (or silence) synchronously, a forward as a promise. The
   *  hot path allocates no promise and never waits. */
  handle(msg: Buffer, clientIp: string, via: string, tcp = false): Buffer | undefined | Promise<Buffer | undefined> {
    const hit = this.cache.get(msg, clientIp, via, tcp);
    if (hit) {
      this.stats.answered++;
      return hit;
    }
    const before = this.cache.stamp();
    let r: ReturnType<typeof respond>;
    try {
      r = respond(this.opts.records, { ip: clientIp, via }, msg, {
        defaultUpstreams: this.opts.defaultUpstreams(),
        ttl: this.opts.ttl ?? 0,
        tcp,
      });
    } catch (err) {
      this.opts.log.error({ err: String(err) }, 'dns: respond threw');
      return undefined;
    }
    if ('drop' in r) {
      this.stats.dropped++;
      return undefined;
    }
    if ('reply' in r) {
      this.stats.answered++;
      this.cache.put(msg, clientIp, via, tcp, r.reply, before);
      return r.reply;
    }
    return this.forward(r.forward);
  }

  private async forward(f: { upstreams: string[]; query: Buffer; question: Question; id: number }): Promise<Buffer> {
    // A copy: a UDP query is a view into the socket's batch memory, which the next batch reuses
    // while this forward still waits (and may retry over TCP).
    const r = { forward: { ...f, query: Buffer.from(f.query) } };
    this.stats.forwarded++;
    // An upstream that is one of our own listening addresses would loop the query back to us.
    const upstreams = r.forward.upstreams.filter((u) => {
      const p = parseUpstream(u);
      return !(p && p.port === this.opts.port && this.local.has(p.host));
    });
    const res = await this.forwarder.forward(r.forward.query, upstreams);
    return res.reply ?? encodeError(r.forward.id, RCODE.SERVFAIL, r.forward.question);
  }

  private async udpListener(networkId: string, address: string): Promise<BatchUdpSocket> {
    const onError = (err: Error): void => this.opts.log.warn({ err: String(err), address }, 'dns: udp socket error');
    // Local answers go back with the batch (one sendmmsg); a forward's answer comes later, alone,
    // from the same socket, so the client sees it from the address and port it asked.
    const serve = (b: Datagrams): void => {
      for (let i = 0; i < b.count; i++) {
        const out = this.handle(b.packet(i), b.address(i), networkId);
        if (out instanceof Promise) {
          const [port, from] = [b.port(i), b.address(i)];
          out.then(
            (reply) => reply && udp.send(reply, port, from),
            (err: unknown) => this.opts.log.error({ err: String(err) }, 'dns: forward failed'),
          );
        } else if (out) b.reply(i, out);
      }
    };
    const udp = await BatchUdpSocket.bind({ address, port: this.opts.port, onError }, serve);
    return udp;
  }

  private tcpListener(networkId: string, address: string): Promise<Server> {
    const tcp = createServer((conn) => {
      // Strangers are cut off at once: only endpoints of this network may hold a connection.
      const client = conn.remoteAddress?.replace(/^::ffff:/, '') ?? '';
      if (!this.opts.records.client(client, networkId)) return void conn.destroy();
      let buf = Buffer.alloc(0);
      conn.setTimeout(10_000, () => conn.destroy());
      conn.on('error', () => conn.destroy());
      conn.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (len > MAX_TCP_QUERY) return void conn.destroy();
          if (buf.length < 2 + len) return;
          const q = buf.subarray(2, 2 + len);
          buf = buf.subarray(2 + len);
          Promise.resolve(this.handle(Buffer.from(q), client, networkId, true)).then(
            (reply) => {
              if (!reply || conn.destroyed) return;
              const l = Buffer.alloc(2);
              l.writeUInt16BE(reply.length);
              conn.write(Buffer.concat([l, reply]));
            },
            () => conn.destroy(),
          );
        }
      });
    });
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.maxConnections = MAX_TCP_CONNECTIONS;
      tcp.listen({ port: this.opts.port, host: address, exclusive: true }, () => {
        tcp.off('error', reject);
        resolve(tcp);
      });
    });
  }

  /** Starts serving a network on its gateway addresses (idempotent). */
  async addNetwork(networkId: string, gateways: readonly string[]): Promise<void> {
    if (this.listeners.has(networkId)) return;
    const ls: Listener[] = [];
    try {
      for (const g of gateways) {
        const udp = await this.udpListener(networkId, g);
        try {
          ls.push({ udp, tcp: await this.tcpListener(networkId, g) });
        } catch (err) {
          udp.close(); // not in ls yet: close it here or port 53 stays taken
          throw err;
        }
      }
    } catch (err) {
      for (const l of ls) this.closeListener(l);
      throw new Error(`dns: listen on ${gateways.join(', ')} port ${this.opts.port}: ${(err as Error).message}`);
    }
    this.listeners.set(networkId, ls);
    this.gateways.set(networkId, gateways);
    for (const g of gateways) this.local.add(g);
  }

  private readonly gateways = new Map<string, readonly string[]>();

  private closeListener(l: Listener): void {
    l.udp.close();
    l.tcp.close();
  }

  removeNetwork(networkId: string): void {
    for (const l of this.listeners.get(networkId) ?? []) this.closeListener(l);
    this.listeners.delete(networkId);
    for (const g of this.gateways.get(networkId) ?? []) this.local.delete(g);
    this.gateways.delete(networkId);
  }

  get counters(): Readonly<{ answered: number; forwarded: number; dropped: number }> {
    return this.stats;
  }

  close(): void {
    for (const id of [...this.listeners.keys()]) this.removeNetwork(id);
    this.forwarder.close();
  }
}
