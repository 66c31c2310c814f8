// The reaper: deletes the links that a disconnect or a network rm retired (down, out of their
// bridge, renamed: they carry nothing and their names and addresses are free) once the daemon is
// idle. Deleting a device holds the kernel's RTNL lock for tens of ms (its unregistration waits
// for RCU grace periods), so a delete started in the background at once would slow the next
// netlink request of any kind; here a delete waits until no operation has been queued or
// running for `quietMs`, and takes one queue slot of its own, so an operation that arrives
// waits for at most one delete. A backlog above `maxPending` (a daemon never idle) is reaped one
// link after each operation instead.
// Crash-safe by the tags: a retired link keeps its alias, and the start-up sweep
// (reconcile.ts removeOrphans) deletes every tagged link no record explains.
import { logFailures } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export interface ReaperOptions {
  /** How long the queue must stay empty before a delete (ms). */
  readonly quietMs: number;
  /** Pending links above which one is reaped after every operation, idle or not. */
  readonly maxPending?: number;
  /** Arms a timer and returns its cancel; injectable so unit tests fire it by hand. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}

export interface ReaperHooks {
  /** Runs `fn` in the controller's queue, in a slot marked as the reaper's. */
  readonly enqueue: (fn: () => Promise<void>) => Promise<void>;
  readonly del: (name: string) => Promise<void>;
  readonly log: Logger;
}

const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class Reaper {
  /** Retired links waiting for their delete, oldest first. */
  readonly pending = new Set<string>();
  private busy = 0;
  private cancel?: () => void;
  private closed = false;
  /** The quiet period has passed since the last operation (only reaper slots ran since). */
  private quiet = false;

  constructor(
    private readonly opts: ReaperOptions,
    private readonly hooks: ReaperHooks,
  ) {}

  /** A driver retired `name`: delete it later. */
  add(name: string): void {
    this.pending.add(name);
  }

  /** An operation enters the queue: no delete starts until it is over. */
  begin(isReap: boolean): void {
    this.busy++;
    if (!isReap) this.quiet = false;
    this.cancel?.();
    this.cancel = undefined;
  }

  /** An operation left the queue. When none is left, the next delete is due after the quiet
   *  period, or at once if it has passed already (only the reaper's own slots ran since). */
  end(wasReap: boolean): void {
    this.busy--;
    if (!wasReap && this.pending.size > (this.opts.maxPending ?? 64)) this.reapNext();
    else if (this.busy === 0) this.arm(this.quiet ? 0 : this.opts.quietMs);
  }

  private arm(ms: number): void {
    if (this.closed || !this.pending.size) return;
    this.cancel?.();
    this.cancel = (this.opts.schedule ?? realTimer)(() => {
      this.cancel = undefined;
      if (this.busy !== 0) return;
      this.quiet = true;
      this.reapNext();
    }, ms);
  }

  private reapNext(): void {
    const name = this.pending.values().next().value;
    if (name !== undefined) void this.hooks.enqueue(() => this.reap(name));
  }

  /** One delete. A failure is logged and the link dropped from the list: the start-up sweep (and
   *  doctor, which then lists it as unexplained) still knows it by its tag. */
  private async reap(name: string): Promise<void> {
    if (!this.pending.has(name)) return; // settled meanwhile
    try {
      await this.hooks.del(name);
    } catch (err) {
      logFailures(this.hooks.log, err, `reaper: deleting ${name} failed`);
    } finally {
      this.pending.delete(name);
    }
  }

  /** Deletes every pending link now; call it inside a queue slot. */
  async settle(): Promise<string[]> {
    const names = [...this.pending];
    for (const n of names) await this.reap(n);
    return names;
  }

  /** No delete starts by itself any more (shutdown; settle() still works). */
  close(): void {
    this.closed = true;
    this.cancel?.();
    this.cancel = undefined;
  }
}
