// `netloom system reset [-f]`: stops the netloomd on --socket (by the PID it reports), then
// removes what netloom made on this host (controller/reset.ts), its sockets and its data dir.
// Works without a daemon too (one that died, or refuses to start on a damaged store): the
// records are read straight from the data dir.
import { existsSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { resolvePaths, type InstancePaths } from '../common/config.js';
import { resetHost } from '../controller/reset.js';
import { socketAlive } from '../daemon/main.js';
import { DEFAULT_PLUGIN_SOCKET } from '../plugin/server.js';
import { LOCK_FILE, SOCKETS_KEY, readRecords } from '../store/file.js';
import { ETC_NETNS, removeNetnsFiles } from '../system/files.js';
import { createSystem } from '../system/index.js';
import { tryLock, type FileLock } from '../system/lock.js';
import { sameNetns } from '../system/process.js';
import { UsageError } from '../common/errors.js';
import { api } from './client.js';
import type { LocalHandler } from './command.js';

type Out = (s: string) => void;

/** The command (declared in cli/commands.ts). */
export const systemResetCommand: LocalHandler = async (p, { globals, out }) => {
  if (p.positionals.length) throw new UsageError(`system reset takes no arguments, got "${p.positionals[0]}"`);
  const paths = resolvePaths({
    socket: (p.values.socket as string | undefined) ?? globals.socket,
    dataDir: (p.values['data-dir'] as string | undefined) ?? globals.dataDir,
  });
  return systemReset(Boolean(p.values.force), paths, out, (s) => void process.stderr.write(`${s}\n`));
};

async function confirmed(force: boolean, dataDir: string, err: Out): Promise<boolean> {
  if (force) return true;
  const what = `remove every network, sandbox, link and iptables chain netloom made on this host, its sockets and ${dataDir}`;
  if (!process.stdin.isTTY) {
    err(`system reset would ${what}: add -f to do it (stdin is not a terminal to ask on)`);
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`This will ${what}. Continue? [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** The daemon answering on the socket: its PID; undefined when none answers. */
async function liveDaemon(socket: string): Promise<{ pid: number } | undefined> {
  if (!existsSync(socket) || !(await socketAlive(socket))) return undefined;
  const v = await api<{ Components?: { Details?: { Pid?: string } }[] }>(socket, 'GET', '/version');
  const pid = Number(v.Components?.[0]?.Details?.Pid);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`the daemon on ${socket} does not report its PID: stop it by hand, then run system reset again`);
  return { pid };
}

/** Removes sandboxes, then this host's networks, through the daemon: overlay endpoints leave the
 *  cluster store cleanly, while cluster-wide networks stay defined for the other hosts. Best
 *  effort: whatever is left, the sweep removes. */
async function tearDownThroughApi(socket: string): Promise<void> {
  for (const sb of await api<{ Name: string }[]>(socket, 'GET', '/sandboxes').catch(() => [])) {
    await api(socket, 'DELETE', `/sandboxes/${encodeURIComponent(sb.Name)}`).catch(() => undefined);
  }
  for (const n of await api<{ Id: string; Scope: string }[]>(socket, 'GET', '/networks').catch(() => [])) {
    if (n.Scope !== 'local') continue;
    await api(socket, 'DELETE', `/networks/${n.Id}`).catch(() => undefined);
  }
}

/** Waits (bounded) until the daemon's data-dir lock is free: it has exited, zombie or not. */
async function takeLock(dataDir: string, pid: number | undefined): Promise<FileLock> {
  const path = join(dataDir, LOCK_FILE);
  for (let i = 0; i < 300; i++) {
    const got = tryLock(path);
    if (!('heldBy' in got)) return got;
    if (i === 200 && pid) process.kill(pid, 'SIGKILL'); // 10 s after SIGTERM
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`data dir ${dataDir} is still in use by netloomd pid ${pid ?? '(unknown)'}: stop it, then run system reset again`);
}

export async function systemReset(force: boolean, paths: InstancePaths, out: Out, err: Out): Promise<number> {
  if (!(await confirmed(force, paths.dataDir, err))) return 1;
  const daemon = await liveDaemon(paths.socket);
  if (daemon && !sameNetns(daemon.pid)) {
    err(`netloomd pid ${daemon.pid} runs in another network namespace: run system reset there (nsenter --net=/proc/${daemon.pid}/ns/net netloom system reset)`);
    return 1;
  }
  if (daemon) {
    await tearDownThroughApi(paths.socket);
    process.kill(daemon.pid, 'SIGTERM');
  }
  const lock = existsSync(paths.dataDir) ? await takeLock(paths.dataDir, daemon?.pid) : undefined;
  try {
    const records = lock ? readRecords(paths.dataDir) : new Map<string, unknown>();
    const sandboxes = [...records].filter(([k]) => k.startsWith('sb/')).map(([k]) => k.slice(3));
    // Container-mode sandboxes are bind mounts of another's namespace: those go first.
    sandboxes.sort(
      (a, b) =>
        Number((records.get(`sb/${b}`) as { mode?: { kind?: string } })?.mode?.kind === 'container') -
        Number((records.get(`sb/${a}`) as { mode?: { kind?: string } })?.mode?.kind === 'container'),
    );
    const sys = createSystem();
    const report = await resetHost(sys, {
      sandboxes,
      // Every netloom tag, not only this instance's: the chains are host-wide anyway, and a
      // salvage that lost the instance record leaves links under the old one.
      tagPrefix: 'netloom:',
      removeNetnsFiles,
      netnsFileExists: (sb) => existsSync(join(ETC_NETNS, sb)),
    }).finally(() => sys.close());
    const sockets: string[] = [];
    const last = records.get(SOCKETS_KEY) as { api?: string; plugin?: string } | undefined;
    for (const s of new Set([paths.socket, last?.api, last ? last.plugin : DEFAULT_PLUGIN_SOCKET])) {
      if (!s || !existsSync(s) || (await socketAlive(s))) continue;
      unlinkSync(s);
      sockets.push(s);
    }
    if (lock) rmSync(paths.dataDir, { recursive: true, force: true });
    out(`netloomd: ${daemon ? `pid ${daemon.pid} stopped` : 'none was running'}`);
    out(
      `removed: ${report.namespaces.length} namespace(s), ${report.netnsFiles.length} /etc/netns entr(ies), ${report.links.length} link(s), ${report.chains.length} iptables chain(s), ${sockets.length} socket(s)${lock ? `, ${paths.dataDir}` : ''}`,
    );
    for (const e of report.errors) err(`not removed: ${e}`);
    return report.errors.length ? 1 : 0;
  } finally {
    lock?.release();
  }
}
