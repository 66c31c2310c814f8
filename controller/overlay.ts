// The controller's side of overlay networks: defining them (cluster-wide with a cluster store,
// locally without), allocating their addresses, and applying the cluster's mirror to the local
// records, kernel (peers) and embedded DNS.
import { conflict, invalid } from '../common/errors.js';
import type { PoolRecord } from '../ipam/types.js';
import { OVERLAY_OPT } from '../drivers/overlay/index.js';
import { FIRST_VNI, type Cluster, type OvEndpoint, type OvNet } from './cluster.js';
import type { Finding } from '../drivers/driver.js';
import { configOf, driverOf, netInfo, type Ctx } from './context.js';
import type { EndpointRecord, NetworkRecord } from './records.js';
import { createNetwork, deleteNetworkNow } from './networks.js';

export const isOverlay = (n: { driver: string }): boolean => n.driver === 'overlay';

/** Fixes the VNI of a new overlay network (and, with a cluster store, defines it there first).
 *  Returns the options with the VNI set. */
export async function defineOverlay(
  ctx: Ctx,
  n: { id: string; name: string; created: string },
  pools: readonly PoolRecord[],
  options: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
  const pool = pools.find((p) => p.family === 4);
  if (!pool) throw invalid('NL_IPAM_NO_SUBNET', `overlay network ${n.name} needs an IPv4 subnet`);
  const raw = options[OVERLAY_OPT.vni];
  const want = raw === undefined ? undefined : Number(raw);
  if (ctx.cluster) {
    if (!pool.userSubnet) throw invalid('NL_IPAM_NO_SUBNET', `overlay network ${n.name} needs --subnet: netloom does not pick subnets cluster-wide`);
    const def = await ctx.cluster.define(n, pool, want, options[OVERLAY_OPT.mtu]);
    return { ...options, [OVERLAY_OPT.vni]: String(def.vni) };
  }
  const used = new Set([...ctx.state.networks.values()].filter(isOverlay).map((x) => Number(x.options[OVERLAY_OPT.vni])));
  if (want !== undefined && used.has(want)) throw conflict('NL_VNI_IN_USE', `VNI ${want} is already used by another overlay network`);
  let vni = want ?? FIRST_VNI;
  while (used.has(vni)) vni++;
  return { ...options, [OVERLAY_OPT.vni]: String(vni) };
}

/** The address of a new overlay endpoint, taken cluster-wide (an etcd transaction); undefined
 *  when there is no cluster store or the network is not an overlay (the local IPAM decides). */
export async function overlayAddress(ctx: Ctx, n: NetworkRecord, epId: string, wanted?: string): Promise<string | undefined> {
  const cl = ctx.cluster;
  if (!cl || !isOverlay(n)) return undefined;
  const pool = n.pools.map((id) => ctx.ipam.pool(id)).find((p) => p?.family === 4);
  if (!pool) return undefined;
  return cl.allocate(n.id, pool.subnet, pool.gateway, epId, wanted || undefined);
}

const remoteDns = new WeakMap<object, Map<string, Set<string>>>();

