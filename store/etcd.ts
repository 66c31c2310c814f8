// etcd v3 through its JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/*, /v3/watch):
// the Store interface for a cluster, plus leases and watches. Plain HTTP/1.1 from node:http, no
// gRPC stack: every call is one small JSON request, a watch one long chunked response.
// Keys live under a prefix (default /netloom/); values are JSON. etcdClusterStore adapts the
// client to the ClusterStore interface the overlay driver's cluster uses (store/cluster.ts).
import { request, type IncomingMessage } from 'node:http';
import { isLeaseLost, unavailable, invalid } from '../common/errors.js';
import type { ClusterStore, WatchEvent } from './cluster.js';
import type { Compare, KvEntry, Store, TxnOp, TxnOptions } from './types.js';

export type { WatchEvent } from './cluster.js';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** One past the last key with this prefix: etcd's range_end for "every key starting with". */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      b[i]++;
      return b.subarray(0, i + 1).toString('base64');
    }
  }
  return b64('\0');
}

export interface EtcdEndpoint {
  readonly host: string;
  readonly port: number;
}

/** etcd://host:port[,host:port...] — the --cluster-store value. */
export function parseClusterStore(url: string): EtcdEndpoint[] {
  const m = /^etcd:\/\/(.+)$/.exec(url.trim());
  if (!m) throw invalid('NL_BAD_CLUSTER_STORE', `invalid --cluster-store "${url}": expected etcd://HOST:PORT[,HOST:PORT...]`);
  return m[1].split(',').map((hp) => {
    const x = /^(\[[0-9a-fA-F:]+\]|[^:/\[\]]+):(\d{1,5})$/.exec(hp);
    const port = Number(x?.[2]);
    if (!x || port < 1 || port > 65535) throw invalid('NL_BAD_CLUSTER_STORE', `invalid --cluster-store "${url}": "${hp}" is not HOST:PORT`);
    return { host: x[1].replace(/^\[|\]$/g, ''), port };
  });
}

interface RawKv {
  key?: string;
  value?: string;
  version?: string;
  mod_revision?: string;
}

export class EtcdClient implements Store {
  private current = 0;

  constructor(
    private readonly endpoints: readonly EtcdEndpoint[],
    private readonly prefix = '/netloom/',
    private readonly timeoutMs = 3000,
  ) {}

  get where(): string {
    return this.endpoints.map((e) => `${e.host}:${e.port}`).join(',');
  }

