// The IPAM's persistence: the only place that spells its store keys. The book (book.ts) returns
// these ops for the controller to commit in the same transaction as its records, and reads them
// back at start. Keys and values are those netloom has always written:
//   pool/<pool id>              PoolRecord
//   alloc/<pool id>/<address>   Allocation {pool, ip, owner}
//   cursor/<pool id>            the address the next dynamic search starts after

import { type Compare, type Store, type TxnOp, absent, del, put } from '../store/types.js';
import type { Allocation, PoolRecord } from './types.js';

/** Store writes (and the compares that make a reservation exclusive) to commit with a change. */
export interface IpamOps {
  readonly ops: readonly TxnOp[];
  readonly compares: readonly Compare[];
}

/** What load() takes: everything the IPAM persisted. */
export interface IpamSnapshot {
  readonly pools: readonly PoolRecord[];
  readonly allocations: readonly Allocation[];
  readonly cursors: Readonly<Record<string, string>>;
}

const POOL = 'pool/';
const ALLOC = 'alloc/';
const CURSOR = 'cursor/';

export const ipamKey = {
  pool: (id: string): string => `${POOL}${id}`,
  alloc: (pool: string, ip: string): string => `${ALLOC}${pool}/${ip}`,
  cursor: (pool: string): string => `${CURSOR}${pool}`,
} as const;

/** Reads what the IPAM persisted; load() validates it. */
export async function readSnapshot(store: Pick<Store, 'list'>): Promise<IpamSnapshot> {
  const pools = (await store.list<PoolRecord>(POOL)).map((e) => e.value);
  const allocations = (await store.list<Allocation>(ALLOC)).map((e) => e.value);
  const cursors = Object.fromEntries((await store.list<string>(CURSOR)).map((e) => [e.key.slice(CURSOR.length), e.value]));
  return { pools, allocations, cursors };
}

/** Writes a pool record; `fresh` adds the compare that it did not exist yet. */
export function poolOps(rec: PoolRecord, fresh: boolean): IpamOps {
  return { ops: [put(ipamKey.pool(rec.id), rec)], compares: fresh ? [absent(ipamKey.pool(rec.id))] : [] };
}

/** Deletes a pool with its cursor and the allocations given (all of the pool's). */
export function dropPoolOps(id: string, allocations: readonly Allocation[]): IpamOps {
  const ops = [del(ipamKey.pool(id)), del(ipamKey.cursor(id)), ...allocations.map((a) => del(ipamKey.alloc(id, a.ip)))];
  return { ops, compares: [] };
}

/** Writes an allocation; the compare makes a second holder of the address impossible. */
export function allocOps(a: Allocation): IpamOps {
  const k = ipamKey.alloc(a.pool, a.ip);
  return { ops: [put(k, { pool: a.pool, ip: a.ip, owner: a.owner })], compares: [absent(k)] };
}

export function releaseOps(pool: string, ip: string): IpamOps {
  return { ops: [del(ipamKey.alloc(pool, ip))], compares: [] };
}

export function cursorOps(cursors: readonly (readonly [string, string])[]): IpamOps {
  return { ops: cursors.map(([pool, ip]) => put(ipamKey.cursor(pool), ip)), compares: [] };
}

/** Several changes as one: for one transaction. */
export function joinOps(parts: readonly IpamOps[]): IpamOps {
  return { ops: parts.flatMap((p) => p.ops), compares: parts.flatMap((p) => p.compares) };
}
