// The embedded single-host store: an in-memory map made durable by a write-ahead log.
// Every transaction is one JSON line, appended and fdatasync'ed before txn() resolves, so a
// kill -9 at any point loses nothing that was acknowledged; a torn last line (the kill landed
// mid-write) was never acknowledged and is dropped on open. The log is folded into a snapshot
// (write temp, fsync, rename, fsync dir) every COMPACT_EVERY transactions, which keeps the cost
// of a write flat however many networks exist.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { unavailable } from '../common/errors.js';
import { MemoryStore } from './memory.js';
import type { Compare, KvEntry, TxnOp } from './types.js';

export const COMPACT_EVERY = 2000;

interface Snapshot {
  rev: number;
  entries: KvEntry[];
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FileStore extends MemoryStore {
  private rev = 0;
  private walLines = 0;
  private walFd = -1;

  private constructor(
    private readonly dir: string,
    private readonly compactEvery: number,
  ) {
    super();
  }

  /** `compactEvery` is for tests, which want a compaction without thousands of fsyncs. */
  static open(dir: string, opts: { compactEvery?: number } = {}): FileStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = new FileStore(dir, opts.compactEvery ?? COMPACT_EVERY);
    s.lock();
    s.load();
    return s;
  }

  private get lockPath(): string {
    return join(this.dir, 'netloomd.pid');
  }

  /** One daemon per data dir: a second one would reconcile away the first one's objects. */
  private lock(): void {
    if (existsSync(this.lockPath)) {
      const pid = Number(readFileSync(this.lockPath, 'utf8').trim());
      if (pid && pid !== process.pid && pidAlive(pid)) {
        throw unavailable('NL_STORE_LOCKED', `data dir ${this.dir} is in use by netloomd pid ${pid}`);
      }
      unlinkSync(this.lockPath);
    }
    writeFileSync(this.lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  }

  private load(): void {
    const snapPath = join(this.dir, 'snapshot.json');
    if (existsSync(snapPath)) {
      const snap = JSON.parse(readFileSync(snapPath, 'utf8')) as Snapshot;
      this.rev = snap.rev;
      for (const e of snap.entries) this.data.set(e.key, e);
    }
    const walPath = join(this.dir, 'wal.log');
    const text = existsSync(walPath) ? readFileSync(walPath, 'utf8') : '';
    // `good` counts the bytes of whole records. The element after the last newline is either
    // empty or a tail: a tail that parses is a whole record whose newline was lost (it gets its
    // newline back, or the next append would glue onto it); one that does not is torn.
    let good = 0;
    let missingNewline = false;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const tail = i === lines.length - 1;
      if (!line) {
        if (!tail) good += 1;
        continue;
      }
      let rec: { rev: number; ops: TxnOp[] };
      try {
        rec = JSON.parse(line) as { rev: number; ops: TxnOp[] };
      } catch {
        break; // torn: never acknowledged
      }
      if (rec.rev > this.rev) {
        this.applyLogged(rec.ops);
        this.rev = rec.rev;
      }
      this.walLines += 1;
      good += Buffer.byteLength(line) + (tail ? 0 : 1);
      missingNewline = tail;
    }
    this.walFd = openSync(walPath, 'a+', 0o600);
    if (good < Buffer.byteLength(text)) ftruncateSync(this.walFd, good);
    if (missingNewline) writeSync(this.walFd, '\n');
    if (good < Buffer.byteLength(text) || missingNewline) fdatasyncSync(this.walFd);
  }

  /** Replays a logged transaction: versions advance exactly as they did when it was written. */
  private applyLogged(ops: readonly TxnOp[]): void {
    this.apply(ops);
  }

  override async txn(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<boolean> {
    return this.txnSync(compares, ops);
  }

  txnSync(compares: readonly Compare[], ops: readonly TxnOp[]): boolean {
    if (!this.check(compares)) return false;
    if (ops.length === 0) return true;
    const rev = this.rev + 1;
    const size = fstatSync(this.walFd).size;
    try {
      writeSync(this.walFd, `${JSON.stringify({ rev, ops })}\n`);
      fdatasyncSync(this.walFd);
    } catch (err) {
      // A half-written line would swallow every later record on the next open: cut it off.
      try {
        ftruncateSync(this.walFd, size);
      } catch {
        /* the disk is failing; the open-time repair still drops an unparsable tail */
      }
      throw err;
    }
    this.apply(ops);
    this.rev = rev;
    if (++this.walLines >= this.compactEvery) this.compact();
    return true;
  }

  private compact(): void {
    const snap: Snapshot = { rev: this.rev, entries: [...this.data.values()] };
    const tmp = join(this.dir, 'snapshot.json.tmp');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(snap));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, 'snapshot.json'));
    fsyncDir(this.dir);
    // A crash before this truncate is harmless: replay skips revisions the snapshot holds.
    ftruncateSync(this.walFd, 0);
    fdatasyncSync(this.walFd);
    this.walLines = 0;
  }

  override async close(): Promise<void> {
    if (this.walFd >= 0) closeSync(this.walFd);
    this.walFd = -1;
    if (existsSync(this.lockPath) && readFileSync(this.lockPath, 'utf8').trim() === String(process.pid)) {
      unlinkSync(this.lockPath);
    }
  }
}
