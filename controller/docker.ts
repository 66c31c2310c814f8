// Docker's remote-driver and remote-IPAM verbs on the controller's records.
//
// Docker splits what `netloom network create` / `connect` do in one step into IPAM calls (pools,
// addresses) and driver calls (network, endpoint, join), in a fixed order (see
// ../shared/specs/docker-remote-plugin.md, section 4). Both halves live in the same store and the
// same IPAM as the CLI's networks, so the two faces can never hand out one subnet or address twice:
//   - RequestPool adds a pool owned by DOCKER_IPAM until CreateNetwork binds it to the network;
//   - RequestAddress allocates for DOCKER_IPAM; only ReleaseAddress frees (Docker's lifetime);
//   - CreateEndpoint..DeleteEndpoint is an endpoint record, Join..Leave its veth.
// Deletes of what is gone succeed (the engine repeats them and only logs errors); every other
// verb names an unknown ID in its error.
import { randomBytes } from 'node:crypto';
import { canonicalCidr, contains, formatIfAddr, ifAddrIn, macFromIPv4, parseIp, type IfAddr } from '../common/cidr.js';
import { conflict, invalid, notFound } from '../common/errors.js';
import type { PoolRecord } from '../ipam/types.js';
import { absent, put } from '../store/types.js';
import { configOf, driverOf, endpointInfo, netInfo, opLog, poolsOf, type Ctx } from './context.js';
import { forgetEndpoint, saveCursors } from './endpoints.js';
import { resolvePorts } from './ports.js';
import { parsePublish } from '../common/ports.js';
import { nowIso, randomMac } from './ids.js';
import { createNetwork, deleteNetworkNow, hostAvoid, poolDeletes } from './networks.js';
import { key, sameAddr, type EndpointRecord, type NetworkRecord } from './records.js';

/** Owner of a pool Docker requested and no network has bound yet, and of every address Docker requested. */
export const DOCKER_IPAM = 'docker-ipam';
export const ADDRESS_SPACES = { local: 'netloom-local', global: 'netloom-global' } as const;
const GATEWAY_TYPE = 'com.docker.network.gateway';

export interface PoolRequest {
  readonly addressSpace: string;
  readonly pool: string;
  readonly subPool: string;
  readonly options: Readonly<Record<string, string>>;
  readonly v6: boolean;
}

export interface AddressRequest {
  readonly poolId: string;
  readonly address: string;
  readonly options: Readonly<Record<string, string>> | null;
}

export interface IpamData {
  readonly pool: string;
  readonly gateway: string;
  readonly auxAddresses: Readonly<Record<string, string>>;
}

export interface DockerNetworkRequest {
  readonly networkId: string;
  readonly enableIPv6: boolean;
  readonly internal: boolean;
  /** -o k=v of `docker network create`. */
  readonly options: Readonly<Record<string, string>>;
  readonly ipv4: readonly IpamData[];
  readonly ipv6: readonly IpamData[];
}

export interface DockerEndpointRequest {
  readonly networkId: string;
  readonly endpointId: string;
  readonly address: string;
  readonly addressIPv6: string;
  readonly mac: string;
  /** The engine's port map as --publish specs; published at ProgramExternalConnectivity. */
  readonly portmap: readonly string[];
  readonly unknownOptions: readonly string[];
}

export interface JoinReply {
  readonly srcName: string;
  readonly gateway?: string;
  readonly gatewayIPv6?: string;
  readonly disableGatewayService: boolean;
}

const prefixOf = (cidr: string): string => cidr.split('/')[1];
const plain = (cidr: string): string => cidr.split('/')[0];

/** The name `netloom network ls` shows: Docker does not tell drivers the name it uses. */
export const dockerNetworkName = (id: string): string => `docker-${id.slice(0, 12)}`;

function dockerNetwork(ctx: Ctx, id: string): NetworkRecord {
  const n = ctx.state.networks.get(id);
  if (!n || n.state === 'deleting') throw notFound('NL_NETWORK_NOT_FOUND', `network ${id} not found`);
  if (n.origin !== 'docker') throw conflict('NL_NOT_DOCKER_NETWORK', `network ${id} (${n.name}) was made with netloom, not through Docker`);
  return n;
}

