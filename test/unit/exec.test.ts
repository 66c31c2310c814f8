// system/exec.ts: programs run with node:child_process (the daemon no longer loads execa): stdin,
// stdout and stderr, exit codes, a program that does not exist, the timeout, the error line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../../system/exec.js';

describe('run', () => {
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
});
