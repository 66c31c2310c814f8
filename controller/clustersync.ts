// The controller's side of multi-host networks, for any driver that is a cluster member
// (drivers/driver.ts ClusterDriver, libnetwork's EventNotify idea): the driver keeps the cluster
// state and says when it changed; the controller then mirrors the cluster's network definitions
// in its records, has its local endpoints announced, and programs each network's peers and
// remote names (embedded DNS). No driver is named here.
import { clusterMemberOf, type ClusterEndpoint, type ClusterMember, type ClusterNetwork, type Finding, type LocalEndpoint } from '../drivers/driver.js';
import { handleOf, netInfo, type Ctx } from './context.js';
import { addressOf, formatIfAddr } from '../common/cidr.js';
import type { LoadedDriver } from '../drivers/handle.js';
import type { EndpointRecord, NetworkRecord } from './records.js';
import { createNetwork, deleteNetworkNow } from './networks.js';

/** The cluster member behind a network's driver; undefined on a single host or a local driver. */
export function memberOf(ctx: Ctx, n: NetworkRecord | undefined): ClusterMember | undefined {
  if (!n) return undefined;
  const d = ctx.drivers.get(n.driver);
  return d && clusterMemberOf(d);
}

/** Every driver with a cluster member, with it. */
export const clusterDrivers = (ctx: Ctx): [LoadedDriver, ClusterMember][] =>
  [...ctx.drivers.values()].flatMap((d): [LoadedDriver, ClusterMember][] => {
    const m = clusterMemberOf(d);
    return m ? [[d, m]] : [];
  });

/** Starts every cluster member: from here on, a change in the cluster syncs this host. */
export async function startClusters(ctx: Ctx, serial: <T>(fn: () => Promise<T>) => Promise<T>): Promise<void> {
  for (const [d, m] of clusterDrivers(ctx)) await m.start({ serial, changed: () => syncCluster(ctx, d, m) });
}

export async function closeClusters(ctx: Ctx | undefined): Promise<void> {
  for (const [, m] of ctx ? clusterDrivers(ctx) : []) await m.close();
}

/** Every cluster member's sync (doctor --fix: peers come from the cluster, not the records). */
export async function syncClusters(ctx: Ctx): Promise<void> {
  for (const [d, m] of clusterDrivers(ctx)) await syncCluster(ctx, d, m);
}

const localEndpoint = (ctx: Ctx, ep: EndpointRecord): LocalEndpoint => ({
  id: ep.id,
  network: ep.network,
  sandbox: ctx.state.sandboxName(ep),
  ipv4: ep.ipv4 && formatIfAddr(ep.ipv4),
  mac: ep.mac,
  aliases: ep.aliases,
});

/** After a local endpoint is ready / before it is forgotten. */
export async function announce(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  await memberOf(ctx, ctx.state.networks.get(ep.network))?.announce(localEndpoint(ctx, ep));
}

export async function withdraw(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  await memberOf(ctx, ctx.state.networks.get(ep.network))?.withdraw(localEndpoint(ctx, ep));
}

const remoteDns = new WeakMap<object, Map<string, Set<string>>>();
const readyOf = (ctx: Ctx, d: LoadedDriver): NetworkRecord[] => [...ctx.state.networks.values()].filter((n) => n.driver === d.name && n.state === 'ready');
/** Endpoints of a network on other hosts. */
const remoteEndpoints = (m: ClusterMember, networkId: string): ClusterEndpoint[] => m.endpoints(networkId).filter((e) => e.hostId !== m.hostId && e.ip);
const asPeers = (eps: readonly ClusterEndpoint[]) => eps.map((e) => ({ ip: addressOf(e.ip), mac: e.mac, vtep: e.vtep }));

