// Identifiers and names.
import { randomBytes } from 'node:crypto';
import { invalid } from '../common/errors.js';

/** 64 hex characters, like Docker's network and endpoint IDs. */
export const newId = (): string => randomBytes(32).toString('hex');

let last = 0;
/** Creation times, strictly increasing within a daemon: records sort by them (firewall chains are
 *  rebuilt in creation order), so two creates in one millisecond must not tie. */
export function nowIso(): string {
  last = Math.max(Date.now(), last + 1);
  return new Date(last).toISOString();
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Docker 20.10 takes any network name that is not blank ('test 01', 'a/b', 'ü-net'). A network
 *  name is only ever a label: bridge names, namespace paths and store keys come from the id (or are
 *  escaped), never from the name. */
export function checkNetworkName(name: string): void {
  if (!name.trim()) throw invalid('NL_BAD_NAME', `invalid name: "${name}": a network name needs at least one non-blank character`);
}

/** Docker's rule for container names; sandbox names also become /run/netns file names. */
export function checkName(what: 'sandbox', name: string): void {
  if (!NAME.test(name) || name.length > 64) {
    throw invalid('NL_BAD_NAME', `invalid ${what} name "${name}": expected 1 to 64 characters [a-zA-Z0-9_.-], starting with a letter or digit`);
  }
}

/** Lowest <prefix>N (eth0, eth1, ...) not used by the sandbox's current endpoints. */
export function nextIfname(used: readonly string[], prefix = 'eth'): string {
  for (let i = 0; ; i++) if (!used.includes(`${prefix}${i}`)) return `${prefix}${i}`;
}

/** Locally administered unicast MAC, for endpoints without IPv4 to derive one from. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