/** Makes local records, peers and DNS match the cluster mirror. Runs in the serial queue. */
export async function applyCluster(ctx: Ctx): Promise<void> {
  const cl = ctx.cluster;
  if (!cl) return;
  const defs = cl.networks();
  for (const d of defs) if (!ctx.state.networks.has(d.id)) await mirrorNetwork(ctx, d);
  for (const n of [...ctx.state.networks.values()]) {
    if (!isOverlay(n) || n.state !== 'ready' || defs.some((d) => d.id === n.id)) continue;
    if (ctx.state.endpointsOf({ network: n.id }).length) {
      ctx.log.warn({ network: n.name }, 'overlay network left the cluster but has local endpoints: kept');
      continue;
    }
    await attempt(ctx, `remove ${n.name}`, () => deleteNetworkNow(ctx, n));
  }
  // Local endpoints are announced (again after a restart or an expired lease)...
  for (const ep of ctx.state.endpoints.values()) {
    const n = ctx.state.networks.get(ep.network);
    if (!n || !isOverlay(n) || ep.state !== 'ready') continue;
    const m = cl.mirror.get(`ov/ep/${ep.network}/${ep.id}`) as { vtep?: string } | undefined;
    if (!m || m.vtep !== cl.vtep) await attempt(ctx, `announce ${ctx.state.sandboxName(ep)}`, () => cl.publish(ep, ctx.state.sandboxName(ep)));
  }
  // ...and records of this host that no local endpoint explains (a withdraw that failed) go.
  for (const e of cl.endpoints()) {
    if (e.host === cl.host && !ctx.state.endpoints.has(e.id)) await attempt(ctx, `forget stale ${e.name}`, () => cl.forget(e));
  }
  let dns = remoteDns.get(cl);
  if (!dns) remoteDns.set(cl, (dns = new Map()));
  for (const n of ctx.state.networks.values()) {
    if (!isOverlay(n) || n.state !== 'ready') continue;
    const remote = remoteEndpoints(cl, n.id);
    // One network's failure must not keep the others from their peers.
    await attempt(ctx, `peers of ${n.name}`, async () => driverOf(ctx, n).setPeers?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), asPeers(remote)));
    if (!ctx.names) continue;
    const had = dns.get(n.id) ?? new Set<string>();
    const now = new Set(remote.map((e) => e.id));
    for (const id of had) if (!now.has(id)) ctx.names.removeEndpoint(id);
    for (const e of remote) {
      if (had.has(e.id)) continue; // endpoint records never change: an id names one address
      ctx.names.addEndpoint({ endpointId: e.id, sandbox: e.name, networkId: n.id, network: n.name, internal: n.internal, ipv4: e.ip.split('/')[0], aliases: e.aliases });
    }
    dns.set(n.id, now);
  }
}

/** Endpoints of a network on other hosts, as the mirror has them. */
const remoteEndpoints = (cl: Cluster, networkId: string): OvEndpoint[] => cl.endpoints(networkId).filter((e) => e.host !== cl.host && e.ip);
const asPeers = (eps: readonly OvEndpoint[]) => eps.map((e) => ({ ip: e.ip.split('/')[0], mac: e.mac, vtep: e.vtep }));

/** `netloom doctor`: each overlay network's FDB and neighbour entries against the mirror. */
export async function checkOverlayPeers(ctx: Ctx): Promise<Finding[]> {
  const cl = ctx.cluster;
  if (!cl) return [];
  const out: Finding[] = [];
  for (const n of ctx.state.networks.values()) {
    if (!isOverlay(n) || n.state !== 'ready') continue;
    out.push(...((await driverOf(ctx, n).checkPeers?.(ctx.env, netInfo(ctx, n), configOf(ctx, n), asPeers(remoteEndpoints(cl, n.id)))) ?? []));
  }
  return out;
}

async function attempt(ctx: Ctx, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.log.error({ err: String(err) }, `cluster: ${what} failed (retried at the next change or resync)`);
  }
}

async function mirrorNetwork(ctx: Ctx, d: OvNet): Promise<void> {
  try {
    const pool = ctx.ipam.planPool({ id: `${d.id}:4`, owner: d.id, ownerName: d.name, family: 4, subnet: d.subnet, gateway: d.gateway });
    const options = { [OVERLAY_OPT.vni]: String(d.vni), ...(d.mtu ? { [OVERLAY_OPT.mtu]: d.mtu } : {}) };
    await createNetwork(ctx, { name: d.name, driver: 'overlay', ipam: [{ subnet: d.subnet, gateway: d.gateway }], options }, false, { id: d.id, origin: 'cluster', pools: [{ ...pool, userGateway: true }] });
  } catch (err) {
    ctx.log.error({ network: d.name, err: String(err) }, 'cluster: cannot mirror overlay network on this host');
  }
}

/** After a local endpoint is ready / before it is forgotten. */
export async function announce(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  const n = ctx.state.networks.get(ep.network);
  if (ctx.cluster && n && isOverlay(n)) await ctx.cluster.publish(ep, ctx.state.sandboxName(ep));
}

export async function withdraw(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  const n = ctx.state.networks.get(ep.network);
  if (ctx.cluster && n && isOverlay(n)) await ctx.cluster.withdraw(ep);
}
