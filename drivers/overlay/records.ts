// The overlay cluster's keys and records, pure: how the ov/ keys are spelled and what the
// cluster's transactions write (the live member that runs them is cluster.ts; peers.ts reads
// the mirror back). Keys under the cluster prefix:
//   ov/seq                 bumped by every network definition (serialises subnet/VNI checks)
//   ov/net/<id>            {id, name, subnet, gateway, vni, mtu?, created}
//   ov/netname/<name>      id (name URI-encoded: Docker allows any name)
//   ov/vni/<vni>           id
//   ov/alloc/<id>/<ip>     {host, ep}  under this host's lease
//   ov/ep/<id>/<ep>        {host, vtep, ip, mac, name, aliases}  under this host's lease
//   ov/host/<node id>      {vtep, name}  under this host's lease
//   ov/vtep/<address>      node id       under this host's lease
//   ov/beat/<node id>      a counter     under this host's lease, bumped with every keepalive
// A host is known by its node ID (random, made once and kept in its data dir: nodeIdOf); the
// name (--node-name, default the hostname) is only for display, so cloned VMs or namespaces that
// share a hostname never take each other for themselves. Records' `host` is the node ID.
import { randomBytes } from 'node:crypto';
import { conflict, forbidden } from '../../common/errors.js';
import { addressOf, overlaps } from '../../common/cidr.js';
import type { PoolRecord } from '../../ipam/types.js';
import type { Compare, Store, TxnOp } from '../../store/types.js';
import type { LocalEndpoint } from '../driver.js';
import type { OvEndpoint, OvNet } from './peers.js';

export const OV_PREFIX = 'ov/';
export const BEAT_PREFIX = 'ov/beat/';

export const ovKey = {
  seq: 'ov/seq',
  net: (id: string) => `ov/net/${id}`,
  netName: (name: string) => `ov/netname/${encodeURIComponent(name)}`,
  vni: (vni: number) => `ov/vni/${vni}`,
  allocs: (network: string) => `ov/alloc/${network}/`,
  alloc: (network: string, ip: string) => `ov/alloc/${network}/${ip}`,
  eps: (network: string) => `ov/ep/${network}/`,
  ep: (network: string, id: string) => `ov/ep/${network}/${id}`,
  host: (id: string) => `ov/host/${id}`,
  vtep: (address: string) => `ov/vtep/${address}`,
  beat: (id: string) => `ov/beat/${id}`,
};

const NODE_ID_KEY = 'meta/node-id';

/** This host's node ID: made once, kept in the local store (the data dir). */
export async function nodeIdOf(store: Store): Promise<string> {
  const have = (await store.get<string>(NODE_ID_KEY))?.value;
  if (have) return have;
  const id = randomBytes(8).toString('hex');
  await store.txn([{ key: NODE_ID_KEY, version: 0 }], [{ op: 'put', key: NODE_ID_KEY, value: id }]);
  return (await store.get<string>(NODE_ID_KEY))?.value ?? id;
}

/** A host's keys: its node ID's record and its advertise address's claim. */
export function registrationOps(host: string, vtep: string, name: string): TxnOp[] {
  return [
    { op: 'put', key: ovKey.host(host), value: { vtep, name } },
    { op: 'put', key: ovKey.vtep(vtep), value: host },
  ];
}

/** A new definition's name and subnet against every other overlay network of the cluster. */
export function checkDefinable(nets: readonly OvNet[], name: string, pool: PoolRecord, where: string): void {
  const byName = nets.find((x) => x.name === name);
  if (byName) throw conflict('NL_NETWORK_EXISTS', `network with name ${name} already exists in the cluster (${where})`);
  const clash = nets.find((x) => overlaps(x.subnet, pool.subnet));
  if (clash) throw forbidden('NL_IPAM_POOL_OVERLAP', `subnet ${pool.subnet} overlaps overlay network "${clash.name}" (${clash.subnet}) in the cluster`);
}

/** A definition's transaction: it applies only if ov/seq is still what was read. */
export function definitionTxn(def: OvNet, seq: { readonly value: unknown; readonly version: number } | undefined): { compares: Compare[]; ops: TxnOp[] } {
  return {
    compares: [{ key: ovKey.seq, version: seq?.version ?? 0 }],
    ops: [
      { op: 'put', key: ovKey.seq, value: (Number(seq?.value ?? 0) || 0) + 1 },
      { op: 'put', key: ovKey.net(def.id), value: def },
      { op: 'put', key: ovKey.netName(def.name), value: def.id },
      { op: 'put', key: ovKey.vni(def.vni), value: def.id },
    ],
  };
}

/** The deletes that remove a definition (its VNI too, when the definition is known). */
export function undefineOps(net: { readonly id: string; readonly name: string }, def: OvNet | undefined): TxnOp[] {
  return [
    { op: 'del', key: ovKey.net(net.id) },
    { op: 'del', key: ovKey.netName(net.name) },
    ...(def ? [{ op: 'del' as const, key: ovKey.vni(def.vni) }] : []),
  ];
}

/** A local endpoint as every host sees it. */
export function endpointRecord(ep: LocalEndpoint, host: string, vtep: string): OvEndpoint {
  return { id: ep.id, network: ep.network, host, vtep, ip: ep.ipv4 ?? '', mac: ep.mac, name: ep.sandbox, aliases: ep.aliases };
}

/** A local endpoint's address key. */
export const localAllocKey = (ep: LocalEndpoint): string => ovKey.alloc(ep.network, ep.ipv4 ? addressOf(ep.ipv4) : '');
