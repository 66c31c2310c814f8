// FileStore: compare-and-set, durability across reopen, torn WAL tails, compaction, the data-dir
// lock. Each test works in its own temp dir.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { COMPACT_EVERY, FileStore, SALVAGED_KEY, checkStore } from '../../store/file.js';
import { absent, del, put, type Store } from '../../store/types.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'netloom-store-'));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const all = async (s: Store) => (await s.list('')).map((e) => [e.key, e.value, e.version]);
const wal = (dir: string) => join(dir, 'wal.log');

async function reopen(s: FileStore, dir: string, opts = {}): Promise<FileStore> {
  await s.close();
  return FileStore.open(dir, opts);
}

describe('FileStore', () => {
  test('txn is compare-and-set: a failed compare writes nothing, not even to the log', async () => {
    const dir = tempDir();
    const s = FileStore.open(dir);
    assert.equal(await s.txn([absent('a')], [put('a', 1)]), true);
    const size = statSync(wal(dir)).size;
    assert.equal(await s.txn([absent('a')], [put('a', 2), put('b', 2)]), false);
    assert.equal(await s.txn([{ key: 'a', version: 2 }], [put('a', 3)]), false);
    assert.equal(statSync(wal(dir)).size, size);
    assert.equal(await s.txn([{ key: 'a', version: 1 }], [put('a', 4)]), true);
    assert.deepEqual(await all(s), [['a', 4, 2]]);
    await s.close();
  });

  test('stored values are copies: mutating the object after txn changes nothing', async () => {
    const s = FileStore.open(tempDir());
    const v = { n: 1 };
    await s.txn([], [put('k', v)]);
    v.n = 2;
    assert.deepEqual((await s.get('k'))?.value, { n: 1 });
    await s.close();
  });

  test('every acknowledged write, delete and version survives a reopen', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir);
    await s.txn([], [put('net/1', { name: 'front' }), put('net/2', { name: 'back' })]);
    await s.txn([], [del('net/1'), put('net/2', { name: 'back2' })]);
    const before = await all(s);
    s = await reopen(s, dir);
    assert.deepEqual(await all(s), before);
    assert.deepEqual(before, [['net/2', { name: 'back2' }, 2]]);
    await s.close();
  });

  test('a torn last WAL line is dropped, the store opens and later writes are durable', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir);
    await s.txn([], [put('a', 1)]);
    await s.close();
    appendFileSync(wal(dir), '{"rev":2,"ops":[{"op":"put","key":"b","va');
    s = FileStore.open(dir);
    assert.deepEqual(await all(s), [['a', 1, 1]]);
    await s.txn([], [put('c', 3)]);
    s = await reopen(s, dir);
    assert.deepEqual(await all(s), [
      ['a', 1, 1],
      ['c', 3, 1],
    ]);
    await s.close();
  });

  test('a last WAL line torn just before its newline does not swallow the next acknowledged write', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir);
    await s.txn([], [put('a', 1)]);
    await s.txn([], [put('b', 2)]);
    await s.close();
    writeFileSync(wal(dir), readFileSync(wal(dir), 'utf8').replace(/\n$/, ''));
    s = FileStore.open(dir);
    await s.txn([], [put('c', 3)]);
    s = await reopen(s, dir);
    assert.deepEqual((await s.get('c'))?.value, 3);
    await s.close();
  });

  test(`compaction (every ${COMPACT_EVERY} writes by default) keeps every value and version`, async () => {
    assert.equal(COMPACT_EVERY, 2000);
    const dir = tempDir();
    let s = FileStore.open(dir, { compactEvery: 10 });
    for (let i = 0; i < 45; i++) await s.txn([], i % 7 === 6 ? [del(`k/${i % 5}`)] : [put(`k/${i % 5}`, i)]);
    assert.ok(existsSync(join(dir, 'snapshot.json')));
    assert.ok(readFileSync(wal(dir), 'utf8').split('\n').filter(Boolean).length < 10);
    const before = await all(s);
    s = await reopen(s, dir, { compactEvery: 10 });
    assert.deepEqual(await all(s), before);
    await s.close();
  });

  test('a crash between writing the snapshot and truncating the WAL replays nothing twice', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir, { compactEvery: 3 });
    await s.txn([], [put('a', 1)]);
    await s.txn([], [put('a', 2)]);
    const log = readFileSync(wal(dir), 'utf8');
    await s.txn([], [put('a', 3)]); // compacts: snapshot at rev 3, empty WAL
    const before = await all(s);
    await s.close();
    writeFileSync(wal(dir), `${log}${JSON.stringify({ rev: 3, ops: [put('a', 3)] })}\n`);
    s = FileStore.open(dir);
    assert.deepEqual(await all(s), before);
    assert.deepEqual(before, [['a', 3, 3]]);
    await s.close();
  });

  test('after any sequence of writes, compactions and reopens the store equals a plain map', async () => {
    const op = fc.tuple(fc.constantFrom('put', 'del', 'reopen'), fc.nat(4), fc.nat(99));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const dir = tempDir();
        let s = FileStore.open(dir, { compactEvery: 4 });
        const model = new Map<string, number>();
        for (const [verb, k, v] of ops) {
          if (verb === 'reopen') s = await reopen(s, dir, { compactEvery: 4 });
          else if (verb === 'put') await s.txn([], [put(`k${k}`, v)]).then(() => model.set(`k${k}`, v));
          else await s.txn([], [del(`k${k}`)]).then(() => model.delete(`k${k}`));
        }
        s = await reopen(s, dir);
        assert.deepEqual(
          (await s.list<number>('')).map((e) => [e.key, e.value]),
          [...model].sort(([a], [b]) => (a < b ? -1 : 1)),
        );
        await s.close();
      }),
      { numRuns: 20 },
    );
  });
});

