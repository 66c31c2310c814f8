// The one place that runs other programs. iptables always gets -w (wait for the xtables lock).
import { execa } from 'execa';

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
  const r = await execa(file, args, {
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    stripFinalNewline: false,
  });
  const res = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if (res.exitCode !== 0 && !opts.allowFail) {
    const why = res.stderr.trim() || res.stdout.trim() || `exit code ${res.exitCode}`;
    throw new Error(`${file} ${args.join(' ')}: ${why.split('\n')[0]}`);
  }
  return res;
}
