// Docker's default address pools and the pick of a subnet from them when a network gives no --subnet.

import { BITS, type Cidr, type Family, cidrOf, overlaps, parseCidr, toCidr } from '../common/cidr.js';
import { invalid, unavailable } from '../common/errors.js';
import { type DefaultPool, MAX_PREFIX } from './types.js';

/** Docker's built-in IPv4 defaults: 172.17-31.0.0/16 as /16s, then 192.168.0.0/16 cut into /20s. */
export const DEFAULT_POOLS4: readonly DefaultPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

/** A ULA /48 of our own (6e:6c:6f:6f:6d spells "nloom"), cut into /64s, the usual IPv6 subnet size. */
export const DEFAULT_POOLS6: readonly DefaultPool[] = [{ base: 'fd6e:6c6f:6f6d::/48', size: 64 }];

/** Validates a configured default-pool list once, at construction, so a typo fails at daemon start. */
export function checkDefaults(pools: readonly DefaultPool[], family: Family): void {
  for (const p of pools) {
    const base = toCidr(p.base, 'default pool base');
    if (base.family !== family) {
      throw invalid('NL_IPAM_FAMILY_MISMATCH', `default pool ${p.base} is IPv${base.family}: expected an IPv${family} base`);
    }
    if (!Number.isInteger(p.size) || p.size < base.prefix || p.size > MAX_PREFIX[family]) {
      throw invalid('NL_IPAM_PREFIX_TOO_LONG', `default pool ${p.base} has size ${p.size}: expected a prefix from ${base.prefix} to ${MAX_PREFIX[family]}`);
    }
  }
}

/**
 * The first /size subnet, in list order, that overlaps nothing in `busy` (existing pools and the
 * host's routes and addresses). Throws NL_IPAM_NO_DEFAULT_POOL naming every pool tried.
 */
export function pickDefault(pools: readonly DefaultPool[], family: Family, busy: readonly Cidr[], who: string): Cidr {
  for (const p of pools) {
    const found = firstFree(toCidr(p.base), p.size, busy);
    if (found) return found;
  }
  const tried = pools.length ? pools.map((p) => `${p.base} as /${p.size}`).join(', ') : 'none (no default pools configured)';
  throw unavailable(
    'NL_IPAM_NO_DEFAULT_POOL',
    `no default IPv${family} pool left for network "${who}": tried ${tried}; ` + 'each subnet overlaps an existing network or a host route, pass --subnet',
  );
}

function firstFree(base: Cidr, size: number, busy: readonly Cidr[]): Cidr | undefined {
  const bits = BITS[base.family];
  const step = 1n << BigInt(bits - size);
  const end = BigInt(base.base) + (1n << BigInt(bits - base.prefix));
  for (let at = BigInt(base.base); at < end;) {
    const candidate = cidrAt(base.family, at, size);
    const hit = busy.find((b) => overlaps(b, candidate));
    if (!hit) return candidate;
    // Skip every candidate the hit covers at once: a /8 route would otherwise cost 256 checks.
    const hitEnd = BigInt(hit.base) + (1n << BigInt(bits - hit.prefix));
    const next = ((hitEnd + step - 1n) / step) * step;
    at = next > at + step ? next : at + step;
  }
  return undefined;
}

function cidrAt(family: Family, at: bigint, prefix: number): Cidr {
  return family === 4 ? cidrOf({ family: 4, value: Number(at) }, prefix) : cidrOf({ family: 6, value: at }, prefix);
}

/** Parses the caller's `avoid` list: plain addresses count as host routes; /0 is skipped (see below). */
export function parseAvoid(avoid: readonly string[], family: Family): Cidr[] {
  const out: Cidr[] = [];
  for (const a of avoid) {
    const c = parseCidr(a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);
    if (!c) throw invalid('NL_IPAM_INVALID_CIDR', `invalid host route "${a}": expected a CIDR such as 192.168.1.0/24 or an address`);
    // A default route covers everything; Docker's route check skips routes without a destination too.
    if (c.family === family && c.prefix > 0) out.push(c);
  }
  return out;
}