describe('FileStore: a transaction written with sync false', () => {
  test('survives a kill -9 right after it resolved (the page cache keeps it), with the synced ones around it', async () => {
    const dir = tempDir();
    const file = fileURLToPath(new URL('../../store/file.js', import.meta.url));
    const code =
      `const { FileStore } = await import(${JSON.stringify(file)}); const s = FileStore.open(${JSON.stringify(dir)}); ` +
      `await s.txn([], [{ op: 'put', key: 'a', value: 1 }]); ` +
      `await s.txn([], [{ op: 'put', key: 'b', value: 'creating' }], { sync: false }); ` +
      `console.log('written'); process.stdin.resume();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('written') && resolve());
      child.once('exit', (c) => reject(new Error(`child exited with ${c}`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const s = FileStore.open(dir);
    assert.deepEqual(await all(s), [
      ['a', 1, 1],
      ['b', 'creating', 1],
    ]);
    assert.equal(await s.txn([], [put('b', 'ready')]), true);
    const again = await reopen(s, dir);
    assert.deepEqual(await all(again), [
      ['a', 1, 1],
      ['b', 'ready', 2],
    ]);
    await again.close();
  });
});

describe('FileStore lock', () => {
  test('a second open of a dir another live process holds is refused naming that pid', async () => {
    const dir = tempDir();
    const file = fileURLToPath(new URL('../../store/file.js', import.meta.url));
    const code =
      `const { FileStore } = await import(${JSON.stringify(file)}); FileStore.open(${JSON.stringify(dir)}); ` +
      `console.log('ready'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (c) => reject(new Error(`child exited with ${c}`)));
      });
      assert.throws(
        () => FileStore.open(dir),
        (e: unknown) => e instanceof NetloomError && e.code === 'NL_STORE_LOCKED' && e.message.includes(`pid ${child.pid}`) && e.message.includes(dir),
      );
    } finally {
      child.stdin.end();
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  });

  test('a lock file naming a live unrelated pid (a reused pid, a zombie) does not block: the OS lock decides', async () => {
    const dir = tempDir();
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, 'netloomd.lock'), `${other.pid}\n`);
      const s = FileStore.open(dir);
      assert.equal(readFileSync(join(dir, 'netloomd.lock'), 'utf8'), `${process.pid}\n`);
      await s.close();
    } finally {
      other.kill('SIGKILL');
    }
  });

  test('close() releases the lock: a second open in the same process succeeds only after it', async () => {
    const dir = tempDir();
    const s = FileStore.open(dir);
    assert.throws(
      () => FileStore.open(dir),
      (e: unknown) => e instanceof NetloomError && e.code === 'NL_STORE_LOCKED' && e.message.includes(`pid ${process.pid}`),
    );
    await s.close();
    const again = FileStore.open(dir);
    await again.close();
  });
});

