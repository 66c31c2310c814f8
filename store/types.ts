// The key-value interface every persistent part of netloom uses. The local file store backs a
// single host; an etcd store (overlay issue) implements the same interface for a cluster.
// Reservations are compare-and-set transactions, never read-then-write.

export interface KvEntry<T = unknown> {
  readonly key: string;
  readonly value: T;
  /** Bumped on every write of this key; a key that does not exist has version 0. */
  readonly version: number;
}

export type TxnOp = { readonly op: 'put'; readonly key: string; readonly value: unknown } | { readonly op: 'del'; readonly key: string };

/** The transaction applies only if every compared key has exactly this version (0 = absent). */
export interface Compare {
  readonly key: string;
  readonly version: number;
}

export interface Store {
  get<T = unknown>(key: string): Promise<KvEntry<T> | undefined>;
  list<T = unknown>(prefix: string): Promise<KvEntry<T>[]>;
  /** Atomic and durable when it resolves true; false when a compare failed (nothing written). */
  txn(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<boolean>;
  close(): Promise<void>;
}

export const put = (key: string, value: unknown): TxnOp => ({ op: 'put', key, value });
export const del = (key: string): TxnOp => ({ op: 'del', key });
export const absent = (key: string): Compare => ({ key, version: 0 });
