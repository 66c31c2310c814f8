// The shared IPAM: one pool per network and family, and the addresses handed out in each.
// Pure and synchronous. plan* validate and choose without changing anything (check everything
// before changing anything); addPool/allocate commit. The controller persists pools(),
// allocations() and cursor() and hands them back to load() after a restart.

import {
  type Cidr, type IpAddr, contains, formatCidr, formatIp, nthHost, overlaps, parseIp, toCidr, toIp,
} from '../common/cidr.js';
import { type NetloomError, conflict, forbidden, invalid, notFound, unavailable } from '../common/errors.js';
import { DEFAULT_POOLS4, DEFAULT_POOLS6, checkDefaults, parseAvoid, pickDefault } from './defaults.js';
import {
  type Allocation, type DefaultPool, type Family, type IpamOptions, MAX_PREFIX, type PoolRecord, type PoolRequest,
} from './types.js';

/** Which addresses of one pool are taken and by whom, and where the next dynamic search starts. */
interface AddressBook {
  holder(ip: IpAddr): string | undefined;
  take(ip: IpAddr, owner: string): void;
  drop(ip: IpAddr): void;
  /** The first address after the cursor that is neither taken nor reserved, wrapping within the range. */
  next(): IpAddr | undefined;
  /** Whether `ip` is what next() would return; cheaper than next() on the allocation path. */
  isNext(ip: IpAddr): boolean;
  cursor: IpAddr | undefined;
  entries(): Iterable<[IpAddr, string]>;
}

interface Pool {
  readonly rec: PoolRecord;
  readonly subnet: Cidr;
  /** address value -> what it is reserved as ("gateway", "broadcast address", ...) */
  readonly reserved: ReadonlyMap<number | bigint, string>;
  readonly book: AddressBook;
}

export class Ipam {
  private readonly defaults: Readonly<Record<Family, readonly DefaultPool[]>>;
  private byId = new Map<string, Pool>();

  constructor(options: IpamOptions = {}) {
    const d4 = options.defaults4 ?? DEFAULT_POOLS4;
    const d6 = options.defaults6 ?? DEFAULT_POOLS6;
    checkDefaults(d4, 4);
    checkDefaults(d6, 6);
    this.defaults = { 4: d4, 6: d6 };
  }

  /** Called by the controller at start with what it persisted. Replaces all state, or throws and keeps it. */
  load(pools: readonly PoolRecord[], allocations: readonly Allocation[], cursors: Readonly<Record<string, string>> = {}): void {
    // Replaying through addPool/allocate re-validates everything read from disk.
    const fresh = new Ipam({ defaults4: this.defaults[4], defaults6: this.defaults[6] });
    for (const rec of pools) fresh.addPool(rec);
    for (const a of allocations) fresh.allocate(a.pool, a.ip, a.owner);
    for (const [id, ip] of Object.entries(cursors)) fresh.restoreCursor(id, ip);
    this.byId = fresh.byId;
  }

  /**
   * Called by the controller when a network is created, before anything else happens: validates the
   * request and returns the record addPool would store. `avoid` lists the host's routes and interface
   * addresses; a default pick never overlaps them, a user subnet may (the user knows best).
   */
  planPool(req: PoolRequest, avoid: readonly string[] = []): PoolRecord {
    if (req.family !== 4 && req.family !== 6) {
      throw invalid(
        'NL_IPAM_FAMILY_MISMATCH',
        `unknown address family ${String(req.family)} for network "${req.ownerName}": expected 4 or 6`,
      );
    }
    if (this.byId.has(req.id)) {
      throw conflict('NL_IPAM_POOL_EXISTS', `pool "${req.id}" of network "${req.ownerName}" already exists`);
    }
    if (req.subnet !== undefined) return buildRecord(req, this.userSubnet(req), true);
    requireSubnet(req);
    const pools = [...this.byId.values()].map((p) => p.subnet).filter((c) => c.family === req.family);
    const busy = [...pools, ...parseAvoid(avoid, req.family)];
    return buildRecord(req, pickDefault(this.defaults[req.family], req.family, busy, req.ownerName), false);
  }