function dockerEndpoint(ctx: Ctx, id: string): EndpointRecord {
  const ep = ctx.state.endpoints.get(id);
  if (!ep?.external) throw notFound('NL_ENDPOINT_NOT_FOUND', `endpoint ${id} not found`);
  return ep;
}

function mustPool(ctx: Ctx, poolId: string): PoolRecord {
  const p = ctx.ipam.pool(poolId);
  if (!p) throw notFound('NL_IPAM_POOL_NOT_FOUND', `pool ${poolId} not found`);
  return p;
}

// ---- IPAM ----

export async function requestPool(ctx: Ctx, req: PoolRequest): Promise<PoolRecord> {
  const opts = Object.keys(req.options);
  if (opts.length) throw invalid('NL_UNSUPPORTED_OPTION', `unsupported --ipam-opt ${opts.join(', ')}: netloom's IPAM takes none`);
  if (req.subPool && !req.pool) throw invalid('NL_IPAM_NO_SUBNET', `--ip-range ${req.subPool} needs a --subnet to belong to`);
  const family = req.v6 ? 6 : 4;
  const id = `dk-${randomBytes(8).toString('hex')}`;
  // A pick never overlaps the host's routes: the engine's host-overlap check then passes at once.
  const avoid = req.pool ? [] : await hostAvoid(ctx);
  const rec = ctx.ipam.planPool(
    { id, owner: DOCKER_IPAM, ownerName: `docker pool ${id}`, family, subnet: req.pool || undefined, ipRange: req.subPool || undefined },
    avoid,
  );
  const w = ctx.ipam.addPoolOps(rec);
  await ctx.state.commit(w.ops, w.compares);
  ctx.ipam.addPool(rec);
  opLog(ctx, { op: 'docker RequestPool', pool: id }).info({ subnet: rec.subnet, ipRange: rec.ipRange }, 'pool requested');
  return rec;
}

/** Drops an unbound pool; a pool bound to a network goes with the network (DeleteNetwork follows). */
export async function releasePool(ctx: Ctx, poolId: string): Promise<void> {
  const p = ctx.ipam.pool(poolId);
  if (!p || p.owner !== DOCKER_IPAM) return;
  await ctx.state.commit(poolDeletes(ctx, poolId));
  ctx.ipam.removePool(poolId);
}

export async function requestAddress(ctx: Ctx, req: AddressRequest): Promise<string> {
  const p = mustPool(ctx, req.poolId);
  const prefix = prefixOf(p.subnet);
  if (req.address && !parseIp(req.address)) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid address "${req.address}": expected a plain IP address`);
  if (req.options?.RequestAddressType === GATEWAY_TYPE) {
    if (!req.address || req.address === p.gateway) return `${p.gateway}/${prefix}`;
    await moveGateway(ctx, p, req.address);
    return `${req.address}/${prefix}`;
  }
  const ip = ctx.ipam.planAddress(p.id, DOCKER_IPAM, req.address || undefined);
  const w = ctx.ipam.allocateOps(p.id, ip, DOCKER_IPAM);
  await ctx.state.commit(w.ops, w.compares);
  ctx.ipam.allocate(p.id, ip, DOCKER_IPAM);
  await saveCursors(ctx, [p.id]);
  return `${ip}/${prefix}`;
}

/** --gateway: the pool was planned with the first address as gateway; re-plan it with this one. */
async function moveGateway(ctx: Ctx, p: PoolRecord, gateway: string): Promise<void> {
  if (p.owner !== DOCKER_IPAM) throw conflict('NL_IPAM_GATEWAY_FIXED', `the gateway of pool ${p.id} is ${p.gateway}: its network exists, it cannot move to ${gateway}`);
  const allocs = ctx.ipam.allocations(p.id);
  ctx.ipam.removePool(p.id);
  let moved: PoolRecord;
  try {
    moved = ctx.ipam.planPool({ id: p.id, owner: p.owner, ownerName: p.ownerName, family: p.family, subnet: p.subnet, ipRange: p.ipRange, gateway });
  } finally {
    // Planned or not, the pool goes back as it was until the store has the new record.
    ctx.ipam.addPool(p);
    for (const a of allocs) ctx.ipam.allocate(p.id, a.ip, a.owner);
  }
  const rec: PoolRecord = { ...moved, userSubnet: p.userSubnet, userGateway: true };
  await ctx.state.commit(ctx.ipam.addPoolOps(rec).ops);
  ctx.ipam.removePool(p.id);
  ctx.ipam.addPool(rec);
  for (const a of allocs) ctx.ipam.allocate(p.id, a.ip, a.owner);
}

/** Frees an address Docker requested; the gateway, an unknown pool and a free address are no-ops. */
export async function releaseAddress(ctx: Ctx, poolId: string, address: string): Promise<void> {
  if (!parseIp(address)) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid address "${address}": expected a plain IP address`);
  const p = ctx.ipam.pool(poolId);
  if (!p || address === p.gateway) return;
  const holder = ctx.ipam.holder(poolId, address);
  if (holder === undefined) return;
  if (holder !== DOCKER_IPAM) {
    // Never free what another owner holds, whatever the caller believes.
    ctx.log.warn({ pool: poolId, address, holder }, 'docker ReleaseAddress: address held by a netloom endpoint, kept');
    return;
  }
  await ctx.state.commit(ctx.ipam.releaseOps(poolId, address).ops);
  ctx.ipam.release(poolId, address);
  await saveCursors(ctx, [poolId]);
}

