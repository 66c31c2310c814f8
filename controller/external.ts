// Networks and endpoints a container engine manages (the Docker engine, through plugin/mapping.ts).
//
// The engine splits what `netloom network create` / `connect` do in one step: it reserves pools
// and addresses first (reserved.ts), then creates a network with those pools, an endpoint with
// those addresses, and attaches the endpoint to a namespace it plumbs itself (an EngineAttachment:
// netloom makes the veth, the engine moves its container end). Every step goes through the same
// record protocol as the CLI (endpoints.ts): written "creating" (or "deleting"), kernel work, then
// "ready"; so a crash anywhere is resolved by reconcile as for any other endpoint or network.
// Only the engine may change what it made (networks.ts refuseDockerNetwork); removals of what is
// gone succeed (the engine repeats them and only logs errors), other operations name unknown IDs.
import { addressOf, canonicalCidr, contains, formatIfAddr, ifAddrIn, macFromIPv4, parseIp, type IfAddr } from '../common/cidr.js';
import { conflict, invalid, notFound } from '../common/errors.js';
import { failpoint } from '../common/failpoint.js';
import { parsePublish } from '../common/ports.js';
import type { PoolRecord } from '../ipam/types.js';
import { absent, put } from '../store/types.js';
import { netVerbs, opLog, poolsOf, type Ctx } from './context.js';
import { forgetEndpoint } from './endpoints.js';
import { nowIso, randomMac } from './ids.js';
import { createNetwork, deleteNetworkNow } from './networks.js';
import { resolvePorts } from './ports.js';
import { RESERVED } from './reserved.js';
import { key, sameAddr, type EndpointRecord, type NetworkRecord } from './records.js';

/** One subnet of an engine's network: a reserved pool (bound now) or the engine's own plan. */
export interface ExternalPool {
  readonly subnet: string;
  /** Plain address or address/prefix; absent: the reserved pool's, or the first address. */
  readonly gateway?: string;
  readonly auxAddresses: Readonly<Record<string, string>>;
}

export interface ExternalNetworkRequest {
  /** The engine's ID, kept as netloom's. */
  readonly id: string;
  /** The name netloom shows (the engine does not say its own). */
  readonly name: string;
  readonly driver: string;
  readonly internal: boolean;
  readonly enableIPv6: boolean;
  readonly options: Readonly<Record<string, string>>;
  readonly ipv4: readonly ExternalPool[];
  readonly ipv6: readonly ExternalPool[];
}

export interface ExternalEndpointRequest {
  readonly networkId: string;
  readonly endpointId: string;
  /** What netloom shows for the engine's container (inspect, messages): a label, not a sandbox. */
  readonly label: string;
  /** address/prefix, or empty (the network then must have no pool of that family). */
  readonly ipv4: string;
  readonly ipv6: string;
  /** Empty: derived from the IPv4 address, as for netloom's own endpoints. */
  readonly mac: string;
  /** --publish specs, published at publishExternal. */
  readonly publish: readonly string[];
}

export interface Attached {
  /** Host-side name of the container end, for the engine to move. */
  readonly ifname: string;
  /** Gateways of the network's pools; none on an internal network. */
  readonly gateway4?: string;
  readonly gateway6?: string;
  readonly internal: boolean;
}

function externalNetwork(ctx: Ctx, id: string): NetworkRecord {
  const n = ctx.state.networks.get(id);
  if (!n || n.state === 'deleting') throw notFound('NL_NETWORK_NOT_FOUND', `network ${id} not found`);
  if (n.origin !== 'docker') throw conflict('NL_NOT_DOCKER_NETWORK', `network ${id} (${n.name}) was made with netloom, not through Docker`);
  return n;
}

/** An engine's endpoint (throws naming the ID when there is none). */
export function externalEndpoint(ctx: Ctx, id: string): EndpointRecord {
  const ep = ctx.state.endpoints.get(id);
  if (!ep?.attachment) throw notFound('NL_ENDPOINT_NOT_FOUND', `endpoint ${id} not found`);
  return ep;
}