  /** Commits a planned (or persisted) record. Re-validates it all: never trust the caller. */
  addPool(rec: PoolRecord): void {
    const req: PoolRequest = {
      id: rec.id, owner: rec.owner, ownerName: rec.ownerName, family: rec.family,
      subnet: String(rec.subnet), ipRange: rec.ipRange, gateway: rec.gateway, auxAddresses: rec.aux,
    };
    const checked = this.planPool(req);
    const stored = Object.freeze({ ...checked, userGateway: rec.userGateway === true, userSubnet: rec.userSubnet === true });
    this.byId.set(rec.id, openPool(stored));
  }

  /** Hands a pool to another owner (a Docker-requested pool bound to the network made from it);
   *  its addresses stay allocated. */
  rebind(id: string, owner: string, ownerName: string): PoolRecord {
    const pool = this.mustPool(id);
    const rec = Object.freeze({ ...pool.rec, owner, ownerName });
    this.byId.set(id, { ...pool, rec });
    return rec;
  }

  /** Called when a network is deleted; idempotent; drops the pool's allocations with it. */
  removePool(id: string): void {
    this.byId.delete(id);
  }

  /**
   * Called when an endpoint is created: the static `ip` if given and free, else the next free address
   * of the range after the cursor. `owner` is taken so a plan reads like the allocate that commits it.
   */
  planAddress(poolId: string, owner: string, ip?: string): string {
    const pool = this.mustPool(poolId);
    if (ip !== undefined) return formatIp(checkFree(pool, ip));
    const next = pool.book.next();
    if (next) return formatIp(next);
    const { rec } = pool;
    throw unavailable('NL_IPAM_EXHAUSTED', `no free address left in ${rec.ipRange ?? rec.subnet} (network "${rec.ownerName}")`);
  }

  /** Commits an address for `owner`; throws NL_IPAM_ADDR_IN_USE naming the holder rather than share it. */
  allocate(poolId: string, ip: string, owner: string): void {
    const pool = this.mustPool(poolId);
    const addr = checkFree(pool, ip);
    // Only the dynamic pick moves the cursor, as in Docker: a static address must not make the
    // rotation jump ahead (skipping fresh addresses) or back (reusing recently freed ones).
    const dynamic = pool.book.isNext(addr);
    pool.book.take(addr, owner);
    if (dynamic) pool.book.cursor = addr;
  }

  /** Called when an endpoint is deleted; idempotent (an unknown pool or a free address is fine), but unparsable text throws. */
  release(poolId: string, ip: string): void {
    const pool = this.byId.get(poolId);
    const addr = toIp(ip, 'address to release');
    if (!pool || addr.family !== pool.rec.family || pool.book.holder(addr) === undefined) return;
    pool.book.drop(addr);
    // When the freed address would be the very next pick, put the cursor on it so the search starts
    // past it: a just-released address comes back only once the range wraps around (stale ARP caches).
    if (pool.book.isNext(addr)) pool.book.cursor = addr;
  }

  /** For inspect and for drivers that need the subnet and gateway of a network. */
  pool(id: string): PoolRecord | undefined {
    return this.byId.get(id)?.rec;
  }

  /** Every pool in insertion order; the controller persists these. */
  pools(): PoolRecord[] {
    return [...this.byId.values()].map((p) => p.rec);
  }

  /** IPv4 in address order, IPv6 in allocation order; the controller persists these. */
  allocations(poolId?: string): Allocation[] {
    const out: Allocation[] = [];
    for (const [id, pool] of this.byId) {
      if (poolId !== undefined && poolId !== id) continue;
      for (const [ip, owner] of pool.book.entries()) out.push({ pool: id, ip: formatIp(ip), owner });
    }
    return out;
  }

  /** Who holds `ip`; undefined when free, reserved, unparsable or the pool is unknown. */
  holder(poolId: string, ip: string): string | undefined {
    const pool = this.byId.get(poolId);
    const addr = parseIp(ip);
    return pool && addr?.family === pool.rec.family ? pool.book.holder(addr) : undefined;
  }

