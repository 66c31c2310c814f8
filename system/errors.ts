// How the system layer names a failure: the step (one verb phrase per System method) and the
// object (the link, address, route, namespace or command, and in which namespace). The real
// system and system/fake both build their SystemErrors from here, so a test that injects a
// failure into the fake sees the same step and object as the kernel's own failure would give.
import { SystemError, errnoOf } from '../common/errors.js';
import type { NeighEntry, NsRef, RouteInfo } from './types.js';

/** The step of each System call, by the name FakeSystem.failNext uses for it. */
export const STEP: Readonly<Record<string, string>> = {
  links: 'list links',
  link: 'get link',
  addBridge: 'create bridge',
  addVeth: 'create veth',
  addVxlan: 'create vxlan',
  neighbours: 'list neighbours of',
  addNeighbour: 'add',
  delNeighbour: 'delete',
  delLink: 'delete link',
  retire: 'retire link',
  setUp: 'set up link',
  setMtu: 'set mtu of link',
  setHairpin: 'set hairpin on link',
  addrs: 'list addresses',
  addAddr: 'add address',
  delAddr: 'delete address',
  routes: 'list routes',
  addRoute: 'add route',
  delRoute: 'delete route',
  open: 'open',
  sysctl: 'write sysctl',
  'netns.add': 'create netns',
  'netns.alias': 'create netns',
  'netns.del': 'delete netns',
  'netns.exists': 'look up netns',
  'netns.list': 'list netns',
  'uts.add': 'create uts namespace of',
  'uts.del': 'delete uts namespace of',
  'uts.exists': 'look up uts namespace of',
  restore: 'apply rules',
  save: 'read rules',
  ensureJump: 'insert jump',
  ensureChain: 'create chain',
  removeJump: 'delete jump',
  deleteRule: 'delete rule',
  writeFile: 'write',
  removeFiles: 'remove',
};

export const stepOf = (method: string): string => STEP[method] ?? method;

/** " in netns web" (nothing for the daemon's own namespace). */
export function inNs(ns: NsRef): string {
  switch (ns.kind) {
    case 'self':
      return '';
    case 'named':
      return ` in netns ${ns.name}`;
    case 'pid':
      return ` in netns of pid ${ns.pid}`;
    case 'path':
      return ` in netns ${ns.path}`;
  }
}