/** The pool of one subnet: a reserved one with that subnet (bound to the network now), or a new
 *  one for an address plan the engine's own IPAM made (so netloom's networks never overlap it). */
function poolFor(ctx: Ctx, req: ExternalNetworkRequest, family: 4 | 6, data: ExternalPool): PoolRecord {
  const subnet = canonicalCidr(data.subnet);
  if (!subnet) throw invalid('NL_IPAM_INVALID_CIDR', `invalid pool "${data.subnet}": expected a CIDR`);
  const gateway = data.gateway ? addressOf(data.gateway) : undefined;
  const ours = ctx.ipam.pools().find((p) => p.owner === RESERVED && p.subnet === subnet);
  if (ours) {
    if (gateway && gateway !== ours.gateway) {
      throw conflict('NL_IPAM_GATEWAY_FIXED', `gateway ${gateway} of network ${req.id} is not the gateway ${ours.gateway} its pool ${ours.id} was given`);
    }
    return { ...ours, owner: req.id, ownerName: req.name };
  }
  const aux = Object.fromEntries(Object.entries(data.auxAddresses).map(([k, v]) => [k, addressOf(v)]));
  const rec = ctx.ipam.planPool({ id: `${req.id}:${family}`, owner: req.id, ownerName: req.name, family, subnet, gateway, auxAddresses: aux });
  return { ...rec, userGateway: Boolean(gateway) };
}

/** Creates (or finds, when the engine repeats itself) a network on the given subnets. */
export async function createExternalNetwork(ctx: Ctx, req: ExternalNetworkRequest): Promise<NetworkRecord> {
  const existing = ctx.state.networks.get(req.id);
  if (existing?.origin === 'docker' && existing.state === 'ready') return existing;
  if (existing) throw conflict('NL_NETWORK_EXISTS', `network ${req.id} already exists`);
  for (const [fam, list] of [
    [4, req.ipv4],
    [6, req.ipv6],
  ] as const) {
    if (list.length > 1)
      throw invalid(
        'NL_IPAM_MULTIPLE_SUBNETS',
        `more than one IPv${fam} subnet (${list.map((d) => d.subnet).join(', ')}) is not supported: give one per family`,
      );
  }
  if (!req.ipv4.length) throw invalid('NL_IPAM_NO_SUBNET', `network ${req.id} has no IPv4 pool: netloom's bridge needs one`);
  const pools = [...req.ipv4.map((d) => poolFor(ctx, req, 4, d)), ...req.ipv6.map((d) => poolFor(ctx, req, 6, d))];
  const reserved = pools.some((p) => ctx.ipam.pool(p.id));
  return createNetwork(
    ctx,
    {
      name: req.name,
      driver: req.driver,
      internal: req.internal,
      enableIPv6: req.enableIPv6,
      options: req.options,
      ipamDriver: reserved ? 'netloom' : 'default',
    },
    false,
    { id: req.id, origin: 'docker', pools },
  );
}

/** Removes a network and whatever endpoints the engine forgot on it (its view wins). */
export async function deleteExternalNetwork(ctx: Ctx, networkId: string): Promise<void> {
  const n = ctx.state.networks.get(networkId);
  if (!n) return;
  if (n.origin !== 'docker') throw conflict('NL_NOT_DOCKER_NETWORK', `network ${networkId} (${n.name}) was made with netloom, not through Docker`);
  for (const ep of ctx.state.endpointsOf({ network: n.id })) await deleteExternalEndpoint(ctx, ep.id);
  await deleteNetworkNow(ctx, n);
  opLog(ctx, { op: 'external network delete', network: n.name }).info('network removed');
}