  /** The address the next dynamic search starts after; the controller persists it with the allocations. */
  cursor(poolId: string): string | undefined {
    const c = this.byId.get(poolId)?.book.cursor;
    return c && formatIp(c);
  }

  /** The pool whose subnet holds `ip` (pools of a family never overlap, so at most one). */
  findPoolFor(ip: string): PoolRecord | undefined {
    const addr = parseIp(ip);
    if (!addr) return undefined;
    for (const p of this.byId.values()) if (contains(p.subnet, addr)) return p.rec;
    return undefined;
  }

  private mustPool(id: string): Pool {
    const pool = this.byId.get(id);
    if (pool) return pool;
    throw notFound('NL_IPAM_POOL_NOT_FOUND', `pool "${id}" not found: it was never added or its network was deleted`);
  }

  private userSubnet(req: PoolRequest): Cidr {
    const c = toCidr(req.subnet ?? '', 'subnet');
    const shown = formatCidr(c);
    checkFamily(c.family, req, `subnet ${shown}`);
    if (c.prefix > MAX_PREFIX[c.family]) {
      throw invalid(
        'NL_IPAM_PREFIX_TOO_LONG',
        `subnet ${shown} is too small for network "${req.ownerName}": ` +
          `expected an IPv${c.family} prefix of /${MAX_PREFIX[c.family]} or shorter`,
      );
    }
    for (const p of this.byId.values()) {
      if (overlaps(p.subnet, c)) {
        throw forbidden('NL_IPAM_POOL_OVERLAP', `subnet ${shown} overlaps network "${p.rec.ownerName}" (${p.rec.subnet})`);
      }
    }
    return c;
  }

  /** A persisted cursor of a pool that no longer exists is stale, not corrupt: skip it. */
  private restoreCursor(id: string, ip: string): void {
    const pool = this.byId.get(id);
    if (!pool) return;
    const addr = toIp(ip, `cursor of pool "${id}"`);
    if (!contains(pool.subnet, addr)) {
      throw invalid('NL_IPAM_ADDR_OUTSIDE', `cursor ${ip} of pool "${id}" is outside subnet ${pool.rec.subnet}`);
    }
    pool.book.cursor = addr;
  }
}

/** The address `text` parsed, when `pool` can hand it out; runs for every allocation, so kept small. */
function checkFree(pool: Pool, text: string): IpAddr {
  const ip = parseIp(text);
  const free = ip?.family === pool.rec.family && contains(pool.subnet, ip) && !pool.reserved.has(ip.value) && pool.book.holder(ip) === undefined;
  if (!free) throw refusal(pool, text, ip);
  return ip;
}

/** Why checkFree refused an address, as the error to throw. */
function refusal(pool: Pool, text: string, ip: IpAddr | undefined): NetloomError {
  const { rec } = pool;
  const net = `network "${rec.ownerName}"`;
  if (!ip) {
    return invalid('NL_IPAM_INVALID_ADDRESS', `invalid address "${text}" for ${net}: expected an IPv${rec.family} address in ${rec.subnet}`);
  }
  const shown = formatIp(ip);
  if (ip.family !== rec.family) {
    return invalid('NL_IPAM_FAMILY_MISMATCH', `address ${shown} is IPv${ip.family} but subnet ${rec.subnet} of ${net} is IPv${rec.family}`);
  }
  if (!contains(pool.subnet, ip)) return invalid('NL_IPAM_ADDR_OUTSIDE', `address ${shown} is outside subnet ${rec.subnet} of ${net}`);
  const role = pool.reserved.get(ip.value);
  if (role) {
    return conflict('NL_IPAM_ADDR_RESERVED', `address ${shown} is reserved as the ${role} of ${net}: pick another address in ${rec.subnet}`);
  }
  return conflict('NL_IPAM_ADDR_IN_USE', `address ${shown} is already in use by ${pool.book.holder(ip)} in ${net}`);
}

