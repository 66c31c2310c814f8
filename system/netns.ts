// Named network namespaces (/run/netns, as `ip netns` sees them) and the trick that gives code
// in the daemon a netlink socket inside one: setns(2) on the main thread, create the socket,
// setns back — all synchronous, so no other JavaScript runs in between (see native/nsaddon.c).
import { loadNative } from './native.js';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import { run } from './exec.js';
import { aliasTaken, keepMessage, notThere, obj, stepOf } from './errors.js';
import type { Namespaces, NsRef } from './types.js';

export const NETNS_DIR = '/run/netns';

interface Addon {
  setns(fd: number): void;
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  addon ??= loadNative<Addon>('nsaddon');
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

export class IpNetns implements Namespaces {
  async add(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name], { step: stepOf('netns.add'), object: obj.netns(name) });
  }

  async alias(name: string, target: NsRef): Promise<void> {
    const file = join(NETNS_DIR, name);
    if (existsSync(file)) throw aliasTaken(name);
    try {
      mkdirSync(NETNS_DIR, { recursive: true });
      closeSync(openSync(file, 'wx'));
    } catch (err) {
      throw keepMessage(stepOf('netns.alias'), obj.netns(name), err);
    }
    try {
      await run('mount', ['--bind', nsPath(target), file], { step: stepOf('netns.alias'), object: obj.netns(name) });
    } catch (err) {
      await run('rm', ['-f', file], { allowFail: true });
      throw err;
    }
  }

  async del(name: string): Promise<void> {
    if (!existsSync(join(NETNS_DIR, name))) return;
    await run('ip', ['netns', 'del', name], { step: stepOf('netns.del'), object: obj.netns(name) });
  }

  async exists(name: string): Promise<boolean> {
    return existsSync(join(NETNS_DIR, name));
  }

  async list(): Promise<string[]> {
    return existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [];
  }
}
