// Pools and addresses an outside IPAM client holds (the Docker engine, through plugin/ipam.ts).
//
// The engine asks for a pool, its gateway and its addresses before and apart from the network and
// endpoints that use them. They live in the same store and the same IPAM as the CLI's networks, so
// the two faces can never hand out one subnet or address twice:
//   - reservePool adds a pool owned by RESERVED until a network binds it (external.ts);
//   - reserveAddress allocates for RESERVED, and only releaseAddress frees (the client's lifetime).
// Each operation is one store transaction, then the IPAM in memory.
import { randomBytes } from 'node:crypto';
import { conflict, invalid, notFound } from '../common/errors.js';
import type { PoolRecord } from '../ipam/types.js';
import { formatIfAddr, ifAddrIn } from '../common/cidr.js';
import { opLog, type Ctx } from './context.js';
import { saveCursors } from './endpoints.js';
import { hostAvoid, poolDeletes } from './networks.js';

/** Owner of a reserved pool no network has bound yet, and of every reserved address. The value
 *  is persisted: stores written before this module keep meaning the same. */
export const RESERVED = 'docker-ipam';

export interface PoolReservation {
  readonly family: 4 | 6;
  /** Absent: picked from the default pools, clear of the host's routes. */
  readonly subnet?: string;
  readonly ipRange?: string;
}

export function mustPool(ctx: Ctx, poolId: string): PoolRecord {
  const p = ctx.ipam.pool(poolId);
  if (!p) throw notFound('NL_IPAM_POOL_NOT_FOUND', `pool ${poolId} not found`);
  return p;
}

export async function reservePool(ctx: Ctx, req: PoolReservation): Promise<PoolRecord> {
  if (req.ipRange && !req.subnet) throw invalid('NL_IPAM_NO_SUBNET', `--ip-range ${req.ipRange} needs a --subnet to belong to`);
  const id = `dk-${randomBytes(8).toString('hex')}`;
  // A pick never overlaps the host's routes: the engine's host-overlap check then passes at once.
  const avoid = req.subnet ? [] : await hostAvoid(ctx);
  const rec = ctx.ipam.planPool({ id, owner: RESERVED, ownerName: `docker pool ${id}`, family: req.family, subnet: req.subnet, ipRange: req.ipRange }, avoid);
  const w = ctx.ipam.addPoolOps(rec);
  await ctx.state.commit(w.ops, w.compares);
  ctx.ipam.addPool(rec);
  opLog(ctx, { op: 'reserve pool', pool: id }).info({ subnet: rec.subnet, ipRange: rec.ipRange }, 'pool reserved');
  return rec;
}

/** Drops a reserved pool; a pool a network has bound goes with the network, and an unknown one is
 *  gone already. */
export async function releasePool(ctx: Ctx, poolId: string): Promise<void> {
  const p = ctx.ipam.pool(poolId);
  if (!p || p.owner !== RESERVED) return;
  await ctx.state.commit(poolDeletes(ctx, poolId));
  ctx.ipam.removePool(poolId);
}

/** Takes `address` (or the next free one) for RESERVED; returns it as address/prefix. */
export async function reserveAddress(ctx: Ctx, poolId: string, address?: string): Promise<string> {
  const p = mustPool(ctx, poolId);
  const ip = ctx.ipam.planAddress(p.id, RESERVED, address);
  const w = ctx.ipam.allocateOps(p.id, ip, RESERVED);
  await ctx.state.commit(w.ops, w.compares);
  ctx.ipam.allocate(p.id, ip, RESERVED);
  await saveCursors(ctx, [p.id]);
  return formatIfAddr(ifAddrIn(ip, p.subnet));
}

/** Frees a reserved address; the gateway, an unknown pool and a free address are no-ops, and an
 *  address another owner holds is kept, whatever the caller believes. */
export async function releaseAddress(ctx: Ctx, poolId: string, address: string): Promise<void> {
  const p = ctx.ipam.pool(poolId);
  if (!p || address === p.gateway) return;
  const holder = ctx.ipam.holder(poolId, address);
  if (holder === undefined) return;
  if (holder !== RESERVED) {
    ctx.log.warn({ pool: poolId, address, holder }, 'release of a reserved address: held by a netloom endpoint, kept');
    return;
  }
  await ctx.state.commit(ctx.ipam.releaseOps(poolId, address).ops);
  ctx.ipam.release(poolId, address);
  await saveCursors(ctx, [poolId]);
}

/** --gateway: a reserved pool was planned with its first address as gateway; this re-plans it with
 *  `gateway` (absent or the same: the pool as it is). Once a network binds the pool it is fixed. */
export async function setPoolGateway(ctx: Ctx, poolId: string, gateway?: string): Promise<PoolRecord> {
  const p = mustPool(ctx, poolId);
  if (!gateway || gateway === p.gateway) return p;
  if (p.owner !== RESERVED)
    throw conflict('NL_IPAM_GATEWAY_FIXED', `the gateway of pool ${p.id} is ${p.gateway}: its network exists, it cannot move to ${gateway}`);
  const holder = ctx.ipam.holder(p.id, gateway);
  if (holder !== undefined) throw conflict('NL_IPAM_ADDR_IN_USE', `address ${gateway} of pool ${p.id} is already in use: it cannot be the gateway`);
  // The IPAM has no in-place edit: the pool is planned again beside itself, then swapped in with
  // its allocations once the store has the new record.
  const allocs = ctx.ipam.allocations(p.id);
  const putBack = (rec: PoolRecord): void => {
    ctx.ipam.addPool(rec);
    for (const a of allocs) ctx.ipam.allocate(p.id, a.ip, a.owner);
  };
  ctx.ipam.removePool(p.id);
  let moved: PoolRecord;
  try {
    moved = ctx.ipam.planPool({ id: p.id, owner: p.owner, ownerName: p.ownerName, family: p.family, subnet: p.subnet, ipRange: p.ipRange, gateway });
  } finally {
    // Planned or not, the pool goes back as it was until the store has the new record.
    putBack(p);
  }
  const rec: PoolRecord = { ...moved, userSubnet: p.userSubnet, userGateway: true };
  await ctx.state.commit(ctx.ipam.addPoolOps(rec).ops);
  ctx.ipam.removePool(p.id);
  putBack(rec);
  return rec;
}