/** Makes local records, peers and DNS match what the driver's cluster holds. Runs in the serial queue. */
export async function syncCluster(ctx: Ctx, d: LoadedDriver, m: ClusterMember): Promise<void> {
  const defs = m.networks();
  for (const def of defs) if (!ctx.state.networks.has(def.id)) await mirrorNetwork(ctx, d, def);
  for (const n of readyOf(ctx, d)) {
    if (defs.some((x) => x.id === n.id)) continue;
    if (ctx.state.endpointsOf({ network: n.id }).length) {
      ctx.log.warn({ network: n.name }, `${d.name} network left the cluster but has local endpoints: kept`);
      continue;
    }
    await attempt(ctx, `remove ${n.name}`, () => deleteNetworkNow(ctx, n));
  }
  const local = [...ctx.state.endpoints.values()].filter((ep) => ep.state === 'ready' && ctx.state.networks.get(ep.network)?.driver === d.name);
  await m.syncLocal(local.map((ep) => localEndpoint(ctx, ep)));
  let dns = remoteDns.get(m);
  if (!dns) remoteDns.set(m, (dns = new Map()));
  for (const n of readyOf(ctx, d)) {
    const remote = remoteEndpoints(m, n.id);
    // One network's failure must not keep the others from their peers.
    await attempt(ctx, `peers of ${n.name}`, async () => handleOf(ctx, n).setPeers(ctx.env, netInfo(ctx, n), asPeers(remote)));
    if (!ctx.names) continue;
    const had = dns.get(n.id) ?? new Set<string>();
    const now = new Set(remote.map((e) => e.id));
    for (const id of had) if (!now.has(id)) ctx.names.removeEndpoint(id);
    for (const e of remote) {
      if (had.has(e.id)) continue; // endpoint records never change: an id names one address
      ctx.names.addEndpoint({
        endpointId: e.id,
        sandbox: e.name,
        networkId: n.id,
        network: n.name,
        internal: n.internal,
        ipv4: addressOf(e.ip),
        aliases: e.aliases,
      });
    }
    dns.set(n.id, now);
  }
}

/** `netloom doctor`: each cluster network's peer entries in the kernel against the cluster. */
export async function checkClusterPeers(ctx: Ctx): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [d, m] of clusterDrivers(ctx)) {
    for (const n of readyOf(ctx, d)) out.push(...(await handleOf(ctx, n).checkPeers(ctx.env, netInfo(ctx, n), asPeers(remoteEndpoints(m, n.id)))));
  }
  return out;
}

/** What `network inspect` adds for a cluster network: Docker's Peers (hosts with endpoints on
 *  it, this one included) and netloom's RemoteEndpoints. */
export function clusterView(
  ctx: Ctx,
  n: NetworkRecord,
):
  | {
      Peers: { Name: string; IP: string; ID: string }[];
      RemoteEndpoints: Record<string, { Name: string; Host: string; HostID: string; IPv4Address: string; MacAddress: string }>;
    }
  | undefined {
  const m = memberOf(ctx, n);
  if (!m) return undefined;
  const eps = m.endpoints(n.id);
  const hosts = new Set(eps.map((e) => e.hostId).concat(m.hostId));
  // Name is the display name (--node-name); ID the node ID hosts are told apart by.
  return {
    Peers: m
      .hosts()
      .filter((h) => hosts.has(h.id))
      .map((h) => ({ Name: h.name, IP: h.address, ID: h.id })),
    RemoteEndpoints: Object.fromEntries(
      eps.filter((e) => e.hostId !== m.hostId).map((e) => [e.id, { Name: e.name, Host: e.hostName, HostID: e.hostId, IPv4Address: e.ip, MacAddress: e.mac }]),
    ),
  };
}

async function attempt(ctx: Ctx, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.log.error({ err: String(err) }, `cluster: ${what} failed (retried at the next change or resync)`);
  }
}

async function mirrorNetwork(ctx: Ctx, d: LoadedDriver, def: ClusterNetwork): Promise<void> {
  try {
    const pool = ctx.ipam.planPool({ id: `${def.id}:4`, owner: def.id, ownerName: def.name, family: 4, subnet: def.subnet, gateway: def.gateway });
    await createNetwork(ctx, { name: def.name, driver: d.name, ipam: [{ subnet: def.subnet, gateway: def.gateway }], options: def.options }, false, {
      id: def.id,
      origin: 'cluster',
      pools: [{ ...pool, userGateway: true }],
    });
  } catch (err) {
    ctx.log.error({ network: def.name, err: String(err) }, `cluster: cannot mirror ${d.name} network on this host`);
  }
}
