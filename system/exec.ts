// The one place that runs other programs. iptables always gets -w (wait for the xtables lock).
// node:child_process directly: execa and its dependencies cost netloomd ~8 MiB of heap for what
// this function needs (bench/daemon-rss.sh).
import { spawn } from 'node:child_process';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Runs a program without a shell; rejects with its stderr on a non-zero exit unless `allowFail`. */
export async function run(
  file: string,
  args: readonly string[],
  opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  const res = await spawnCollect(file, args, opts.input, opts.timeoutMs ?? 30_000);
  if (res.exitCode !== 0 && !opts.allowFail) {
    const why = res.stderr.trim() || res.stdout.trim() || `exit code ${res.exitCode}`;
    throw new Error(`${file} ${args.join(' ')}: ${why.split('\n')[0]}`);
  }
  return res;
}

/** Runs `file` with `input` on its stdin (closed at once without one); exit code -1 when it could
 *  not start (the error's message as stderr) or was killed at the timeout or by a signal. */
function spawnCollect(file: string, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let failed: Error | undefined;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.on('error', (e) => (failed = e));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: failed && !stderr ? failed.message : stderr, exitCode: failed ? -1 : (code ?? -1) });
    });
    child.stdin.end(input);
  });
}