/** A store with `n` acknowledged single-key transactions, closed; returns its dir. */
async function storeWith(n: number): Promise<string> {
  const dir = tempDir();
  const s = FileStore.open(dir);
  for (let i = 1; i <= n; i++) await s.txn([], [put(`k${i}`, { i, text: 'é' })]);
  await s.close();
  return dir;
}

const lineStarts = (buf: Buffer): number[] => {
  const out = [0];
  for (let i = 0; i < buf.length - 1; i++) if (buf[i] === 0x0a) out.push(i + 1);
  return out;
};

function refused(dir: string, what: RegExp): void {
  assert.throws(
    () => FileStore.open(dir),
    (e: unknown) =>
      e instanceof NetloomError &&
      e.code === 'NL_STORE_DAMAGED' &&
      what.test(e.message) &&
      !e.message.includes('\n') &&
      e.message.includes('netloom store verify') &&
      e.message.includes('--salvage'),
  );
}

describe('FileStore integrity', () => {
  test('a record damaged in the middle of the log is refused naming file, byte offset and revision; the files are unchanged', async () => {
    const dir = await storeWith(5);
    const buf = readFileSync(wal(dir));
    const at = lineStarts(buf)[2];
    buf[at + 80] ^= 0x01; // inside record 3's JSON: its checksum no longer matches
    writeFileSync(wal(dir), buf);
    refused(dir, new RegExp(`wal\\.log is damaged at byte ${at} \\(the record after revision 2\\): checksum mismatch`));
    assert.deepEqual(readFileSync(wal(dir)), buf);
    const c = checkStore(dir);
    assert.equal(c.damage.length, 1);
    assert.equal(c.wal.records.length, 4);
  });

  test('a whole record missing from the middle of the log is a gap, refused', async () => {
    const dir = await storeWith(4);
    const lines = readFileSync(wal(dir), 'utf8').split('\n');
    lines.splice(1, 1);
    writeFileSync(wal(dir), lines.join('\n'));
    refused(dir, /revision 3 follows 1: records are missing/);
  });

  test('a complete last record (newline written) that fails its checksum is damage, not a torn tail', async () => {
    const dir = await storeWith(3);
    const buf = readFileSync(wal(dir));
    buf[buf.length - 5] ^= 0x01;
    writeFileSync(wal(dir), buf);
    refused(dir, /revision 2/);
  });

  test('flipping any byte of the log but the final newline never loses an acknowledged record silently', async () => {
    const dir = await storeWith(4);
    const good = readFileSync(wal(dir));
    const s0 = FileStore.open(dir);
    const want = await all(s0);
    await s0.close();
    await fc.assert(
      fc.asyncProperty(fc.nat(good.length - 2), fc.integer({ min: 1, max: 255 }), async (pos, mask) => {
        const buf = Buffer.from(good);
        buf[pos] ^= mask;
        writeFileSync(wal(dir), buf);
        let s: FileStore;
        try {
          s = FileStore.open(dir);
        } catch (e) {
          assert.ok(e instanceof NetloomError && e.code === 'NL_STORE_DAMAGED', String(e));
          return;
        }
        const got = await all(s);
        await s.close();
        writeFileSync(wal(dir), good);
        assert.deepEqual(got, want);
      }),
      { numRuns: 150 },
    );
  });

  test('a damaged snapshot is refused, and so is an unreadable first-format one', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir, { compactEvery: 3 });
    for (let i = 0; i < 4; i++) await s.txn([], [put(`k${i}`, i)]);
    await s.close();
    const snap = join(dir, 'snapshot.json');
    const good = readFileSync(snap, 'utf8');
    assert.match(good, /^\{"format":2,"rev":3,"sha256":"[0-9a-f]{64}"\}\n/);
    writeFileSync(snap, good.replace('"k1"', '"k9"'));
    refused(dir, /snapshot\.json is damaged at byte \d+ \(revision 3\): checksum mismatch/);
    writeFileSync(snap, '{"rev":3,"entries":[{"key":"k0","val');
    refused(dir, /snapshot\.json is damaged at byte \d+ \(revision unknown\): not valid JSON/);
    writeFileSync(snap, good);
    s = FileStore.open(dir);
    assert.equal((await s.list('')).length, 4);
    await s.close();
  });

  test('a first-format store (bare JSON lines and snapshot) opens, appends checksummed records and is upgraded by compaction', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify({ rev: 2, entries: [{ key: 'a', value: 1, version: 2 }] }));
    writeFileSync(wal(dir), `${JSON.stringify({ rev: 3, ops: [put('b', 2)] })}\n${JSON.stringify({ rev: 4, ops: [put('a', 3)] })}\n`);
    assert.equal(checkStore(dir).oldFormat, true);
    let s = FileStore.open(dir, { compactEvery: 4 });
    assert.deepEqual(await all(s), [
      ['a', 3, 3],
      ['b', 2, 1],
    ]);
    await s.txn([], [put('c', 3)]);
    assert.match(readFileSync(wal(dir), 'utf8').split('\n')[2], /^2 [0-9a-f]{64} \{"rev":5,/);
    await s.txn([], [put('d', 4)]); // fourth record: compacts
    s = await reopen(s, dir);
    assert.equal(checkStore(dir).oldFormat, false);
    assert.deepEqual(await all(s), [
      ['a', 3, 3],
      ['b', 2, 1],
      ['c', 3, 1],
      ['d', 4, 1],
    ]);
    await s.close();
  });

  test('salvage keeps every record that verifies, moves the damaged log aside and records the salvage', async () => {
    const dir = await storeWith(5);
    const buf = readFileSync(wal(dir));
    buf[lineStarts(buf)[1] + 90] ^= 0x02; // record 2
    writeFileSync(wal(dir), buf);
    let s = FileStore.open(dir, { salvage: true });
    const keys = (await s.list('k')).map((e) => e.key);
    assert.deepEqual(keys, ['k1', 'k3', 'k4', 'k5']);
    assert.ok(s.salvaged);
    assert.equal(s.salvaged.movedAside.length, 1);
    assert.deepEqual(readFileSync(s.salvaged.movedAside[0]), buf, 'the damaged file is kept, byte for byte');
    assert.match(s.salvaged.damage[0], /wal\.log is damaged at byte/);
    await s.txn([], [put('k6', 6)]);
    s = await reopen(s, dir);
    assert.deepEqual(
      (await s.list('k')).map((e) => e.key),
      ['k1', 'k3', 'k4', 'k5', 'k6'],
    );
    assert.ok((await s.get(SALVAGED_KEY))?.value, 'the salvage is remembered across restarts');
    assert.equal(checkStore(dir).damage.length, 0);
    await s.close();
  });

  test('salvage of a damaged snapshot keeps the log records and the snapshot file aside', async () => {
    const dir = tempDir();
    let s = FileStore.open(dir, { compactEvery: 3 });
    for (let i = 0; i < 5; i++) await s.txn([], [put(`k${i}`, i)]);
    await s.close();
    writeFileSync(join(dir, 'snapshot.json'), 'garbage');
    assert.equal(checkStore(dir).damage.length, 1, 'the log after a damaged snapshot is not itself damage');
    s = FileStore.open(dir, { salvage: true });
    assert.deepEqual(
      (await s.list('k')).map((e) => e.key),
      ['k3', 'k4'],
    );
    assert.ok(s.salvaged?.movedAside[0].includes('snapshot.json.damaged-'));
    await s.close();
  });
});
