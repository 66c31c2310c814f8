// Where a lab runs. By default in a host namespace of its own (`nllab-<name>`) with its own
// netloomd, socket and data dir under /run/netloom-lab/<name>/, the way `make demo` does it: a lab
// never changes the machine's links, routes or iptables, can try any daemon setting, and two labs
// run at once. `--host` uses the machine's netloomd instead.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call } from '../cli/client.js';
import { pidAlive } from './pid.js';
import { resolvePaths } from '../common/config.js';
import { run, type RunResult } from '../system/exec.js';
import { spawnDetachedProgram } from '../system/process.js';
import { utsPath } from '../system/uts.js';
import { IpNetns } from '../system/netns.js';
import type { Lab } from './model.js';
import type { Netem } from './netem.js';

export const LAB_RUN_ROOT = process.env.NETLOOM_LAB_DIR ?? '/run/netloom-lab';

/** How the lab's CLI finds the programs it starts (given by cli/main.ts, which knows the bundle). */
export interface Programs {
  readonly daemonScript: string;
  readonly cliScript: string;
}

export interface LabState {
  readonly name: string;
  readonly file: string;
  readonly isolated: boolean;
  /** The lab's host namespace; undefined with --host (the machine's own). */
  readonly hostNs?: string;
  readonly socket: string;
  readonly daemonPid?: number;
  readonly started: string;
  /** Responder PIDs per node, stopped by PID at down. */
  readonly serve: Record<string, number>;
  /** Impairments in force per target (lab/impair.ts targetKey), as the file and the steps set them. */
  readonly netem?: Record<string, Partial<Netem>>;
  /** A multi-host lab's hosts (lab/cluster.ts); `socket` and `daemonPid` are then the first's. */
  readonly hosts?: Readonly<Record<string, HostState>>;
  /** A multi-host lab's etcd members' PIDs, in member order (undefined: stopped). */
  readonly etcd?: readonly (number | undefined)[];
}

export interface HostState {
  readonly ns: string;
  readonly socket: string;
  readonly daemonPid?: number;
  readonly address: string;
  /** Its link to the underlay bridge, in the lab's namespace. */
  readonly uplink: string;
}

/** The netloomd that knows a node: its host's in a multi-host lab. */
export function socketFor(lab: Lab, s: LabState, key: string): string {
  const h = lab.nodes.find((n) => n.key === key)?.host;
  return (h && s.hosts?.[h]?.socket) || s.socket;
}

export class LabFailure extends Error {}

export const runDir = (name: string): string => join(LAB_RUN_ROOT, name);
const stateFile = (name: string): string => join(runDir(name), 'state.json');
export const lastCheckFile = (name: string): string => join(runDir(name), 'last-check.json');
export const hostNsName = (name: string): string => `nllab-${name}`;

