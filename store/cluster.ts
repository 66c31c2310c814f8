// The narrow store a multi-host driver needs (the overlay cluster, drivers/overlay/cluster.ts):
// compare-and-set transactions, leases that take their keys with them when they expire, and a
// prefix watch from a revision. store/etcd.ts implements it over etcd (etcdClusterStore);
// store/memorycluster.ts in memory, for unit tests.
import type { Compare, KvEntry, TxnOp } from './types.js';

export interface WatchEvent {
  readonly type: 'put' | 'del';
  readonly key: string;
  readonly value?: unknown;
}

export interface ClusterStore {
  /** How messages name the store: etcd://host:port[,host:port]. */
  readonly where: string;
  get<T = unknown>(key: string): Promise<KvEntry<T> | undefined>;
  /** A prefix read and the store revision it saw (a watch from revision + 1 misses nothing). */
  listAt<T = unknown>(prefix: string): Promise<{ entries: KvEntry<T>[]; revision: number }>;
  /** Atomic; false when a compare failed (nothing written). Puts are bound to `lease` when given;
   *  a lease the store no longer knows throws NL_CLUSTER_LEASE_LOST. */
  txn(compares: readonly Compare[], ops: readonly TxnOp[], lease?: string): Promise<boolean>;
  grantLease(ttlSeconds: number): Promise<string>;
  /** Renews a lease; false when the store no longer knows it (it expired). */
  keepAlive(lease: string): Promise<boolean>;
  revoke(lease: string): Promise<void>;
  /** Streams events under `prefix` from `fromRevision`; ends (onEnd) on any error or close.
   *  Returns a function that stops it. */
  watch(prefix: string, fromRevision: number, onEvents: (evs: WatchEvent[]) => void, onEnd: (err?: Error) => void): () => void;
}
