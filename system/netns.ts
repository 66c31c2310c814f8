// Named network namespaces (/run/netns, as `ip netns` sees them) and the trick that gives code
// in the daemon a netlink socket inside one: setns(2) on the main thread, create the socket,
// setns back — all synchronous, so no other JavaScript runs in between (see native/nsaddon.c).
// The namespaces themselves are made and removed the same way, in the daemon, as `ip netns
// add/del` would (no program per sandbox: a spawn cost the daemon's thread ~3 ms each).
import { loadNative } from './native.js';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { RtNetlinkSocket } from 'netlink';
import { SystemError, errnoOf } from '../common/errors.js';
import { aliasTaken, invalidNetnsName, keepMessage, netnsTaken, notThere, obj, stepOf } from './errors.js';
import type { Namespaces, NsRef } from './types.js';

export const NETNS_DIR = '/run/netns';

/** native/nsaddon.c; each throws an Error whose code is the errno's name. */
export interface NsAddon {
  setns(fd: number): void;
  netnsAdd(dir: string, name: string, loUp: boolean): void;
  unmountAndUnlink(path: string): void;
  utsAdd(path: string, hostname: string, domainname: string): void;
  bindMount(source: string, target: string): void;
  /** false when the path is no mount point or not there */
  unmount(path: string): boolean;
}

export function loadAddon(): NsAddon {
  const addon = loadNative<NsAddon>('nsaddon');
  if (!addon) throw new Error('native/nsaddon.node is missing or does not load: run "make build" first');
  return addon;
}

export function nsPath(ns: NsRef): string {
  switch (ns.kind) {
    case 'self':
      return `/proc/${process.pid}/ns/net`;
    case 'named':
      return join(NETNS_DIR, ns.name);
    case 'pid':
      return `/proc/${ns.pid}/ns/net`;
    case 'path':
      return ns.path;
  }
}

/** Opens a file descriptor on a namespace (for IFLA_NET_NS_FD); the caller closes it. */
export function openNsFd(ns: NsRef): number {
  return openSync(nsPath(ns), 'r');
}

/** Runs `fn` with a descriptor of `ns`, closed after. */
export function withNsFd<T>(ns: NsRef, fn: (fd: number) => T): T {
  const fd = openNsFd(ns);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

// The netlink package is loaded on first use: evaluating it (every family it knows, nl80211
// included) costs a `netloom lab` command that never opens a socket 50-150 ms of CPU.
let netlink: typeof import('netlink') | undefined;
const createRtNetlink = (): RtNetlinkSocket => (netlink ??= createRequire(import.meta.url)('netlink') as typeof import('netlink')).createRtNetlink();

/** A netlink socket created inside `ns`. */
export function rtnetlinkIn(ns: NsRef): RtNetlinkSocket {
  if (ns.kind === 'self') return createRtNetlink();
  const { setns } = loadAddon();
  const back = openSync('/proc/thread-self/ns/net', 'r');
  let target: number;
  try {
    target = openNsFd(ns);
  } catch (err) {
    closeSync(back);
    throw notThere(nsPath(ns), err);
  }
  try {
    setns(target);
    try {
      return createRtNetlink();
    } finally {
      setns(back);
    }
  } finally {
    closeSync(target);
    closeSync(back);
  }
}

/** A failure of one addon call as a SystemError of `method` on `name`. */
function failed(method: string, name: string, err: unknown): SystemError {
  if (err instanceof SystemError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new SystemError({ step: stepOf(method), object: obj.netns(name), errno: errnoOf(err), message: `${stepOf(method)} ${name}: ${why}`, cause: err });
}

/** Named namespaces made and removed in the daemon (native/nsaddon.c), as `ip netns` does it:
 *  the same files and bind mounts, so `ip netns list/exec` see no difference. */
export class IpNetns implements Namespaces {
  async add(name: string, opts: { readonly loUp?: boolean } = {}): Promise<void> {
    const bad = invalidNetnsName(name, 'netns.add');
    if (bad) throw bad;
    const { netnsAdd } = loadAddon();
    try {
      netnsAdd(NETNS_DIR, name, opts.loUp === true);
    } catch (err) {
      throw errnoOf(err) === 'EEXIST' ? netnsTaken(name, NETNS_DIR) : failed('netns.add', name, err);
    }
  }

  async alias(name: string, target: NsRef): Promise<void> {
    const bad = invalidNetnsName(name, 'netns.alias');
    if (bad) throw bad;
    const file = join(NETNS_DIR, name);
    if (existsSync(file)) throw aliasTaken(name);
    try {
      mkdirSync(NETNS_DIR, { recursive: true });
      closeSync(openSync(file, 'wx'));
    } catch (err) {
      throw keepMessage(stepOf('netns.alias'), obj.netns(name), err);
    }
    try {
      loadAddon().bindMount(nsPath(target), file);
    } catch (err) {
      rmSync(file, { force: true });
      throw failed('netns.alias', name, err);
    }
  }

  async del(name: string): Promise<void> {
    const file = join(NETNS_DIR, name);
    if (!existsSync(file)) return;
    try {
      loadAddon().unmountAndUnlink(file);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw failed('netns.del', name, err);
    }
  }

  async exists(name: string): Promise<boolean> {
    return existsSync(join(NETNS_DIR, name));
  }

  async list(): Promise<string[]> {
    return existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [];
  }
}
