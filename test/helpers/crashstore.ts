// A store that dies at its k-th transaction, before or after writing it: every later call hangs,
// like netloomd killed with SIGKILL at that point. Wraps any Store (MemoryStore in unit tests).
import type { Compare, Store, TxnOp, TxnOptions } from '../../store/types.js';

export class CrashStore implements Store {
  private n = 0;
  private dead = false;
  private signal!: () => void;
  readonly crashed = new Promise<void>((r) => (this.signal = r));
  constructor(
    private readonly inner: Store,
    private readonly at: number,
    private readonly mode: 'before' | 'after',
  ) {}
  private hang<T>(): Promise<T> {
    return new Promise<T>(() => undefined);
  }
  get<T>(k: string) {
    return this.dead ? this.hang<undefined>() : this.inner.get<T>(k);
  }
  list<T>(p: string) {
    return this.dead ? this.hang<never[]>() : this.inner.list<T>(p);
  }
  async txn(c: readonly Compare[], o: readonly TxnOp[], opts?: TxnOptions): Promise<boolean> {
    if (this.dead) return this.hang();
    if (++this.n !== this.at) return this.inner.txn(c, o, opts);
    if (this.mode === 'after') await this.inner.txn(c, o, opts);
    this.dead = true;
    this.signal();
    return this.hang();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