/** An address the engine gives, as address/prefix of the network's pool of that family. */
function checkInPool(n: NetworkRecord, pools: readonly PoolRecord[], family: 4 | 6, cidr: string): IfAddr | undefined {
  const p = pools.find((x) => x.family === family);
  if (!cidr) {
    if (p) throw invalid('NL_IPAM_NO_ADDRESS', `no IPv${family} address given for network ${n.name}: its IPAM must supply one`);
    return undefined;
  }
  const ip = parseIp(addressOf(cidr));
  if (!ip || ip.family !== family) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid IPv${family} address "${cidr}": expected address/prefix`);
  if (!p || !contains(p.subnet, ip))
    throw invalid('NL_IPAM_ADDR_OUTSIDE', `address ${cidr} is outside network ${n.name} (${p?.subnet ?? `no IPv${family} subnet`})`);
  return ifAddrIn(addressOf(cidr), p.subnet);
}

/** Records an engine's endpoint (no kernel work: the veth comes at attach). A repeat with the same
 *  addresses returns the endpoint as it is, `created` false. */
export async function createExternalEndpoint(ctx: Ctx, req: ExternalEndpointRequest): Promise<{ endpoint: EndpointRecord; created: boolean }> {
  const n = externalNetwork(ctx, req.networkId);
  for (const spec of req.publish) parsePublish(spec); // bad ones fail the create, naming them
  const pools = poolsOf(ctx, n);
  const ipv4 = checkInPool(n, pools, 4, req.ipv4);
  const ipv6 = checkInPool(n, pools, 6, req.ipv6);
  const existing = ctx.state.endpoints.get(req.endpointId);
  if (existing) {
    if (existing.network === n.id && sameAddr(existing.ipv4, ipv4) && sameAddr(existing.ipv6, ipv6)) return { endpoint: existing, created: false };
    throw conflict('NL_ENDPOINT_EXISTS', `endpoint ${req.endpointId} already exists`);
  }
  for (const other of ctx.state.endpointsOf({ network: n.id })) {
    const clash = [ipv4, ipv6].find((a) => a && (sameAddr(a, other.ipv4) || sameAddr(a, other.ipv6)));
    if (clash)
      throw conflict('NL_IPAM_ADDR_IN_USE', `address ${formatIfAddr(clash)} is already used by endpoint ${other.id.slice(0, 12)} on network ${n.name}`);
  }
  const ep: EndpointRecord = {
    id: req.endpointId,
    network: n.id,
    sandbox: req.label,
    // Host-side name of the container end until the engine moves it (15 characters at most).
    ifname: `nlc${req.endpointId.slice(0, 10)}`,
    mac: req.mac || (ipv4 ? macFromIPv4(ipv4.ip) : randomMac()),
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    aliases: [],
    defaultRoute: false,
    attachment: { kind: 'engine', ...(req.publish.length ? { publish: [...req.publish] } : {}) },
    created: nowIso(),
    state: 'creating',
  };
  await ctx.state.commit([put(key.ep(ep.id), ep)], [absent(key.ep(ep.id))]);
  failpoint('external-endpoint:recorded');
  const ready: EndpointRecord = { ...ep, state: 'ready' };
  await ctx.state.commit([put(key.ep(ep.id), ready)]);
  opLog(ctx, { op: 'external endpoint create', network: n.name, endpoint: ep.id.slice(0, 12) }).info({ ipv4, ipv6, mac: ep.mac }, 'endpoint created');
  return { endpoint: ready, created: true };
}

/** Makes the endpoint's veth for the engine's namespace `sandboxKey`: recorded "creating" with the
 *  key, plumbed, then "ready" (a crash in between: reconcile rolls the endpoint back). */
export async function attachExternal(ctx: Ctx, networkId: string, endpointId: string, sandboxKey: string): Promise<Attached> {
  const n = externalNetwork(ctx, networkId);
  const ep = externalEndpoint(ctx, endpointId);
  if (ep.network !== n.id) throw conflict('NL_ENDPOINT_NOT_FOUND', `endpoint ${endpointId} is not on network ${networkId}`);
  if (!sandboxKey.startsWith('/')) throw invalid('NL_BAD_SANDBOX_KEY', `invalid SandboxKey "${sandboxKey}": expected the path of a network namespace`);
  const attaching: EndpointRecord = { ...ep, attachment: { kind: 'engine', ...ep.attachment, sandboxKey }, state: 'creating' };
  await ctx.state.commit([put(key.ep(ep.id), attaching)]);
  failpoint('attach:recorded');
  try {
    await netVerbs.join(ctx, n, attaching);
  } catch (err) {
    await netVerbs.leave(ctx, n, attaching).catch(() => undefined);
    await ctx.state.commit([put(key.ep(ep.id), ep)]);
    throw err;
  }
  failpoint('attach:joined');
  await ctx.state.commit([put(key.ep(ep.id), { ...attaching, state: 'ready' })]);
  const pools = poolsOf(ctx, n);
  // Internal: no gateway, so the engine installs no default route.
  return {
    ifname: ep.ifname,
    gateway4: n.internal ? undefined : pools.find((p) => p.family === 4)?.gateway,
    gateway6: n.internal ? undefined : pools.find((p) => p.family === 6)?.gateway,
    internal: n.internal,
  };
}

/** Removes the veth (and any published ports): recorded "deleting" first, so a crash in between
 *  is finished by reconcile; then the endpoint is ready and detached again. */
export async function detachExternal(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  if (!ep?.attachment) return;
  const n = ctx.state.networks.get(ep.network);
  if (!ep.attachment.sandboxKey && !ep.ports && ep.state !== 'deleting') {
    // Never attached (or detached already): nothing recorded to undo; the delete is idempotent.
    if (n) await netVerbs.leave(ctx, n, ep);
    return;
  }
  if (ep.state !== 'deleting') await ctx.state.commit([put(key.ep(ep.id), { ...ep, state: 'deleting' })]);
  failpoint('detach:marked');
  if (n) await netVerbs.leave(ctx, n, ep);
  const { ports: _gone, ...rest } = ep;
  const { sandboxKey: _key, ...attachment } = ep.attachment;
  await ctx.state.commit([put(key.ep(ep.id), { ...rest, attachment, state: 'ready' })]);
}

/** Publishes the endpoint's ports (the same host port checks as --publish, holders named), once
 *  attached. Idempotent. */
export async function publishExternal(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = externalEndpoint(ctx, endpointId);
  const n = ctx.state.networks.get(ep.network);
  if (!n || !ep.attachment?.publish?.length || ep.ports?.length) return;
  if (!ep.attachment.sandboxKey) throw conflict('NL_ENDPOINT_NOT_JOINED', `endpoint ${endpointId} has not joined a sandbox yet`);
  const ports = await resolvePorts(ctx, n, ep.attachment.publish, { ipv4: ep.ipv4, ipv6: ep.ipv6 });
  const published: EndpointRecord = { ...ep, ports };
  // Ready with ports: a crash before the rules are in is completed by reconcile's re-apply.
  await ctx.state.commit([put(key.ep(ep.id), published)]);
  try {
    // join is idempotent: the veth exists, so this only adds hairpin mode and the port rules.
    await netVerbs.join(ctx, n, published);
  } catch (err) {
    await ctx.state.commit([put(key.ep(ep.id), ep)]);
    throw err;
  }
}

/** Removes the published ports; the endpoint stays attached. */
export async function unpublishExternal(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  const n = ep && ctx.state.networks.get(ep.network);
  if (!ep?.attachment || !ep.ports?.length || !n) return;
  await netVerbs.unpublish(ctx, n, ep);
  const { ports: _gone, ...rest } = ep;
  await ctx.state.commit([put(key.ep(ep.id), rest)]);
}

/** Detaches (best effort: the engine releases the address next whatever we answer, so the record
 *  must go) and forgets the endpoint. By now the engine has moved the container end back and
 *  renamed it: deleting the host end takes both. */
export async function deleteExternalEndpoint(ctx: Ctx, endpointId: string): Promise<void> {
  const ep = ctx.state.endpoints.get(endpointId);
  if (!ep?.attachment) return;
  try {
    await detachExternal(ctx, endpointId);
  } catch (err) {
    ctx.log.warn({ endpoint: endpointId.slice(0, 12), err: String(err) }, 'external endpoint delete: teardown incomplete, record dropped');
  }
  // Detached: nothing of it is left in the kernel, only the record.
  await forgetEndpoint(ctx, ctx.state.endpoints.get(endpointId) ?? ep);
}
