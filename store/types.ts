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

/** `sync: false`: written (a kill -9 after it resolves loses nothing: the page cache keeps it),
 *  but not flushed to the disk before it resolves; the next synced transaction flushes it with
 *  its own. For a "creating" or "deleting" mark only: one that a power cut may lose, as the
 *  power cut loses the kernel objects it is about (links, rules, namespaces do not survive a
 *  reboot). Stores without a cache to flush ignore it. */
export interface TxnOptions {
  readonly sync?: boolean;
}

export interface Store {
  get<T = unknown>(key: string): Promise<KvEntry<T> | undefined>;
  list<T = unknown>(prefix: string): Promise<KvEntry<T>[]>;
  /** Atomic and durable when it resolves true (written only, with `sync: false`); false when a
   *  compare failed (nothing written). */
  txn(compares: readonly Compare[], ops: readonly TxnOp[], opts?: TxnOptions): Promise<boolean>;
  close(): Promise<void>;
}

export const put = (key: string, value: unknown): TxnOp => ({ op: 'put', key, value });
export const del = (key: string): TxnOp => ({ op: 'del', key });
export const absent = (key: string): Compare => ({ key, version: 0 });
