// The shared IPAM's book: one pool per network and family, and who holds which address in each.
// Pure and synchronous apart from restore(). plan* validate and choose without changing anything
// (check everything before changing anything); addPool/allocate/release/removePool change memory.
// Each change has its *Ops twin returning the store writes that persist it (store.ts): the
// controller commits those with its records first, then makes the change.

import { type Cidr, type IpAddr, contains, formatIp, parseIp, toCidr, toIp } from '../common/cidr.js';
import { type NetloomError, conflict, invalid, notFound, unavailable } from '../common/errors.js';
import type { Store } from '../store/types.js';
import { type AddressBook, addressBook } from './bitmap.js';
import { DEFAULT_POOLS4, DEFAULT_POOLS6, checkDefaults } from './defaults.js';
import { edges, planRecord, requestOf } from './request.js';
import { type IpamOps, allocOps, cursorOps, dropPoolOps, poolOps, readSnapshot, releaseOps } from './store.js';
import type { Allocation, DefaultPool, Family, IpamOptions, PoolRecord, PoolRequest } from './types.js';

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

  /** Called by the controller at start: loads what the IPAM persisted in `store`. */
  async restore(store: Pick<Store, 'list'>): Promise<void> {
    const s = await readSnapshot(store);
    this.load(s.pools, s.allocations, s.cursors);
  }

  /** Replaces all state with persisted state, or throws and keeps it. */
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
    return planRecord(req, this.byId, this.defaults[req.family], avoid);
  }

  /** Commits a planned (or persisted) record. Re-validates it all: never trust the caller. */
  addPool(rec: PoolRecord): void {
    const checked = this.planPool(requestOf(rec));
    const stored = Object.freeze({ ...checked, userGateway: rec.userGateway === true, userSubnet: rec.userSubnet === true });
    this.byId.set(rec.id, openPool(stored));
  }

  /** The writes that persist `rec` (a new pool, or a known one changed or rebound); exclusive for a new one. */
  addPoolOps(rec: PoolRecord): IpamOps {
    return poolOps(rec, !this.byId.has(rec.id));
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

  /** The deletes of a pool, its cursor and every allocation in it. */
  removePoolOps(id: string): IpamOps {
    return dropPoolOps(id, this.allocations(id));
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

  /** The write of a planned address; its compare fails the transaction if the address was taken meanwhile. */
  allocateOps(poolId: string, ip: string, owner: string): IpamOps {
    return allocOps({ pool: poolId, ip, owner });
  }

  /** The cursor write allocate(poolId, ip) will make, if it moves the cursor: for the same
   *  transaction as allocateOps, instead of a cursorOps write after the allocate. */
  allocateCursorOps(poolId: string, ip: string): IpamOps {
    const addr = toIp(ip, 'address to allocate');
    return cursorOps(this.mustPool(poolId).book.isNext(addr) ? [[poolId, formatIp(addr)]] : []);
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

  releaseOps(poolId: string, ip: string): IpamOps {
    return releaseOps(poolId, ip);
  }

  /** The writes of the rotation cursors of `poolIds` (allocate and release both may move them), so
   *  a restarted daemon hands out addresses in exactly the order this one would have. */
  cursorOps(poolIds: readonly string[]): IpamOps {
    const out: [string, string][] = [];
    for (const id of new Set(poolIds)) {
      const c = this.cursor(id);
      if (c !== undefined) out.push([id, c]);
    }
    return cursorOps(out);
  }

  /** For inspect and for drivers that need the subnet and gateway of a network. */
  pool(id: string): PoolRecord | undefined {
    return this.byId.get(id)?.rec;
  }

  /** Every pool in insertion order. */
  pools(): PoolRecord[] {
    return [...this.byId.values()].map((p) => p.rec);
  }

  /** IPv4 in address order, IPv6 in allocation order. */
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

  /** The address the next dynamic search starts after. */
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
  return { rec, subnet, reserved, book: addressBook(range, [...reserved.keys()]) };
}