/** Objects as failures name them; `ns` is where the handle is. */
export const obj = {
  link: (name: string, ns: NsRef): string => `${name}${inNs(ns)}`,
  addr: (link: string, cidr: string, ns: NsRef): string => `${cidr} on ${link}${inNs(ns)}`,
  route: (r: RouteInfo, ns: NsRef): string => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.link ? ` dev ${r.link}` : ''}${inNs(ns)}`,
  neigh: (e: NeighEntry, ns: NsRef): string => `${e.fdb ? 'fdb entry' : 'neighbour'} ${e.ip} ${e.mac} on ${e.link}${inNs(ns)}`,
  /** Where a list call looked: "in netns web", or "in the host". */
  where: (ns: NsRef): string => inNs(ns).trim() || 'in the host',
  /** 'iptables', 'ip6tables -t nat', 'iptables -t filter FORWARD'. */
  fw: (family: 4 | 6, table?: string, chain?: string): string =>
    `${family === 4 ? 'iptables' : 'ip6tables'}${table ? ` -t ${table}` : ''}${chain ? ` ${chain}` : ''}`,
  netns: (path: string): string => `netns ${path}`,
};

/** A failure of `step object` with this errno, its message `${step} ${object}: ${why}`. */
export function systemError(step: string, object: string, errno: string, why: string = errno, cause?: unknown): SystemError {
  return new SystemError({ step, object, errno, message: `${step} ${object}: ${why || 'failed'}`, cause });
}

/** Wraps any failure of one System call: a SystemError from a lower step stays the cause and
 *  lends its errno and message; anything else (the netlink package's error, a Node system
 *  error) becomes the cause, its errno taken from `errno` or the error itself. */
export function systemFailure(step: string, object: string, err: unknown, errno?: string): SystemError {
  if (err instanceof SystemError && err.step === step && err.object === object) return err;
  const why = errno || (err instanceof Error ? err.message : String(err));
  return systemError(step, object, errno || errnoOf(err), why, err);
}

/** A failure that already names what it was (a Node fs error names the path, a program its
 *  command line): typed, its message kept. */
export function keepMessage(step: string, object: string, err: unknown): SystemError {
  if (err instanceof SystemError) return err;
  return new SystemError({ step, object, errno: errnoOf(err), message: err instanceof Error ? err.message : String(err), cause: err });
}

/** Programs report errno only as strerror text ("ip netns add x: ... File exists"); the ones
 *  netloom's callers act on, read once here. */
const STRERROR: readonly [RegExp, string][] = [
  [/File exists|already exists/i, 'EEXIST'],
  [/No such file or directory|does not exist|No chain\/target\/match by that name/i, 'ENOENT'],
  [/Device or resource busy/i, 'EBUSY'],
  [/Operation not permitted/i, 'EPERM'],
  [/Permission denied/i, 'EACCES'],
  [/No such device/i, 'ENODEV'],
  [/Invalid argument/i, 'EINVAL'],
];

/** What a program run ended with (exec.ts RunResult, or the fake firewall's imitation of one). */
export interface ProgramOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  /** Why it did not start (ENOENT: no such program), when it did not. */
  readonly spawnError?: NodeJS.ErrnoException;
}

/** The errno of a failed run: the spawn error's code, else the first known strerror in its output. */
export function errnoOfRun(res: ProgramOutcome): string {
  if (res.spawnError?.code) return res.spawnError.code;
  return STRERROR.find(([re]) => re.test(res.stderr))?.[1] ?? '';
}

/** A failed run as a SystemError; its message is the command and the program's first error line. */
export function runError(file: string, args: readonly string[], res: ProgramOutcome, step = 'run', object?: string): SystemError {
  const why = res.stderr.trim() || res.stdout.trim() || `exit code ${res.exitCode}`;
  const command = `${file} ${args.join(' ')}`;
  return new SystemError({
    step,
    object: object ?? command,
    errno: errnoOfRun(res),
    exitCode: res.exitCode,
    message: `${command}: ${why.split('\n')[0]}`,
    cause: res.spawnError,
  });
}

/** addBridge on a name another kind of link holds (the kernel's answer would be EEXIST). */
export const notABridge = (name: string, ns: NsRef, kind: string | undefined): SystemError =>
  systemError(stepOf('addBridge'), obj.link(name, ns), 'EEXIST', `link "${name}" exists and is a ${kind ?? 'device'}, not a bridge`);

/** A namespace path that points nowhere (open, or a veth's peer namespace). */
export const notThere = (path: string, cause?: unknown): SystemError =>
  new SystemError({
    step: stepOf('open'),
    object: obj.netns(path),
    errno: errnoOf(cause) || 'ENOENT',
    message: `network namespace ${path} is not there`,
    cause,
  });

/** iproute2's rule for a namespace name (a file in /run/netns): `ip netns add` refuses any other
 *  with "Invalid netns name". The real system and the fake refuse it alike, before any change. */
export function invalidNetnsName(name: string, method: 'netns.add' | 'netns.alias'): SystemError | undefined {
  if (name && name !== '.' && name !== '..' && !/[/\0]/.test(name) && Buffer.byteLength(name) <= 255) return undefined;
  return new SystemError({
    step: stepOf(method),
    object: obj.netns(name),
    errno: 'EINVAL',
    message: `invalid network namespace name "${name}": expected 1 to 255 bytes without "/" or NUL, other than "." and ".."`,
  });
}

/** netns.add onto a name in use (the real system's own EEXIST reads the same). */
export const netnsTaken = (name: string, dir: string): SystemError =>
  new SystemError({
    step: stepOf('netns.add'),
    object: obj.netns(name),
    errno: 'EEXIST',
    message: `create netns ${name}: cannot create namespace file "${dir}/${name}": File exists`,
  });

/** netns.alias onto a name in use. */
export const aliasTaken = (name: string): SystemError =>
  new SystemError({ step: stepOf('netns.alias'), object: obj.netns(name), errno: 'EEXIST', message: `network namespace "${name}" already exists` });