  /** One JSON call, trying each endpoint in turn; unreachable etcd is one clear error. */
  async call<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const ep = this.endpoints[(this.current + i) % this.endpoints.length];
      try {
        const r = await this.post(ep, path, body);
        this.current = (this.current + i) % this.endpoints.length;
        return r as T;
      } catch (err) {
        // etcd answered: asking another member would get the same answer.
        if (isLeaseLost(err)) throw err;
        last = err;
        // A write that timed out may have been applied: sending it to another member would
        // make its own success look like a lost race. Let the caller decide.
        if (path === '/v3/kv/txn' && /no answer within/.test(String(err))) break;
      }
    }
    throw unavailable('NL_CLUSTER_UNREACHABLE', `cluster store etcd://${this.where} is unreachable: ${last instanceof Error ? last.message : String(last)}`);
  }

  private post(ep: EtcdEndpoint, path: string, body: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request(
        {
          host: ep.host,
          port: ep.port,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300) {
              if (text.includes('requested lease not found')) {
                return reject(
                  unavailable('NL_CLUSTER_LEASE_LOST', `cluster store etcd://${this.where} no longer knows this host's lease (it expired): ${path}`),
                );
              }
              return reject(new Error(`${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
            }
            try {
              resolve(JSON.parse(text || '{}'));
            } catch {
              reject(new Error(`${path}: not JSON: ${text.slice(0, 100)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A stored value that is not JSON (written by hand, or by another tool) reads as undefined:
   *  one bad key must not stop a host from mirroring the rest. */
  private entry<T>(kv: RawKv): KvEntry<T> {
    return { key: unb64(kv.key).slice(this.prefix.length), value: parseJson(unb64(kv.value)) as T, version: Number(kv.version ?? 0) };
  }

  async get<T = unknown>(key: string): Promise<KvEntry<T> | undefined> {
    const r = await this.call<{ kvs?: RawKv[] }>('/v3/kv/range', { key: b64(this.prefix + key) });
    return r.kvs?.[0] ? this.entry<T>(r.kvs[0]) : undefined;
  }

  async list<T = unknown>(prefix: string): Promise<KvEntry<T>[]> {
    return (await this.listAt<T>(prefix)).entries;
  }

  /** A prefix read and the store revision it saw (a watch from revision + 1 misses nothing). */
  async listAt<T = unknown>(prefix: string): Promise<{ entries: KvEntry<T>[]; revision: number }> {
    const full = this.prefix + prefix;
    const r = await this.call<{ kvs?: RawKv[]; header?: { revision?: string } }>('/v3/kv/range', { key: b64(full), range_end: prefixEnd(full) });
    return { entries: (r.kvs ?? []).map((kv) => this.entry<T>(kv)), revision: Number(r.header?.revision ?? 0) };
  }

  /** `lease` as ClusterStore.txn has it; Store.txn's options (a local cache to flush) mean nothing here. */
  async txn(compares: readonly Compare[], ops: readonly TxnOp[], leaseOrOpts?: string | TxnOptions): Promise<boolean> {
    const lease = typeof leaseOrOpts === 'string' ? leaseOrOpts : undefined;
    const r = await this.call<{ succeeded?: boolean }>('/v3/kv/txn', {
      compare: compares.map((c) => ({ key: b64(this.prefix + c.key), target: 'VERSION', result: 'EQUAL', version: String(c.version) })),
      success: ops.map((o) =>
        o.op === 'put'
          ? { request_put: { key: b64(this.prefix + o.key), value: b64(JSON.stringify(o.value)), ...(lease ? { lease } : {}) } }
          : { request_delete_range: { key: b64(this.prefix + o.key) } },
      ),
    });
    return r.succeeded === true;
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const r = await this.call<{ ID?: string }>('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (!r.ID) throw new Error('lease grant returned no ID');
    return r.ID;
  }

  /** Renews a lease; false when etcd no longer knows it (it expired). */
  async keepAlive(lease: string): Promise<boolean> {
    const r = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease });
    return Number(r.result?.TTL ?? 0) > 0;
  }

  async revoke(lease: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: lease }).catch(() => undefined);
  }

  /** Streams events under `prefix` from `fromRevision`; ends (onEnd) on any error or close. */
  watch(prefix: string, fromRevision: number, onEvents: (evs: WatchEvent[]) => void, onEnd: (err?: Error) => void): () => void {
    const full = this.prefix + prefix;
    const ep = this.endpoints[this.current];
    const body = JSON.stringify({ create_request: { key: b64(full), range_end: prefixEnd(full), start_revision: String(fromRevision) } });
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const req = request(
      {
        host: ep.host,
        port: ep.port,
        method: 'POST',
        path: '/v3/watch',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res: IncomingMessage) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          // The gateway writes one JSON object per message, newline-separated.
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              const m = JSON.parse(line) as { result?: { events?: { type?: string; kv?: RawKv }[]; canceled?: boolean } };
              if (m.result?.canceled) return end(new Error('watch canceled (compacted?)'));
              const evs = (m.result?.events ?? []).map((e): WatchEvent => {
                const key = unb64(e.kv?.key).slice(this.prefix.length);
                return e.type === 'DELETE' ? { type: 'del', key } : { type: 'put', key, value: parseJson(unb64(e.kv?.value)) };
              });
              if (evs.length) onEvents(evs);
            } catch (err) {
              end(err as Error);
            }
          }
        });
        res.on('end', () => end(new Error('watch stream ended')));
        res.on('error', end);
      },
    );
    req.on('error', end);
    req.end(body);
    return () => {
      ended = true;
      req.destroy();
    };
  }

  async close(): Promise<void> {
    /* nothing pooled */
  }
}

/** The ClusterStore over an etcd client: the same calls, named etcd://host:port in messages. */
export function etcdClusterStore(kv: EtcdClient): ClusterStore {
  return {
    where: `etcd://${kv.where}`,
    get: <T>(key: string) => kv.get<T>(key),
    listAt: <T>(prefix: string) => kv.listAt<T>(prefix),
    txn: (compares, ops, lease) => kv.txn(compares, ops, lease),
    grantLease: (ttl) => kv.grantLease(ttl),
    keepAlive: (lease) => kv.keepAlive(lease),
    revoke: (lease) => kv.revoke(lease),
    watch: (prefix, from, onEvents, onEnd) => kv.watch(prefix, from, onEvents, onEnd),
  };
}
