// Processes the CLI starts: a command inside a sandbox, and a detached daemon.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readlinkSync } from 'node:fs';
import { utsPath } from './uts.js';
import { constants } from 'node:os';

/** Runs argv inside the sandbox's namespace the way `ip netns exec` does (it also applies
 *  /etc/netns/<name>/ files), inside the UTS namespace of `utsOwner` (itself, or the sandbox whose
 *  namespaces a container:<x> sandbox shares) when it has one (--hostname), with the
 *  terminal attached; resolves to its exit code. */
export function execInNetns(name: string, argv: readonly string[], utsOwner = name): Promise<number> {
  const uts = utsPath(utsOwner);
  const [file, ...args] = [...(existsSync(uts) ? ['nsenter', `--uts=${uts}`] : []), 'ip', 'netns', 'exec', name, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit' });
    child.once('error', reject);
    // A command killed by a signal exits 128+N, as a shell reports it.
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1)));
  });
}

/** Starts `node script args` in the background, detached, output appended to logFile. */
export function spawnDetached(script: string, args: readonly string[], logFile: string): number {
  return spawnDetachedProgram(process.execPath, [script, ...args], logFile);
}

/** Starts any program in the background, detached (its own session), output appended to logFile;
 *  returns its PID, by which its starter later stops it. */
export function spawnDetachedProgram(file: string, args: readonly string[], logFile: string): number {
  const out = openSync(logFile, 'a');
  const child = spawn(file, [...args], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  return child.pid ?? -1;
}

/** Whether a process runs in this process's network namespace. */
export function sameNetns(pid: number): boolean {
  return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
}
