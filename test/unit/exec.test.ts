// system/exec.ts: programs run with node:child_process (the daemon no longer loads execa) or,
// with noFork, with native/spawner.c's posix_spawn: stdin, stdout and stderr, exit codes, a
// program that does not exist, the timeout, the error line — the same contract both ways.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nativeSpawner, run as runWith } from '../../system/exec.js';

test('the posix_spawn addon is built and loads (make build), so noFork below runs it', () => {
  assert.equal(typeof nativeSpawner()?.run, 'function');
});

for (const noFork of [false, true]) {
  const run: typeof runWith = (file, args, opts = {}) => runWith(file, args, { ...opts, noFork });
  describe(`run${noFork ? ' with noFork (posix_spawn)' : ''}`, () => {
    test('input on stdin, stdout and stderr kept whole (final newline included), the exit code', async () => {
      const r = await run('sh', ['-c', 'cat; echo oops >&2; exit 3'], { input: 'a\nb\n', allowFail: true });
      assert.deepEqual(r, { stdout: 'a\nb\n', stderr: 'oops\n', exitCode: 3 });
    });

    test('without input, stdin is closed at once (a reader does not hang)', async () => {
      assert.deepEqual(await run('cat', []), { stdout: '', stderr: '', exitCode: 0 });
    });

    test('a non-zero exit rejects with the command and the first line of its stderr, else its stdout', async () => {
      await assert.rejects(run('sh', ['-c', 'echo first >&2; echo second >&2; exit 1']), { message: 'sh -c echo first >&2; echo second >&2; exit 1: first' });
      await assert.rejects(run('sh', ['-c', 'echo out; exit 2']), { message: 'sh -c echo out; exit 2: out' });
      await assert.rejects(run('false', []), { message: 'false : exit code 1' });
    });

    test('a program that does not exist: exit code -1 and the spawn error as stderr', async () => {
      const r = await run('nl-no-such-program', ['x'], { allowFail: true });
      assert.equal(r.exitCode, -1);
      assert.match(r.stderr, /ENOENT/);
      assert.equal(r.spawnError?.code, 'ENOENT');
      await assert.rejects(run('nl-no-such-program', []), /nl-no-such-program : spawn nl-no-such-program ENOENT/);
    });

    test('killed at the timeout: exit code -1', async () => {
      const r = await run('sleep', ['10'], { allowFail: true, timeoutMs: 100 });
      assert.equal(r.exitCode, -1);
    });

    test('a program that exits without reading a large input is not an error of ours', async () => {
      const r = await run('true', [], { input: 'x'.repeat(1 << 20) });
      assert.equal(r.exitCode, 0);
    });

    test('a large input and a large output pass whole, in both directions at once', async () => {
      const input = Array.from({ length: 50_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
      const r = await run('sh', ['-c', 'cat; cat >&2 </dev/null; echo end >&2'], { input });
      assert.equal(r.stdout, input);
      assert.equal(r.stderr, 'end\n');
    });

    test('the child starts with none of signals 1-31 ignored or blocked (Node ignores SIGPIPE; an exec would pass that on)', async () => {
      const status = (await run('cat', ['/proc/self/status'])).stdout;
      const mask = (name: string): bigint => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1]}`) & 0x7fffffffn;
      // (glibc's posix_spawn leaves its own internal signals 32 and 33 ignored; the program's libc resets them.)
      assert.equal(mask('SigIgn'), 0n);
      assert.equal(mask('SigBlk'), 0n);
    });
  });
}