// ---- network driver ----

/** The pool of `data`: one Docker requested from us (bound now), or a new one for an address
 *  plan Docker's own IPAM made (so netloom's networks never overlap it). */
function poolFor(ctx: Ctx, networkId: string, name: string, family: 4 | 6, data: IpamData): PoolRecord {
  const subnet = canonicalCidr(data.pool);
  if (!subnet) throw invalid('NL_IPAM_INVALID_CIDR', `invalid pool "${data.pool}": expected a CIDR`);
  const gateway = data.gateway ? plain(data.gateway) : undefined;
  const ours = ctx.ipam.pools().find((p) => p.owner === DOCKER_IPAM && p.subnet === subnet);
  if (ours) {
    if (gateway && gateway !== ours.gateway) {
      throw conflict('NL_IPAM_GATEWAY_FIXED', `gateway ${gateway} of network ${networkId} is not the gateway ${ours.gateway} its pool ${ours.id} was given`);
    }
    return { ...ours, owner: networkId, ownerName: name };
  }
  const aux = Object.fromEntries(Object.entries(data.auxAddresses).map(([k, v]) => [k, plain(v)]));
  const rec = ctx.ipam.planPool({ id: `${networkId}:${family}`, owner: networkId, ownerName: name, family, subnet, gateway, auxAddresses: aux });
  return { ...rec, userGateway: Boolean(gateway) };
}

export async function createDockerNetwork(ctx: Ctx, req: DockerNetworkRequest): Promise<NetworkRecord> {
  if (!/^[0-9a-f]{64}$/.test(req.networkId)) throw invalid('NL_BAD_ID', `invalid NetworkID "${req.networkId}": expected 64 hex characters`);
  const existing = ctx.state.networks.get(req.networkId);
  if (existing?.origin === 'docker' && existing.state === 'ready') return existing;
  if (existing) throw conflict('NL_NETWORK_EXISTS', `network ${req.networkId} already exists`);
  const name = dockerNetworkName(req.networkId);
  for (const [fam, list] of [[4, req.ipv4], [6, req.ipv6]] as const) {
    if (list.length > 1) throw invalid('NL_IPAM_MULTIPLE_SUBNETS', `more than one IPv${fam} subnet (${list.map((d) => d.pool).join(', ')}) is not supported: give one per family`);
  }
  if (!req.ipv4.length) throw invalid('NL_IPAM_NO_SUBNET', `network ${req.networkId} has no IPv4 pool: netloom's bridge needs one`);
  const pools = [
    ...req.ipv4.map((d) => poolFor(ctx, req.networkId, name, 4, d)),
    ...req.ipv6.map((d) => poolFor(ctx, req.networkId, name, 6, d)),
  ];
  const ours = pools.some((p) => ctx.ipam.pool(p.id));
  return createNetwork(
    ctx,
    { name, driver: 'bridge', internal: req.internal, enableIPv6: req.enableIPv6, options: req.options, ipamDriver: ours ? 'netloom' : 'default' },
    false,
    { id: req.networkId, origin: 'docker', pools },
  );
}

