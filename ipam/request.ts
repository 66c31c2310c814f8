// Pool request validation: turns what a user asked for (`docker network create`'s IPAM flags) into
// the record the book stores, or throws naming the bad value and what would be valid. Pure: the
// pools already in use and the default pools are passed in.

import { type Cidr, contains, formatCidr, formatIp, nthHost, overlaps, toCidr, toIp } from '../common/cidr.js';
import { conflict, forbidden, invalid } from '../common/errors.js';
import { parseAvoid, pickDefault } from './defaults.js';
import { type DefaultPool, type Family, MAX_PREFIX, type PoolRecord, type PoolRequest } from './types.js';

/** A pool already in the book, as the checks of a new one need it. */
export interface PoolInUse {
  readonly rec: PoolRecord;
  readonly subnet: Cidr;
}

/**
 * The record for `req`, checked against the pools in use. A default pick never overlaps those nor
 * `avoid` (the host's routes and interface addresses); a user subnet may overlap `avoid` (the user
 * knows best) but never a pool.
 */
export function planRecord(
  req: PoolRequest,
  inUse: ReadonlyMap<string, PoolInUse>,
  defaults: readonly DefaultPool[],
  avoid: readonly string[] = [],
): PoolRecord {
  if (req.family !== 4 && req.family !== 6) {
    throw invalid('NL_IPAM_FAMILY_MISMATCH', `unknown address family ${String(req.family)} for network "${req.ownerName}": expected 4 or 6`);
  }
  if (inUse.has(req.id)) {
    throw conflict('NL_IPAM_POOL_EXISTS', `pool "${req.id}" of network "${req.ownerName}" already exists`);
  }
  if (req.subnet !== undefined) return buildRecord(req, userSubnet(req, inUse.values()), true);
  requireSubnet(req);
  const pools = [...inUse.values()].map((p) => p.subnet).filter((c) => c.family === req.family);
  const busy = [...pools, ...parseAvoid(avoid, req.family)];
  return buildRecord(req, pickDefault(defaults, req.family, busy, req.ownerName), false);
}

/** The request a stored record answers: re-planning it re-validates the record. */
export function requestOf(rec: PoolRecord): PoolRequest {
  return {
    id: rec.id,
    owner: rec.owner,
    ownerName: rec.ownerName,
    family: rec.family,
    subnet: String(rec.subnet),
    ipRange: rec.ipRange,
    gateway: rec.gateway,
    auxAddresses: rec.aux,
  };
}

/** Addresses of a subnet no host may have: network (for IPv6 the subnet-router anycast) and broadcast. */
export function edges(subnet: Cidr): Map<string, string> {
  if (subnet.family === 6) return new Map([[nthHost(subnet, 0), 'subnet-router anycast address']]);
  return new Map([
    [nthHost(subnet, 0), 'network address'],
    [nthHost(subnet, -1), 'broadcast address'],
  ]);
}

function userSubnet(req: PoolRequest, inUse: Iterable<PoolInUse>): Cidr {
  const c = toCidr(req.subnet ?? '', 'subnet');
  const shown = formatCidr(c);
  checkFamily(c.family, req, `subnet ${shown}`);
  if (c.prefix > MAX_PREFIX[c.family]) {
    throw invalid(
      'NL_IPAM_PREFIX_TOO_LONG',
      `subnet ${shown} is too small for network "${req.ownerName}": ` + `expected an IPv${c.family} prefix of /${MAX_PREFIX[c.family]} or shorter`,
    );
  }
  for (const p of inUse) {
    if (overlaps(p.subnet, c)) {
      throw forbidden('NL_IPAM_POOL_OVERLAP', `subnet ${shown} overlaps network "${p.rec.ownerName}" (${p.rec.subnet})`);
    }
  }
  return c;
}

function checkFamily(got: Family, req: PoolRequest, what: string): void {
  if (got !== req.family) {
    throw invalid('NL_IPAM_FAMILY_MISMATCH', `${what} is IPv${got} but network "${req.ownerName}" asks for an IPv${req.family} pool`);
  }
}

