// ClusterStore in memory, with etcd's semantics where the cluster depends on them: a version per
// key, a revision per transaction, leases whose expiry deletes their keys (and tells watchers),
// and a watch that replays from a revision. Faults for tests: a watch that goes silent while
// writes still succeed, a watch that breaks, a lease that expires.
import { unavailable } from '../common/errors.js';
import type { ClusterStore, WatchEvent } from './cluster.js';
import type { Compare, KvEntry, TxnOp } from './types.js';

interface Watcher {
  readonly prefix: string;
  readonly onEvents: (evs: WatchEvent[]) => void;
  readonly onEnd: (err?: Error) => void;
}

export class MemoryClusterStore implements ClusterStore {
  readonly where = 'etcd://memory:2379';
  readonly data = new Map<string, { value: unknown; version: number; lease?: string }>();
  revision = 0;
  /** While true, writes succeed but no watcher hears of them (a stalled stream). */
  silent = false;
  /** Leases etcd has forgotten (expired or revoked). */
  readonly expired = new Set<string>();
  private leases = 0;
  private readonly log: { rev: number; evs: WatchEvent[] }[] = [];
  private readonly watchers = new Set<Watcher>();

  async get<T>(key: string): Promise<KvEntry<T> | undefined> {
    const e = this.data.get(key);
    return e && { key, value: structuredClone(e.value) as T, version: e.version };
  }

  async listAt<T>(prefix: string): Promise<{ entries: KvEntry<T>[]; revision: number }> {
    const entries = [...this.data]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, e]) => ({ key, value: structuredClone(e.value) as T, version: e.version }));
    return { entries, revision: this.revision };
  }

  async txn(compares: readonly Compare[], ops: readonly TxnOp[], lease?: string): Promise<boolean> {
    if (lease && this.expired.has(lease)) throw unavailable('NL_CLUSTER_LEASE_LOST', `cluster store ${this.where} no longer knows lease ${lease} (it expired)`);
    if (!compares.every((c) => (this.data.get(c.key)?.version ?? 0) === c.version)) return false;
    const evs: WatchEvent[] = [];
    for (const o of ops) {
      if (o.op === 'del') {
        if (this.data.delete(o.key)) evs.push({ type: 'del', key: o.key });
      } else {
        this.data.set(o.key, { value: structuredClone(o.value), version: (this.data.get(o.key)?.version ?? 0) + 1, ...(lease ? { lease } : {}) });
        evs.push({ type: 'put', key: o.key, value: structuredClone(o.value) });
      }
    }
    this.emit(evs);
    return true;
  }

  async grantLease(): Promise<string> {
    return `L${++this.leases}`;
  }

  async keepAlive(lease: string): Promise<boolean> {
    return !this.expired.has(lease);
  }

  async revoke(lease: string): Promise<void> {
    this.expired.add(lease);
    const evs: WatchEvent[] = [];
    for (const [k, e] of this.data) {
      if (e.lease !== lease) continue;
      this.data.delete(k);
      evs.push({ type: 'del', key: k });
    }
    this.emit(evs);
  }

  /** What etcd does when a lease is not renewed within its TTL. */
  expire(lease: string): Promise<void> {
    return this.revoke(lease);
  }

  /** The lease the key was written under (tests look at which lease holds what). */
  leaseOf(key: string): string | undefined {
    return this.data.get(key)?.lease;
  }

  watch(prefix: string, fromRevision: number, onEvents: (evs: WatchEvent[]) => void, onEnd: (err?: Error) => void): () => void {
    const w: Watcher = { prefix, onEvents, onEnd };
    // Replays what happened since fromRevision, as etcd does, then streams.
    const missed = this.log.filter((l) => l.rev >= fromRevision).flatMap((l) => l.evs.filter((e) => e.key.startsWith(prefix)));
    this.watchers.add(w);
    if (missed.length) queueMicrotask(() => this.watchers.has(w) && onEvents(missed));
    return () => this.watchers.delete(w);
  }

  /** Ends every watch with an error (a broken stream, a compaction). */
  breakWatches(): void {
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) w.onEnd(new Error('watch broken by the test'));
  }

  get watching(): number {
    return this.watchers.size;
  }

  private emit(evs: WatchEvent[]): void {
    if (!evs.length) return;
    this.revision++;
    // Kept for replays; a silent window is lost to watchers as in a stalled stream, but a watch
    // made afterwards from an older revision still sees it.
    this.log.push({ rev: this.revision, evs });
    if (this.silent) return;
    for (const w of this.watchers) {
      const mine = evs.filter((e) => e.key.startsWith(w.prefix));
      if (mine.length) w.onEvents(mine);
    }
  }
}