export async function deleteDockerNetwork(ctx: Ctx, networkId: string): Promise<void> {
  const n = ctx.state.networks.get(networkId);
  if (!n) return;
  if (n.origin !== 'docker') throw conflict('NL_NOT_DOCKER_NETWORK', `network ${networkId} (${n.name}) was made with netloom, not through Docker`);
  // The engine never deletes a network with endpoints; if its view and ours differ, it wins.
  for (const ep of ctx.state.endpointsOf({ network: n.id })) await deleteDockerEndpoint(ctx, ep.id);
  await deleteNetworkNow(ctx, n);
  opLog(ctx, { op: 'docker DeleteNetwork', network: n.name }).info('network removed');
}

function checkInPool(n: NetworkRecord, pools: readonly PoolRecord[], family: 4 | 6, cidr: string): IfAddr | undefined {
  const p = pools.find((x) => x.family === family);
  if (!cidr) {
    if (p) throw invalid('NL_IPAM_NO_ADDRESS', `no IPv${family} address given for network ${n.name}: its IPAM must supply one`);
    return undefined;
  }
  const ip = parseIp(plain(cidr));
  if (!ip || ip.family !== family) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid IPv${family} address "${cidr}": expected address/prefix`);
  if (!p || !contains(p.subnet, ip)) throw invalid('NL_IPAM_ADDR_OUTSIDE', `address ${cidr} is outside network ${n.name} (${p?.subnet ?? `no IPv${family} subnet`})`);
  return ifAddrIn(plain(cidr), p.subnet);
}

/** Records the endpoint; returns the MAC netloom chose when the request had none. */
export async function createDockerEndpoint(ctx: Ctx, req: DockerEndpointRequest): Promise<string | undefined> {
  const n = dockerNetwork(ctx, req.networkId);
  if (!/^[0-9a-f]{64}$/.test(req.endpointId)) throw invalid('NL_BAD_ID', `invalid EndpointID "${req.endpointId}": expected 64 hex characters`);
  if (req.unknownOptions.length) throw invalid('NL_UNSUPPORTED_OPTION', `unsupported endpoint option ${req.unknownOptions.join(', ')}`);
  for (const spec of req.portmap) parsePublish(spec); // bad ones fail the create, naming them
  const pools = poolsOf(ctx, n);
  const ipv4 = checkInPool(n, pools, 4, req.address);
  const ipv6 = checkInPool(n, pools, 6, req.addressIPv6);
  const existing = ctx.state.endpoints.get(req.endpointId);
  if (existing) {
    if (existing.network === n.id && sameAddr(existing.ipv4, ipv4) && sameAddr(existing.ipv6, ipv6)) return undefined;
    throw conflict('NL_ENDPOINT_EXISTS', `endpoint ${req.endpointId} already exists`);
  }
  for (const other of ctx.state.endpointsOf({ network: n.id })) {
    const clash = [ipv4, ipv6].find((a) => a && (sameAddr(a, other.ipv4) || sameAddr(a, other.ipv6)));
    if (clash) throw conflict('NL_IPAM_ADDR_IN_USE', `address ${formatIfAddr(clash)} is already used by endpoint ${other.id.slice(0, 12)} on network ${n.name}`);
  }
  const mac = req.mac || (ipv4 ? macFromIPv4(ipv4.ip) : randomMac());
  const ep: EndpointRecord = {
    id: req.endpointId,
    network: n.id,
    sandbox: `docker-${req.endpointId.slice(0, 12)}`,
    // Host-side name of the container end until the engine moves it (15 characters at most).
    ifname: `nlc${req.endpointId.slice(0, 10)}`,
    mac,
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    aliases: [],
    defaultRoute: false,
    external: req.portmap.length ? { publish: [...req.portmap] } : {},
    created: nowIso(),
    state: 'ready',
  };
  await ctx.state.commit([put(key.ep(ep.id), ep)], [absent(key.ep(ep.id))]);
  opLog(ctx, { op: 'docker CreateEndpoint', network: n.name, endpoint: ep.id.slice(0, 12) }).info({ ipv4, ipv6, mac }, 'endpoint created');
  return req.mac ? undefined : mac;
}

export async function joinDocker(ctx: Ctx, networkId: string, endpointId: string, sandboxKey: string): Promise<JoinReply> {
  const n = dockerNetwork(ctx, networkId);
  const ep = dockerEndpoint(ctx, endpointId);
  if (ep.network !== n.id) throw conflict('NL_ENDPOINT_NOT_FOUND', `endpoint ${endpointId} is not on network ${networkId}`);
  if (!sandboxKey.startsWith('/')) throw invalid('NL_BAD_SANDBOX_KEY', `invalid SandboxKey "${sandboxKey}": expected the path of a network namespace`);
  await driverOf(ctx, n).join?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), endpointInfo(ctx, ep));
  await ctx.state.commit([put(key.ep(ep.id), { ...ep, external: { ...ep.external, sandboxKey } })]);
  const pools = poolsOf(ctx, n);
  // Internal: no gateway, so the engine installs no default route (and makes no docker_gwbridge).
  return {
    srcName: ep.ifname,
    gateway: n.internal ? undefined : pools.find((p) => p.family === 4)?.gateway,
    gatewayIPv6: n.internal ? undefined : pools.find((p) => p.family === 6)?.gateway,
    disableGatewayService: n.internal,
  };
}

export async function leaveDocker(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  if (!ep?.external) return;
  const n = ctx.state.networks.get(ep.network);
  if (n) await driverOf(ctx, n).leave?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), endpointInfo(ctx, ep));
  if (ep.external.sandboxKey || ep.ports) {
    const { ports: _gone, ...rest } = ep;
    await ctx.state.commit([put(key.ep(ep.id), { ...rest, external: { ...ep.external, sandboxKey: undefined } })]);
  }
}

/** ProgramExternalConnectivity: the engine's gateway endpoint publishes its port map now (the
 *  same host ports checks as --publish, holders named). Idempotent. */
export async function programDocker(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = dockerEndpoint(ctx, endpointId);
  const n = ctx.state.networks.get(ep.network);
  if (!n || !ep.external?.publish?.length || ep.ports?.length) return;
  if (!ep.external.sandboxKey) throw conflict('NL_ENDPOINT_NOT_JOINED', `endpoint ${endpointId} has not joined a sandbox yet`);
  const ports = await resolvePorts(ctx, n, ep.external.publish, { ipv4: ep.ipv4, ipv6: ep.ipv6 });
  const published: EndpointRecord = { ...ep, ports };
  await ctx.state.commit([put(key.ep(ep.id), published)]);
  try {
    // join is idempotent: the veth exists, so this only adds hairpin mode and the port rules.
    await driverOf(ctx, n).join?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), endpointInfo(ctx, published));
  } catch (err) {
    await ctx.state.commit([put(key.ep(ep.id), ep)]);
    throw err;
  }
}

/** RevokeExternalConnectivity: the port rules go, the endpoint stays. */
export async function revokeDocker(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  const n = ep && ctx.state.networks.get(ep.network);
  if (!ep?.external || !ep.ports?.length || !n) return;
  await driverOf(ctx, n).unpublish?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), endpointInfo(ctx, ep));
  const { ports: _gone, ...rest } = ep;
  await ctx.state.commit([put(key.ep(ep.id), rest)]);
}

export async function deleteDockerEndpoint(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  if (!ep?.external) return;
  // By now the engine has moved the container end back and renamed it: one delete takes both.
  // Best effort: the engine releases the address next whatever we answer, so the record must go.
  await leaveDocker(ctx, endpointId).catch((err: unknown) => ctx.log.warn({ endpoint: endpointId.slice(0, 12), err: String(err) }, 'docker DeleteEndpoint: teardown incomplete, record dropped'));
  await forgetEndpoint(ctx, ctx.state.endpoints.get(endpointId) ?? ep);
}

export function endpointExists(ctx: Ctx, endpointId: string): void {
  dockerEndpoint(ctx, endpointId);
}
