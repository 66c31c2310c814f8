// The real system: rtnetlink handles, named namespaces, iptables, sysctl.
import { closeSync } from 'node:fs';
import { NetlinkHandle } from './netlink.js';
import { IpNetns, openNsFd, rtnetlinkIn } from './netns.js';
import { Iptables } from './iptables.js';
import { UnshareUts } from './uts.js';
import { readSysctl, setSysctl } from './sysctl.js';
import { listeners, socketOwner } from './sockets.js';
import type { NetHandle, NsRef, System } from './types.js';

export function openHandle(ns: NsRef): NetHandle {
  return new NetlinkHandle(ns, rtnetlinkIn(ns), openNsFd, closeSync);
}

export function createSystem(): System {
  const host = openHandle({ kind: 'self' });
  return {
    host,
    open: async (ns) => openHandle(ns),
    netns: new IpNetns(),
    uts: new UnshareUts(),
    firewall: new Iptables(),
    sysctl: setSysctl,
    readSysctl,
    listeners,
    socketOwner,
    close: () => host.close(),
  };
}

export type * from './types.js';
