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
import { COMPACT_EVERY, FileStore } from '../../store/file.js';
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
    assert.deepEqual(await all(s), [['a', 1, 1], ['c', 3, 1]]);
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
        assert.deepEqual((await s.list<number>('')).map((e) => [e.key, e.value]), [...model].sort(([a], [b]) => (a < b ? -1 : 1)));
        await s.close();
      }),
      { numRuns: 20 },
    );
  });
});

describe('FileStore lock', () => {
  test('a second open of a dir another live process holds is refused naming that pid', async () => {
    const dir = tempDir();
    const file = fileURLToPath(new URL('../../store/file.js', import.meta.url));
    const code = `const { FileStore } = await import(${JSON.stringify(file)}); FileStore.open(${JSON.stringify(dir)}); ` +
      `console.log('ready'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (c) => reject(new Error(`child exited with ${c}`)));
      });
      assert.throws(
        () => FileStore.open(dir),
        (e: unknown) =>
          e instanceof NetloomError && e.code === 'NL_STORE_LOCKED' && e.message.includes(`pid ${child.pid}`) && e.message.includes(dir),
      );
    } finally {
      child.stdin.end();
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  });

  test('a lock left by a dead process is taken over, and close() releases it', async () => {
    const dir = tempDir();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, 'netloomd.pid'), `${dead.pid}\n`);
    const s = FileStore.open(dir);
    assert.equal(readFileSync(join(dir, 'netloomd.pid'), 'utf8'), `${process.pid}\n`);
    await s.close();
    assert.equal(existsSync(join(dir, 'netloomd.pid')), false);
  });
});