function openPool(rec: PoolRecord): Pool {
  const subnet = toCidr(rec.subnet);
  const range = rec.ipRange === undefined ? subnet : toCidr(rec.ipRange);
  const named = edges(subnet).set(rec.gateway, 'gateway');
  for (const [name, ip] of Object.entries(rec.aux)) named.set(ip, `aux address "${name}"`);
  const reserved = new Map([...named].map(([ip, role]) => [toIp(ip).value, role]));
  const values = [...reserved.keys()];
  const book = range.family === 4 ? new V4Book(range, values as number[]) : new V6Book(range, values as bigint[]);
  return { rec, subnet, reserved, book };
}

/** Addresses of a subnet no host may have: network (for IPv6 the subnet-router anycast) and broadcast. */
function edges(subnet: Cidr): Map<string, string> {
  if (subnet.family === 6) return new Map([[nthHost(subnet, 0), 'subnet-router anycast address']]);
  return new Map([[nthHost(subnet, 0), 'network address'], [nthHost(subnet, -1), 'broadcast address']]);
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
    id: req.id, owner: req.owner, ownerName: req.ownerName, family: req.family, subnet: formatCidr(subnet),
    ...(ipRange === undefined ? {} : { ipRange }),
    gateway, userGateway: req.gateway !== undefined, aux, userSubnet,
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
    throw invalid(
      'NL_IPAM_INVALID_ADDRESS',
      `gateway ${shown} is the ${edge} of ${formatCidr(subnet)}: expected a host address such as ${nthHost(subnet, 1)}`,
    );
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
      throw invalid(
        'NL_IPAM_AUX_CONFLICT',
        `${what} is already the ${clash} of subnet ${formatCidr(subnet)}: pick another address`,
      );
    }
    taken.set(formatIp(ip), `aux address "${name}"`);
    out.push([name, formatIp(ip)]);
  }
  // fromEntries defines own properties, so a name like "__proto__" cannot reach the prototype.
  return Object.fromEntries(out);
}

const PAGE = 65536; // one bitmap page per /16: 8 KiB, made only once an address in it is marked
const CHUNK = 256; // owners are kept in arrays of 256: a Map with an entry per address is 5x slower

/** IPv4: a paged bitmap of taken-or-reserved addresses, so a /8 pool costs nothing until used. */
class V4Book implements AddressBook {
  private readonly pages = new Map<number, Uint32Array>();
  private readonly owners = new Map<number, (string | undefined)[]>();
  private readonly lo: number;
  private readonly hi: number;
  private last = -1;