export function readState(name: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(name), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(s: LabState): void {
  mkdirSync(runDir(s.name), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(s.name), `${JSON.stringify(s, null, 2)}\n`);
}

export function listStates(): LabState[] {
  if (!existsSync(LAB_RUN_ROOT)) return [];
  return readdirSync(LAB_RUN_ROOT)
    .map((n) => readState(n))
    .filter((s): s is LabState => !!s)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function removeRunDir(name: string): void {
  rmSync(runDir(name), { recursive: true, force: true });
}

export const alive = pidAlive;

export async function daemonAnswers(socket: string): Promise<boolean> {
  try {
    return (await call(socket, 'GET', '/_ping')).status === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lab's own netloomd in its own host namespace; reused when it already runs (up is idempotent). */
export async function startIsolated(lab: Lab, progs: Programs): Promise<{ state: LabState; reused: boolean }> {
  const old = readState(lab.name);
  if (old?.isolated && alive(old.daemonPid) && (await daemonAnswers(old.socket))) return { state: old, reused: true };
  if (old && !old.isolated) throw new LabFailure(`lab ${lab.name} is up on the machine's netloomd (--host): run netloom lab down --host first`);
  const dir = runDir(lab.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ns = hostNsName(lab.name);
  // As `ip netns add` and `ip link set lo up` inside, without the two programs.
  if (!existsSync(`/run/netns/${ns}`)) await new IpNetns().add(ns, { loUp: true });
  // Names netloom does not own are forwarded to a loopback address nobody serves: a lab never
  // sends a query off the machine.
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.1\n');
  const socket = join(dir, 'netloomd.sock');
  const log = join(dir, 'netloomd.log');
  const args = ['--socket', socket, '--data-dir', join(dir, 'data'), '--log-file', log, '--resolv-conf', resolv, '--no-plugin'];
  if (Object.keys(lab.daemon).length) {
    // Docker's daemon.json keys, as netloomd --config-file reads them.
    const cfg = join(dir, 'daemon.json');
    writeFileSync(cfg, `${JSON.stringify(lab.daemon, null, 2)}\n`);
    args.push('--config-file', cfg);
  }
  const pid = spawnDetachedProgram('nsenter', [`--net=/run/netns/${ns}`, process.execPath, progs.daemonScript, ...args], join(dir, 'netloomd.out'));
  // Responders of a lab whose daemon died are still the lab's: keep their PIDs for down.
  const state: LabState = {
    name: lab.name,
    file: lab.file,
    isolated: true,
    hostNs: ns,
    socket,
    daemonPid: pid,
    started: new Date().toISOString(),
    serve: old?.serve ?? {},
  };
  writeState(state);
  // Every 20 ms for up to 10 s: a missing socket is refused at once, and up waits on this.
  for (let i = 0; i < 500; i++) {
    if (await daemonAnswers(socket)) return { state, reused: false };
    if (!alive(pid)) break;
    await sleep(20);
  }
  const out = [readTail(join(dir, 'netloomd.out')), readTail(log)].join('\n');
  if (/config-file/.test(out) && /unknown|Unknown/.test(out)) {
    throw new LabFailure(`the lab's daemon settings (${Object.keys(lab.daemon).join(', ')}) need netloomd --config-file, which this netloomd does not accept`);
  }
  throw new LabFailure(`the lab's netloomd did not answer on ${socket}: ${out.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

/** The machine's own netloomd (--host): it must already run; the lab never starts one there. */
export async function attachHost(lab: Lab, socketFlag?: string): Promise<LabState> {
  if (Object.keys(lab.daemon).length) {
    throw new LabFailure(`daemon settings (${Object.keys(lab.daemon).join(', ')}) need the lab's own netloomd: drop --host`);
  }
  const old = readState(lab.name);
  if (old?.isolated) throw new LabFailure(`lab ${lab.name} is up in its own namespace: run netloom lab down without --host first`);
  const socket = resolvePaths({ socket: socketFlag }).socket;
  if (!(await daemonAnswers(socket))) throw new LabFailure(`no netloomd answers on ${socket} (--host uses the machine's netloomd)`);
  const state: LabState = old ?? { name: lab.name, file: lab.file, isolated: false, socket, started: new Date().toISOString(), serve: {} };
  writeState(state);
  return state;
}

/** Stops the lab's netloomd by PID: SIGTERM, then SIGKILL after 5 s. */
export async function stopDaemon(s: LabState): Promise<void> {
  const pid = s.daemonPid;
  if (!s.isolated || !alive(pid)) return;
  process.kill(pid as number, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid as number, 'SIGKILL');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
}

/** A command inside a node's namespace (`ip netns exec` also applies /etc/netns/<sandbox>/ files). */
export function inNode(sandbox: string, argv: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  // A sandbox made with a hostname has its own UTS namespace: commands see that hostname, as in `sandbox exec`.
  const uts = utsPath(sandbox);
  const [file, ...args] = [...(existsSync(uts) ? ['nsenter', `--uts=${uts}`] : []), 'ip', 'netns', 'exec', sandbox, ...argv];
  return run(file, args, { allowFail: true, timeoutMs });
}

/** A command in a named namespace (`ip netns exec`), or in the machine's without one. */
export function inNamespace(ns: string | undefined, argv: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  return ns ? run('ip', ['netns', 'exec', ns, ...argv], { allowFail: true, timeoutMs }) : run(argv[0], argv.slice(1), { allowFail: true, timeoutMs });
}

/** A command in the lab's host namespace (or the machine's, with --host). */
export function inLabHost(s: LabState, argv: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  return inNamespace(s.hostNs, argv, timeoutMs);
}
