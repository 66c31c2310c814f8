// The one place that runs other programs. iptables always gets -w (wait for the xtables lock).
// node:child_process directly: execa and its dependencies cost netloomd ~8 MiB of heap for what
// this function needs (bench/daemon-rss.sh).
import { spawn } from 'node:child_process';
import { runError, type ProgramOutcome } from './errors.js';
import { loadNative } from './native.js';

export type RunResult = ProgramOutcome;

/** Runs a program without a shell; on a non-zero exit (unless `allowFail`) rejects with a
 *  SystemError (errors.ts runError): `step` (default 'run') and `object` (default the command),
 *  errno and exit code; its message is the command and the program's first error line. */
export async function run(
  file: string,
  args: readonly string[],
  opts: { input?: string; allowFail?: boolean; timeoutMs?: number; step?: string; object?: string; noFork?: boolean } = {},
): Promise<RunResult> {
  const spawner = opts.noFork ? nativeSpawner() : undefined;
  const res = await (spawner ? spawnNative : spawnCollect)(file, args, opts.input, opts.timeoutMs ?? 30_000);
  if (res.exitCode !== 0 && !opts.allowFail) throw runError(file, args, res, opts.step, opts.object);
  return res;
}

/** native/spawner.c: posix_spawn, without the fork of node:child_process (2-4 ms of the main
 *  thread at netloomd's size); the program's input and output go through a libuv threadpool
 *  thread, which it holds until the program exits: for short programs (iptables) only. */
interface Spawner {
  run(file: string, args: readonly string[], input: string, timeoutMs: number, done: (r: NativeOutcome) => void): void;
}
interface NativeOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The errno name of a failed start ("ENOENT"), else "". */
  readonly spawnErrno: string;
}

/** The addon, or undefined when it is not built (then node:child_process runs everything). */
export const nativeSpawner = (): Spawner | undefined => loadNative<Spawner>('spawner');

/** spawnCollect's contract through the addon; a failed start reads as node's ("spawn x ENOENT"). */
export function spawnNative(file: string, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    nativeSpawner()!.run(file, args, input ?? '', timeoutMs, (r) => {
      if (!r.spawnErrno) return resolve({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode });
      const spawnError: NodeJS.ErrnoException = Object.assign(new Error(`spawn ${file} ${r.spawnErrno}`), {
        code: r.spawnErrno,
        syscall: `spawn ${file}`,
        path: file,
      });
      resolve({ stdout: '', stderr: spawnError.message, exitCode: -1, spawnError });
    });
  });
}

/** Runs `file` with `input` on its stdin (closed at once without one); exit code -1 when it could
 *  not start (the error's message as stderr) or was killed at the timeout or by a signal. */
function spawnCollect(file: string, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let failed: NodeJS.ErrnoException | undefined;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.on('error', (e) => (failed = e));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const stdout = Buffer.concat(out).toString('utf8');
      resolve({ stdout, stderr: failed && !stderr ? failed.message : stderr, exitCode: failed ? -1 : (code ?? -1), ...(failed ? { spawnError: failed } : {}) });
    });
    child.stdin.end(input);
  });
}
