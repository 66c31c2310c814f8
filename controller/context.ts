// What every controller operation works with, and the small lookups they share.
import type { Logger } from '../common/log.js';
import type { NameService } from '../dns/service.js';
import type { Cluster } from './cluster.js';
import type { Driver, DriverEnv, DriverNetwork, LinkPeer, NetworkInfo } from '../drivers/driver.js';
import { linkedAddress } from './names.js';
import { lookupDriver, type DriverRegistry } from '../drivers/registry.js';
import type { Ipam } from '../ipam/index.js';
import type { PoolRecord } from '../ipam/types.js';
import type { NsRef } from '../system/types.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './records.js';
import { formatIfAddr } from '../common/cidr.js';
import type { State } from './state.js';
import type { DefaultBridgeSettings } from './defaultbridge.js';

export interface Ctx {
  readonly state: State;
  readonly ipam: Ipam;
  readonly drivers: DriverRegistry;
  readonly env: DriverEnv;
  readonly log: Logger;
  /** The embedded DNS; absent in unit tests that run without sockets. */
  readonly names?: NameService;
  /** Multi-host state for overlay networks (--cluster-store); absent on a single host. */
  readonly cluster?: Cluster;
  /** After `netloomd --salvage` (until `netloom doctor --fix`): the records may have lost what
   *  explains a kernel object, so nothing unexplained is removed — links, rules, namespaces. */
  keepUnexplained?: boolean;
  /** The default bridge as netloomd's flags describe it (--bip, -b, --icc, ...). */
  readonly defaultBridge?: DefaultBridgeSettings;
  /** false with netloomd --iptables=false: no rules, so no published ports. */
  readonly iptables?: boolean;
}

export const driverOf = (ctx: Ctx, n: NetworkRecord): Driver => lookupDriver(ctx.drivers, n.driver);

export function poolsOf(ctx: Ctx, n: NetworkRecord): PoolRecord[] {
  return n.pools.map((id) => ctx.ipam.pool(id)).filter((p): p is PoolRecord => p !== undefined);
}

export function netInfo(ctx: Ctx, n: NetworkRecord): NetworkInfo {
  return { id: n.id, name: n.name, internal: n.internal, enableIPv6: n.enableIPv6, pools: poolsOf(ctx, n) };
}

export function configOf(ctx: Ctx, n: NetworkRecord): unknown {
  return driverOf(ctx, n).parseOptions(n.options, { id: n.id, name: n.name, internal: n.internal });
}

/** The sandbox whose endpoints a sandbox uses: container:<x> sandboxes have none of their own. */
export const endpointOwner = (sb: SandboxRecord): string => (sb.mode.kind === 'container' ? sb.mode.target : sb.name);

/** The namespace to plumb a sandbox's endpoints into: its own /run/netns entry (for a
 *  container:<x> sandbox that entry is a bind mount of x's namespace). */
export function sandboxNs(ctx: Ctx, sb: SandboxRecord): NsRef {
  return { kind: 'named', name: sb.name };
}

export function endpointInfo(ctx: Ctx, ep: EndpointRecord): Parameters<NonNullable<Driver['join']>>[3] {
  const sb = ctx.state.sandboxOf(ep);
  return {
    id: ep.id,
    sandboxNs: ep.external ? { kind: 'self' } : sb ? sandboxNs(ctx, sb) : { kind: 'named', name: ctx.state.sandboxName(ep) },
    ifname: ep.ifname,
    mac: ep.mac,
    ipv4: ep.ipv4 && formatIfAddr(ep.ipv4),
    ipv6: ep.ipv6 && formatIfAddr(ep.ipv6),
    defaultRoute: ep.defaultRoute,
    external: ep.external !== undefined,
    ...(ep.ports?.length ? { ports: ep.ports } : {}),
    ...(sb?.links?.length ? { links: linkPeers(ctx, sb) } : {}),
  };
}

/** The sandbox's links whose other end is still there, with that end's exposed ports. */
function linkPeers(ctx: Ctx, sb: SandboxRecord): LinkPeer[] {
  return (sb.links ?? []).flatMap((l) => {
    const address = linkedAddress(ctx, sb, l.name);
    return address ? [{ address, ports: ctx.state.sandboxes.get(l.name)?.expose ?? [] }] : [];
  });
}

/** A driver's ready networks in creation order (the order its global rules are built in), each
 *  with its ready endpoints (a Docker endpoint only while joined). */
export function driverNetworks(ctx: Ctx, driver: string): DriverNetwork[] {
  return [...ctx.state.networks.values()]
    .filter((n) => n.driver === driver && n.state === 'ready')
    .sort((x, y) => x.created.localeCompare(y.created) || x.id.localeCompare(y.id))
    .map((n) => ({
      net: netInfo(ctx, n),
      config: configOf(ctx, n),
      endpoints: ctx.state
        .endpointsOf({ network: n.id })
        .filter((e) => e.state === 'ready' && (!e.external || e.external.sandboxKey))
        .map((e) => endpointInfo(ctx, e)),
    }));
}

/** Logger bound to what an operation is about. */
export function opLog(ctx: Ctx, bindings: Record<string, string>): Logger {
  return ctx.log.child(bindings);
}