  constructor(range: Cidr, reserved: readonly number[]) {
    this.lo = range.base as number;
    this.hi = this.lo + 2 ** (32 - range.prefix) - 1;
    for (const r of reserved) this.mark(r, true);
  }
  get cursor(): IpAddr | undefined {
    return this.last < 0 ? undefined : { family: 4, value: this.last };
  }
  set cursor(ip: IpAddr | undefined) {
    this.last = ip === undefined ? -1 : (ip.value as number);
  }
  holder(ip: IpAddr): string | undefined {
    const v = ip.value as number;
    return this.owners.get(Math.floor(v / CHUNK))?.[v % CHUNK];
  }
  take(ip: IpAddr, owner: string): void {
    const v = ip.value as number;
    let chunk = this.owners.get(Math.floor(v / CHUNK));
    if (!chunk) this.owners.set(Math.floor(v / CHUNK), (chunk = new Array<string | undefined>(CHUNK)));
    chunk[v % CHUNK] = owner;
    this.mark(v, true);
  }
  drop(ip: IpAddr): void {
    const v = ip.value as number;
    const chunk = this.owners.get(Math.floor(v / CHUNK));
    if (chunk?.[v % CHUNK] === undefined) return;
    chunk[v % CHUNK] = undefined;
    this.mark(v, false);
  }
  next(): IpAddr | undefined {
    const v = this.nextValue();
    return v < 0 ? undefined : { family: 4, value: v };
  }
  isNext(ip: IpAddr): boolean {
    return this.nextValue() === ip.value;
  }
  /** In address order, so persisted allocations read naturally. */
  *entries(): Iterable<[IpAddr, string]> {
    for (const key of [...this.owners.keys()].sort((a, b) => a - b)) {
      const chunk = this.owners.get(key)!;
      for (let i = 0; i < CHUNK; i++) {
        const owner = chunk[i];
        if (owner !== undefined) yield [{ family: 4, value: key * CHUNK + i }, owner];
      }
    }
  }
  private nextValue(): number {
    const from = this.last >= this.lo && this.last < this.hi ? this.last + 1 : this.lo;
    const v = this.scan(from, this.hi + 1);
    return v >= 0 ? v : this.scan(this.lo, from);
  }
  private mark(v: number, used: boolean): void {
    let page = this.pages.get(v >>> 16);
    if (!page) {
      if (!used) return;
      page = new Uint32Array(PAGE / 32);
      this.pages.set(v >>> 16, page);
    }
    const j = v & 0xffff;
    if (used) page[j >>> 5]! |= 1 << (j & 31);
    else page[j >>> 5]! &= ~(1 << (j & 31));
  }
  /** First unmarked address in [from, to), or -1. A missing page is entirely free. */
  private scan(from: number, to: number): number {
    for (let v = from; v < to; ) {
      const p = v >>> 16;
      const page = this.pages.get(p);
      if (!page) return v;
      const end = Math.min(to, (p + 1) * PAGE);
      const j = scanPage(page, v - p * PAGE, end - p * PAGE);
      if (j >= 0) return p * PAGE + j;
      v = end;
    }
    return -1;
  }
}

/** First clear bit in [from, to) of one page, a 32-bit word at a time; -1 when none. */
function scanPage(page: Uint32Array, from: number, to: number): number {
  for (let j = from; j < to; j = (j | 31) + 1) {
    const free = ~page[j >>> 5]! & (-1 << (j & 31));
    if (free !== 0) {
      const k = (j & ~31) + 31 - Math.clz32(free & -free);
      return k < to ? k : -1;
    }
  }
  return -1;
}

/** IPv6: subnets are too big for a bitmap, and taken addresses are few, so a map and a walk. */
class V6Book implements AddressBook {
  private readonly holders = new Map<bigint, string>();
  private readonly reserved: ReadonlySet<bigint>;
  private readonly lo: bigint;
  private readonly hi: bigint;
  cursor: IpAddr | undefined;

  constructor(range: Cidr, reserved: readonly bigint[]) {
    this.lo = BigInt(range.base);
    this.hi = this.lo + (1n << BigInt(128 - range.prefix)) - 1n;
    this.reserved = new Set(reserved);
  }
  holder(ip: IpAddr): string | undefined {
    return this.holders.get(ip.value as bigint);
  }
  take(ip: IpAddr, owner: string): void {
    this.holders.set(ip.value as bigint, owner);
  }
  drop(ip: IpAddr): void {
    this.holders.delete(ip.value as bigint);
  }
  next(): IpAddr | undefined {
    const last = this.cursor?.value as bigint | undefined;
    let v = last !== undefined && last >= this.lo && last < this.hi ? last + 1n : this.lo;
    // Of any k+1 consecutive addresses, k = taken + reserved, one is free: the walk is bounded.
    const size = this.hi - this.lo + 1n;
    const limit = this.holders.size + this.reserved.size + 1;
    for (let n = 0; n < limit && BigInt(n) < size; n++) {
      if (!this.holders.has(v) && !this.reserved.has(v)) return { family: 6, value: v };
      v = v === this.hi ? this.lo : v + 1n;
    }
    return undefined;
  }
  isNext(ip: IpAddr): boolean {
    return this.next()?.value === ip.value;
  }
  *entries(): Iterable<[IpAddr, string]> {
    for (const [v, owner] of this.holders) yield [{ family: 6, value: v }, owner];
  }
}
