// The on-disk format of the file store, and the check that reads it (pure: bytes in, records and
// damage out). Like etcd's WAL, every record carries a checksum, so a damaged record is found
// instead of being read as the end of the log.
//
//   wal.log        one record a line:  2 <sha256 of JSON, hex> <JSON {rev, ops}>
//                  (format 1, the first release's, is the bare JSON line; still read)
//   snapshot.json  a header line {"format":2,"rev":N,"sha256":"<hex>"} and the JSON body
//                  {rev, entries} (format 1: the bare body)
//
// Revisions in the log follow each other by exactly one, so a lost record is damage too.
import { createHash } from 'node:crypto';
import type { KvEntry, TxnOp } from './types.js';

export const FORMAT = 2;

export interface WalRecord {
  readonly rev: number;
  readonly ops: TxnOp[];
}

export interface SnapshotBody {
  readonly rev: number;
  readonly entries: KvEntry[];
}

/** One damaged place: the file, the byte offset where the bad record starts, and the last good
 *  revision before it (what a reader needs to judge what was lost). */
export interface Damage {
  readonly file: 'wal.log' | 'snapshot.json';
  readonly offset: number;
  readonly afterRev: number;
  readonly rev?: number;
  readonly problem: string;
}

export interface WalScan {
  /** Records that verify, in file order (after a damaged one too: salvage keeps them). */
  readonly records: (WalRecord & { offset: number })[];
  readonly damage: Damage[];
  /** Bytes of the log up to the end of the last whole record before any damage. */
  readonly goodBytes: number;
  /** A torn (never acknowledged) tail was found at goodBytes and is to be cut off. */
  readonly tornTail: boolean;
  /** The last record verified but its newline is missing. */
  readonly missingNewline: boolean;
  /** Records in format 1 (no checksum): upgraded by the next compaction. */
  readonly oldRecords: number;
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

export function encodeRecord(rec: WalRecord): string {
  const json = JSON.stringify(rec);
  return `${FORMAT} ${sha256(json)} ${json}\n`;
}

export function encodeSnapshot(body: SnapshotBody): string {
  const json = JSON.stringify(body);
  return `${JSON.stringify({ format: FORMAT, rev: body.rev, sha256: sha256(json) })}\n${json}`;
}

function isRecord(x: unknown): x is WalRecord {
  const r = x as WalRecord;
  return typeof r === 'object' && r !== null && Number.isInteger(r.rev) && Array.isArray(r.ops);
}

/** One line of the log: the record, or why it is not one. */
function decodeLine(line: Buffer): { rec?: WalRecord; old?: boolean; problem?: string } {
  const text = line.toString('utf8');
  if (text.startsWith('{')) {
    try {
      const rec: unknown = JSON.parse(text);
      return isRecord(rec) ? { rec, old: true } : { problem: 'not a record' };
    } catch {
      return { problem: 'not valid JSON' };
    }
  }
  const m = /^(\d+) ([0-9a-f]{64}) (.*)$/s.exec(text);
  if (!m) return { problem: 'no record header' };
  if (Number(m[1]) !== FORMAT) return { problem: `format ${m[1]} is newer than this netloom (${FORMAT})` };
  if (sha256(m[3]) !== m[2]) return { problem: 'checksum mismatch' };
  try {
    const rec: unknown = JSON.parse(m[3]);
    return isRecord(rec) ? { rec } : { problem: 'not a record' };
  } catch {
    return { problem: 'not valid JSON' };
  }
}

/** Reads a log. `snapRev` is the snapshot's revision: the first record may not skip past it
 *  (undefined: the snapshot is damaged, so no first revision can be judged a gap). */
export function scanWal(buf: Buffer, snapRev: number | undefined): WalScan {
  const records: (WalRecord & { offset: number })[] = [];
  const damage: Damage[] = [];
  let offset = 0;
  let goodBytes = 0;
  let tornTail = false;
  let missingNewline = false;
  let oldRecords = 0;
  let lastRev: number | undefined;
  let afterBad = false;
  while (offset < buf.length) {
    const nl = buf.indexOf(0x0a, offset);
    const end = nl < 0 ? buf.length : nl;
    const line = buf.subarray(offset, end);
    const tail = nl < 0;
    if (line.length) {
      const d = decodeLine(line);
      const afterRev = lastRev ?? snapRev ?? 0;
      if (!d.rec) {
        // Only a last record without its newline can be one that was never acknowledged: txn()
        // writes a record and its newline in one write and fsyncs before it answers.
        if (tail) tornTail = true;
        else damage.push({ file: 'wal.log', offset, afterRev, problem: d.problem ?? 'unreadable' });
        afterBad = true;
      } else {
        const expected = lastRev === undefined ? undefined : lastRev + 1;
        // The record after a damaged one cannot be judged: the damaged one held an unknown revision.
        const gap = afterBad ? false : expected === undefined ? snapRev !== undefined && d.rec.rev > snapRev + 1 : d.rec.rev !== expected;
        afterBad = false;
        if (gap) damage.push({ file: 'wal.log', offset, afterRev, rev: d.rec.rev, problem: `revision ${d.rec.rev} follows ${afterRev}: records are missing` });
        records.push({ ...d.rec, offset });
        lastRev = d.rec.rev;
        if (d.old) oldRecords++;
        if (!damage.length) {
          goodBytes = end + (tail ? 0 : 1);
          missingNewline = tail;
        }
      }
    } else if (!damage.length) {
      goodBytes = end + 1;
    }
    offset = end + 1;
  }
  return { records, damage, goodBytes, tornTail, missingNewline, oldRecords };
}

/** Reads a snapshot: its body, or the damage. */
export function parseSnapshot(buf: Buffer): { body?: SnapshotBody; damage?: Damage; old?: boolean } {
  const text = buf.toString('utf8');
  const bad = (problem: string, rev?: number, offset = 0): { damage: Damage } => ({ damage: { file: 'snapshot.json', offset, afterRev: 0, rev, problem } });
  if (text.startsWith('{"format"')) {
    const nl = text.indexOf('\n');
    let head: { format?: number; rev?: number; sha256?: string };
    try {
      head = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as typeof head;
    } catch {
      return bad('unreadable header');
    }
    if (head.format !== FORMAT) return bad(`format ${String(head.format)} is not ${FORMAT}`, head.rev);
    const json = text.slice(nl + 1);
    if (nl < 0 || sha256(json) !== head.sha256) return bad('checksum mismatch', head.rev, Buffer.byteLength(text.slice(0, nl + 1)));
    const body = JSON.parse(json) as SnapshotBody;
    return body.rev === head.rev ? { body } : bad(`body revision ${body.rev} is not the header's ${head.rev}`, head.rev);
  }
  try {
    const body = JSON.parse(text) as SnapshotBody;
    if (!Number.isInteger(body.rev) || !Array.isArray(body.entries)) return bad('not a snapshot');
    return { body, old: true };
  } catch (err) {
    // V8 names the position of a JSON syntax error; that is the best offset a format-1 file has.
    const at = /position (\d+)/.exec(String(err));
    return bad('not valid JSON', undefined, at ? Buffer.byteLength(text.slice(0, Number(at[1]))) : 0);
  }
}

/** One line a user can act on. */
export function describeDamage(dir: string, d: Damage): string {
  const rev = d.rev !== undefined ? `revision ${d.rev}` : d.file === 'wal.log' ? `the record after revision ${d.afterRev}` : 'revision unknown';
  return `${dir}/${d.file} is damaged at byte ${d.offset} (${rev}): ${d.problem}`;
}