/** A default subnet is unknown to the user, so nothing may be placed in it by address. */
function requireSubnet(req: PoolRequest): void {
  const why = 'needs --subnet: a default subnet is only picked when no gateway, ip-range or aux address is given';
  if (req.ipRange !== undefined) throw invalid('NL_IPAM_RANGE_OUTSIDE', `ip-range ${req.ipRange} ${why}`);
  if (req.gateway !== undefined) throw invalid('NL_IPAM_GATEWAY_OUTSIDE', `gateway ${req.gateway} ${why}`);
  const aux = Object.keys(req.auxAddresses ?? {});
  if (aux.length > 0) throw invalid('NL_IPAM_AUX_OUTSIDE', `aux address "${aux[0]}" ${why}`);
}

function buildRecord(req: PoolRequest, subnet: Cidr, userSubnet: boolean): PoolRecord {
  const ipRange = req.ipRange === undefined ? undefined : checkRange(req, req.ipRange, subnet);
  const gateway = req.gateway === undefined ? nthHost(subnet, 1) : checkGateway(req, req.gateway, subnet);
  const aux = Object.freeze(checkAux(req, subnet, gateway));
  return Object.freeze({
    id: req.id,
    owner: req.owner,
    ownerName: req.ownerName,
    family: req.family,
    subnet: formatCidr(subnet),
    ...(ipRange === undefined ? {} : { ipRange }),
    gateway,
    userGateway: req.gateway !== undefined,
    aux,
    userSubnet,
  });
}

function checkRange(req: PoolRequest, text: string, subnet: Cidr): string {
  const r = toCidr(text, 'ip-range');
  const shown = formatCidr(r);
  checkFamily(r.family, req, `ip-range ${shown}`);
  // CIDRs are nested or disjoint, so "overlaps and not shorter" means "inside".
  if (r.prefix < subnet.prefix || !overlaps(subnet, r)) {
    throw invalid('NL_IPAM_RANGE_OUTSIDE', `ip-range ${shown} is outside subnet ${formatCidr(subnet)}`);
  }
  return shown;
}

function checkGateway(req: PoolRequest, text: string, subnet: Cidr): string {
  const g = toIp(text, 'gateway');
  const shown = formatIp(g);
  checkFamily(g.family, req, `gateway ${shown}`);
  if (!contains(subnet, g)) throw invalid('NL_IPAM_GATEWAY_OUTSIDE', `gateway ${shown} is outside subnet ${formatCidr(subnet)}`);
  const edge = edges(subnet).get(shown);
  if (edge) {
    throw invalid('NL_IPAM_INVALID_ADDRESS', `gateway ${shown} is the ${edge} of ${formatCidr(subnet)}: expected a host address such as ${nthHost(subnet, 1)}`);
  }
  return shown;
}

function checkAux(req: PoolRequest, subnet: Cidr, gateway: string): Record<string, string> {
  const taken = edges(subnet).set(gateway, 'gateway');
  const out: [string, string][] = [];
  for (const [name, text] of Object.entries(req.auxAddresses ?? {})) {
    const ip = toIp(text, `aux address "${name}"`);
    const what = `aux address "${name}"=${formatIp(ip)}`;
    checkFamily(ip.family, req, what);
    if (!contains(subnet, ip)) throw invalid('NL_IPAM_AUX_OUTSIDE', `${what} is outside subnet ${formatCidr(subnet)}`);
    const clash = taken.get(formatIp(ip));
    if (clash) {
      throw invalid('NL_IPAM_AUX_CONFLICT', `${what} is already the ${clash} of subnet ${formatCidr(subnet)}: pick another address`);
    }
    taken.set(formatIp(ip), `aux address "${name}"`);
    out.push([name, formatIp(ip)]);
  }
  // fromEntries defines own properties, so a name like "__proto__" cannot reach the prototype.
  return Object.fromEntries(out);
}
