// What every controller operation works with, and the small lookups they share.
import type { Logger } from '../common/log.js';
import type { NameService } from '../dns/service.js';
import type { DriverEnv, EndpointInfo, LinkPeer, NetworkInfo } from '../drivers/driver.js';
import type { BoundNetwork, LoadedDriver, NetworkHandle } from '../drivers/handle.js';
import { isPlumbed } from './attachment.js';
import { lookupDriver, type DriverRegistry } from '../drivers/registry.js';
import type { Ipam } from '../ipam/index.js';
import type { PoolRecord } from '../ipam/types.js';
import type { NsRef } from '../system/types.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './records.js';
import { formatIfAddr } from '../common/cidr.js';
import type { State } from './state.js';
import type { DefaultBridgeSettings } from './requests.js';

export interface Ctx {
  readonly state: State;
  readonly ipam: Ipam;
  readonly drivers: DriverRegistry;
  readonly env: DriverEnv;
  readonly log: Logger;
  /** The embedded DNS; absent in unit tests that run without sockets. */
  readonly names?: NameService;
  /** After `netloomd --salvage` (until `netloom doctor --fix`): the records may have lost what
   *  explains a kernel object, so nothing unexplained is removed — links, rules, namespaces. */
  keepUnexplained?: boolean;
  /** The default bridge as netloomd's flags describe it (--bip, -b, --icc, ...). */
  readonly defaultBridge?: DefaultBridgeSettings;
  /** false with netloomd --iptables=false: no rules, so no published ports. */
  readonly iptables?: boolean;
  /** Links retired and waiting for the reaper (controller/reaper.ts): not unexplained. */
  readonly reaping?: ReadonlySet<string>;
}

export const driverOf = (ctx: Ctx, n: NetworkRecord): LoadedDriver => lookupDriver(ctx.drivers, n.driver);

export function poolsOf(ctx: Ctx, n: NetworkRecord): PoolRecord[] {
  return n.pools.map((id) => ctx.ipam.pool(id)).filter((p): p is PoolRecord => p !== undefined);
}

export function netInfo(ctx: Ctx, n: NetworkRecord): NetworkInfo {
  return { id: n.id, name: n.name, internal: n.internal, enableIPv6: n.enableIPv6, pools: poolsOf(ctx, n) };
}

/** Each network's handle, parsed once from its record's options, per controller state. */
const handles = new WeakMap<State, Map<string, { readonly from: NetworkRecord; readonly handle: NetworkHandle }>>();

/** Whether two versions of a network record parse the same (a commit stores a copy). */
const sameBinding = (a: NetworkRecord, b: NetworkRecord): boolean =>
  a === b || (a.driver === b.driver && a.name === b.name && a.internal === b.internal && JSON.stringify(a.options) === JSON.stringify(b.options));

/** The network bound to its driver (options parsed once, cached by id; a record with other
 *  options, name or internal flag, as after a remake, is parsed again). */
export function handleOf(ctx: Ctx, n: NetworkRecord): NetworkHandle {
  let byId = handles.get(ctx.state);
  if (!byId) handles.set(ctx.state, (byId = new Map()));
  const hit = byId.get(n.id);
  if (hit && sameBinding(hit.from, n)) return hit.handle;
  const handle = driverOf(ctx, n).open(n.options, { id: n.id, name: n.name, internal: n.internal });
  byId.set(n.id, { from: n, handle });
  return handle;
}

/** Forgets a deleted network's handle. */
export const dropHandle = (ctx: Ctx, id: string): void => void handles.get(ctx.state)?.delete(id);

/** The sandbox whose endpoints a sandbox uses: container:<x> sandboxes have none of their own. */
export const endpointOwner = (sb: SandboxRecord): string => (sb.mode.kind === 'container' ? sb.mode.target : sb.name);

/** The namespace to plumb a sandbox's endpoints into: its own /run/netns entry (for a
 *  container:<x> sandbox that entry is a bind mount of x's namespace). */
export function sandboxNs(ctx: Ctx, sb: SandboxRecord): NsRef {
  return { kind: 'named', name: sb.name };
}

