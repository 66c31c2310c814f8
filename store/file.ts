// The embedded single-host store: an in-memory map made durable by a write-ahead log.
// Every transaction is one checksummed record (store/format.ts), appended and fdatasync'ed before
// txn() resolves (with `sync: false`, appended only: the next synced record's fdatasync flushes
// it too), so a kill -9 at any point loses nothing that was acknowledged; a torn last
// record (the kill landed mid-write) was never acknowledged and is dropped on open. Any other bad
// record, or a bad snapshot, stops the open with the place named: replaying past it would lose
// acknowledged transactions silently. The log is folded into a snapshot (write temp, fsync,
// rename, fsync dir) every COMPACT_EVERY transactions, which keeps the cost of a write flat
// however many networks exist; a compaction also upgrades a format-1 store.
import { closeSync, existsSync, fdatasyncSync, fsyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { unavailable } from '../common/errors.js';
import { tryLock, type FileLock } from '../system/lock.js';
import { describeDamage, encodeRecord, encodeSnapshot, parseSnapshot, scanWal, type Damage, type SnapshotBody, type WalScan } from './format.js';
import { MemoryStore } from './memory.js';
import type { Compare, TxnOp, TxnOptions } from './types.js';

export const COMPACT_EVERY = 2000;
export const WAL_FILE = 'wal.log';
export const SNAPSHOT_FILE = 'snapshot.json';
export const LOCK_FILE = 'netloomd.lock';
/** Written by a salvage; the controller then removes nothing the records do not explain. */
export const SALVAGED_KEY = 'meta/salvaged';
/** The daemon's API and plugin sockets, as its last start had them. */
export const SOCKETS_KEY = 'meta/sockets';

export interface SalvageRecord {
  readonly at: string;
  /** Where each damaged file was moved. */
  readonly movedAside: string[];
  readonly damage: string[];
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface StoreCheck {
  readonly snapshot?: SnapshotBody;
  readonly wal: WalScan;
  readonly damage: Damage[];
  /** Records (snapshot entries aside) in the first release's format, without checksums. */
  readonly oldFormat: boolean;
}

/** Reads the store's files and checks every record; changes nothing (`netloom store verify`). */
export function checkStore(dir: string): StoreCheck {
  const snapPath = join(dir, SNAPSHOT_FILE);
  const walPath = join(dir, WAL_FILE);
  const snap = existsSync(snapPath) ? parseSnapshot(readFileSync(snapPath)) : {};
  // Against a damaged snapshot the log's first revision cannot be judged: it is not a gap.
  const snapRev = snap.damage ? undefined : (snap.body?.rev ?? 0);
  const wal = scanWal(existsSync(walPath) ? readFileSync(walPath) : Buffer.alloc(0), snapRev);
  const damage = [...(snap.damage ? [snap.damage] : []), ...wal.damage];
  return { snapshot: snap.body, wal, damage, oldFormat: Boolean(snap.old) || wal.oldRecords > 0 };
}

/** Every value the records that verify hold, read without the lock and changing nothing (for
 *  `netloom system reset`, which must find what netloom made even in a damaged store). */
export function readRecords(dir: string): Map<string, unknown> {
  const c = checkStore(dir);
  const out = new Map<string, unknown>((c.snapshot?.entries ?? []).map((e) => [e.key, e.value]));
  for (const rec of c.wal.records) {
    if (rec.rev <= (c.snapshot?.rev ?? 0)) continue;
    for (const o of rec.ops) {
      if (o.op === 'del') out.delete(o.key);
      else out.set(o.key, o.value);
    }
  }
  return out;
}

const recoverHint = (dir: string): string =>
  `run "netloom store verify --data-dir ${dir}" to list the damage, or start "netloomd --salvage" to keep every record that verifies (the damaged file is moved aside)`;

export class FileStore extends MemoryStore {
  private rev = 0;
  private walLines = 0;
  private walFd = -1;
  private lockHandle?: FileLock;
  /** Set when this open salvaged a damaged store. */
  salvaged?: SalvageRecord;

  private constructor(
    private readonly dir: string,
    private readonly compactEvery: number,
  ) {
    super();
  }

  /** `compactEvery` is for tests, which want a compaction without thousands of fsyncs.
   *  `salvage` keeps every record that verifies instead of refusing a damaged store. */
  static open(dir: string, opts: { compactEvery?: number; salvage?: boolean } = {}): FileStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = new FileStore(dir, opts.compactEvery ?? COMPACT_EVERY);
    s.lock();
    try {
      s.load(opts.salvage ?? false);
    } catch (err) {
      s.lockHandle?.release();
      throw err;
    }
    return s;
  }

  /** One daemon per data dir: a second one would reconcile away the first one's objects. */
  private lock(): void {
    const got = tryLock(join(this.dir, LOCK_FILE));
    if ('heldBy' in got) {
      throw unavailable(
        'NL_STORE_LOCKED',
        `data dir ${this.dir} is in use by netloomd pid ${got.heldBy || '(unknown)'}: stop it first, or give this one another --data-dir`,
      );
    }
    this.lockHandle = got;
  }

  private load(salvage: boolean): void {
    const check = checkStore(this.dir);
    if (check.damage.length && !salvage) {
      throw unavailable('NL_STORE_DAMAGED', `${describeDamage(this.dir, check.damage[0])}; ${recoverHint(this.dir)}`);
    }
    if (check.snapshot) {
      this.rev = check.snapshot.rev;
      for (const e of check.snapshot.entries) this.data.set(e.key, e);
    }
    const snapRev = this.rev;
    for (const rec of check.wal.records) {
      // Records a snapshot already holds (a crash between compaction's rename and truncate).
      if (rec.rev <= snapRev) continue;
      this.applyLogged(rec.ops);
      this.rev = Math.max(this.rev, rec.rev);
    }
    this.walLines = check.wal.records.length;
    const walPath = join(this.dir, WAL_FILE);
    if (check.damage.length) {
      this.salvage(check.damage);
      return;
    }
    this.walFd = openSync(walPath, 'a+', 0o600);
    const size = fstatSync(this.walFd).size;
    if (check.wal.goodBytes < size) ftruncateSync(this.walFd, check.wal.goodBytes);
    if (check.wal.missingNewline) writeSync(this.walFd, '\n');
    if (check.wal.goodBytes < size || check.wal.missingNewline) fdatasyncSync(this.walFd);
  }

  /** Moves each damaged file aside (never deletes it), writes what survived as a fresh snapshot
   *  and empty log, and records the salvage in the store itself. */
  private salvage(damage: readonly Damage[]): void {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const movedAside: string[] = [];
    for (const file of new Set(damage.map((d) => d.file))) {
      const to = join(this.dir, `${file}.damaged-${stamp}`);
      renameSync(join(this.dir, file), to);
      movedAside.push(to);
    }
    fsyncDir(this.dir);
    this.walFd = openSync(join(this.dir, WAL_FILE), 'a+', 0o600);
    this.salvaged = { at: new Date().toISOString(), movedAside, damage: damage.map((d) => describeDamage(this.dir, d)) };
    this.compact();
    this.txnSync([], [{ op: 'put', key: SALVAGED_KEY, value: this.salvaged }]);
  }

  /** Replays a logged transaction: versions advance exactly as they did when it was written. */
  private applyLogged(ops: readonly TxnOp[]): void {
    this.apply(ops);
  }

  override async txn(compares: readonly Compare[], ops: readonly TxnOp[], opts: TxnOptions = {}): Promise<boolean> {
    return this.txnSync(compares, ops, opts.sync ?? true);
  }

  txnSync(compares: readonly Compare[], ops: readonly TxnOp[], sync = true): boolean {
    if (!this.check(compares)) return false;
    if (ops.length === 0) return true;
    const rev = this.rev + 1;
    const size = fstatSync(this.walFd).size;
    try {
      writeSync(this.walFd, encodeRecord({ rev, ops: [...ops] }));
      if (sync) fdatasyncSync(this.walFd);
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
    const tmp = join(this.dir, `${SNAPSHOT_FILE}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, encodeSnapshot({ rev: this.rev, entries: [...this.data.values()] }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, SNAPSHOT_FILE));
    fsyncDir(this.dir);
    // A crash before this truncate is harmless: replay skips revisions the snapshot holds.
    ftruncateSync(this.walFd, 0);
    fdatasyncSync(this.walFd);
    this.walLines = 0;
  }

  override async close(): Promise<void> {
    if (this.walFd >= 0) {
      fdatasyncSync(this.walFd); // an unsynced last record
      closeSync(this.walFd);
    }
    this.walFd = -1;
    this.lockHandle?.release();
  }
}
