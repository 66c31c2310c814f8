// The in-memory map both the file store and unit tests use.
import type { Compare, KvEntry, Store, TxnOp, TxnOptions } from './types.js';

export class MemoryStore implements Store {
  protected readonly data = new Map<string, KvEntry>();

  async get<T>(key: string): Promise<KvEntry<T> | undefined> {
    return this.data.get(key) as KvEntry<T> | undefined;
  }

  async list<T>(prefix: string): Promise<KvEntry<T>[]> {
    const out: KvEntry<T>[] = [];
    for (const [k, v] of this.data) if (k.startsWith(prefix)) out.push(v as KvEntry<T>);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  protected check(compares: readonly Compare[]): boolean {
    return compares.every((c) => (this.data.get(c.key)?.version ?? 0) === c.version);
  }

  protected apply(ops: readonly TxnOp[]): void {
    for (const o of ops) {
      if (o.op === 'del') this.data.delete(o.key);
      else {
        const version = (this.data.get(o.key)?.version ?? 0) + 1;
        // Stored values are copies: a caller mutating its object later never changes the store.
        this.data.set(o.key, { key: o.key, value: structuredClone(o.value), version });
      }
    }
  }

  /** Nothing to flush: `opts` changes nothing here. */
  async txn(compares: readonly Compare[], ops: readonly TxnOp[], _opts?: TxnOptions): Promise<boolean> {
    if (!this.check(compares)) return false;
    this.apply(ops);
    return true;
  }

  async close(): Promise<void> {}
}