export function endpointInfo(ctx: Ctx, ep: EndpointRecord): EndpointInfo {
  // An engine's endpoint has no netloom sandbox: its `sandbox` is only a label.
  const sb = ep.attachment ? undefined : ctx.state.sandboxOf(ep);
  const n = ctx.state.networks.get(ep.network);
  return {
    id: ep.id,
    sandboxNs: ep.attachment ? { kind: 'self' } : sb ? sandboxNs(ctx, sb) : { kind: 'named', name: ctx.state.sandboxName(ep) },
    ifname: ep.ifname,
    mac: ep.mac,
    ipv4: ep.ipv4 && formatIfAddr(ep.ipv4),
    ipv6: ep.ipv6 && formatIfAddr(ep.ipv6),
    // The record keeps Docker's rule (first network that can route out); a driver whose networks
    // route nowhere (overlay) is told no.
    defaultRoute: ep.defaultRoute && (!n || handleOf(ctx, n).caps.defaultRoute),
    external: ep.attachment?.kind === 'engine',
    ...(ep.ports?.length ? { ports: ep.ports } : {}),
    ...(sb?.links?.length ? { links: linkPeers(ctx, sb) } : {}),
  };
}

/** The IPv4 address of linked sandbox `name` on the network `sb` shares with it through the
 *  default bridge; undefined once it is gone or going. */
export function linkedAddress(ctx: Ctx, sb: SandboxRecord, name: string): string | undefined {
  const t = ctx.state.sandboxes.get(name);
  if (!t || t.state !== 'ready') return undefined;
  const mine = new Set(ctx.state.endpointsOf({ sandbox: sb.id }).map((e) => e.network));
  const ep = ctx.state
    .endpointsOf({ sandbox: t.id })
    .find((e) => e.state === 'ready' && e.ipv4 && mine.has(e.network) && ctx.state.networks.get(e.network)?.predefined);
  return ep?.ipv4?.ip;
}

/** The sandbox's links whose other end is still there, with that end's exposed ports. */
function linkPeers(ctx: Ctx, sb: SandboxRecord): LinkPeer[] {
  return (sb.links ?? []).flatMap((l) => {
    const address = linkedAddress(ctx, sb, l.name);
    return address ? [{ address, ports: ctx.state.sandboxes.get(l.name)?.expose ?? [] }] : [];
  });
}

/** A driver's ready networks in creation order (the order its global rules are built in), each
 *  with its ready endpoints (an engine's only while attached). */
export function driverNetworks(ctx: Ctx, driver: string): BoundNetwork[] {
  return [...ctx.state.networks.values()]
    .filter((n) => n.driver === driver && n.state === 'ready')
    .sort((x, y) => x.created.localeCompare(y.created) || x.id.localeCompare(y.id))
    .map((n) => ({
      net: netInfo(ctx, n),
      handle: handleOf(ctx, n),
      endpoints: ctx.state
        .endpointsOf({ network: n.id })
        .filter((e) => e.state === 'ready' && isPlumbed(e))
        .map((e) => endpointInfo(ctx, e)),
    }));
}

/** Logger bound to what an operation is about. */
export function opLog(ctx: Ctx, bindings: Record<string, string>): Logger {
  return ctx.log.child(bindings);
}

/** Driver verbs on one network record and its endpoint records. */
export const netVerbs = {
  create: (ctx: Ctx, n: NetworkRecord) => handleOf(ctx, n).createNetwork(ctx.env, netInfo(ctx, n)),
  delete: (ctx: Ctx, n: NetworkRecord) => handleOf(ctx, n).deleteNetwork(ctx.env, netInfo(ctx, n)),
  join: (ctx: Ctx, n: NetworkRecord, ep: EndpointRecord) => handleOf(ctx, n).join(ctx.env, netInfo(ctx, n), endpointInfo(ctx, ep)),
  leave: (ctx: Ctx, n: NetworkRecord, ep: EndpointRecord) => handleOf(ctx, n).leave(ctx.env, netInfo(ctx, n), endpointInfo(ctx, ep)),
  unpublish: (ctx: Ctx, n: NetworkRecord, ep: EndpointRecord) => handleOf(ctx, n).unpublish(ctx.env, netInfo(ctx, n), endpointInfo(ctx, ep)),
} as const;
