// Linux-bridge plumbing shared by the drivers whose sandboxes hang off a bridge (bridge,
// overlay): the bridge device with the gateway addresses, a veth pair per endpoint with the
// sandbox side addressed and routed, and the doctor's look at all of it. Each driver keeps what
// is its own (firewall, VXLAN device, which addresses and routes it wants).
import { logFailures } from '../../common/errors.js';
import { macFromIPv4 } from '../../common/cidr.js';
import { failpoint } from '../../common/failpoint.js';
import type { PoolRecord } from '../../ipam/types.js';
import { hostVethName, retiredName, type DriverEnv, type DriverNetwork, type EndpointInfo, type Finding, type NetworkInfo } from '../driver.js';

export const DEFAULT_MTU = 1500;

/** One bridge as a driver has it: its device, MTU, and what it puts on it and in sandboxes. */
export interface BridgePort {
  readonly bridge: string;
  readonly mtu: number;
  /** The pools whose gateway address goes on the bridge. */
  readonly addressed: readonly PoolRecord[];
  /** Whether an endpoint with defaultRoute gets a default route through the network. */
  readonly routes: boolean;
}

/** A pool's gateway address with the subnet's prefix (10.0.0.1/24). */
export const gatewayCidr = (p: PoolRecord): string => `${p.gateway}/${p.subnet.split('/')[1]}`;

/** The sandboxes' default gateway: the bridge, unless the pool names another (dockerd
 *  --default-gateway, Docker's DefaultGatewayIPv4 auxiliary address). */
export const routeVia = (p: PoolRecord): string => (p.family === 4 ? p.aux.DefaultGatewayIPv4 : undefined) ?? p.gateway;

/** Makes (or adopts and sets up) the bridge device, tagged as the network's; its MAC follows the
 *  IPv4 gateway so it stays the same across restarts. `mtu` undefined: an adopted bridge keeps its own. */
export async function addBridgeDevice(env: DriverEnv, net: NetworkInfo, name: string, mtu: number | undefined): Promise<void> {
  const gw4 = net.pools.find((p) => p.family === 4)?.gateway;
  await env.sys.host.addBridge(name, { mtu, alias: env.tag('net', net.id), mac: gw4 ? macFromIPv4(gw4) : undefined });
}

export async function addGatewayAddrs(env: DriverEnv, port: BridgePort): Promise<void> {
  for (const p of port.addressed) await env.sys.host.addAddr(port.bridge, gatewayCidr(p));
}

/** The endpoint's veth pair, its host end a port of the bridge; the sandbox end addressed and
 *  routed unless the endpoint is external (a Docker engine does that part). `more` runs last
 *  (the bridge's port rules); if anything fails the pair is deleted again. Idempotent. */
export async function joinBridge(env: DriverEnv, net: NetworkInfo, port: BridgePort, ep: EndpointInfo, more?: () => Promise<void>): Promise<void> {
  const veth = hostVethName(ep.id);
  await env.sys.host.addVeth({
    hostName: veth,
    peerName: ep.ifname,
    peerNs: ep.sandboxNs,
    peerMac: ep.mac || undefined,
    mtu: port.mtu,
    master: port.bridge,
    alias: env.tag('ep', ep.id),
  });
  failpoint('join:veth');
  try {
    // A sandbox reaching its own published port comes back out the port it went in by.
    if (ep.ports?.length) await env.sys.host.setHairpin(veth, true);
    if (!ep.external) await configureSandboxSide(env, net, port, ep); // else the engine does it
    await more?.();
  } catch (err) {
    await env.sys.host.delLink(veth).catch((e: unknown) => logFailures(env.log, e, 'bridge join: rollback step failed'));
    throw err;
  }
}

/** Deleting the host end deletes the sandbox end (and its addresses and routes) with it. With a
 *  reaper the pair is retired instead, both ends (down, out of the bridge, renamed: no traffic,
 *  the address and the sandbox's ethN free at once), and the reaper deletes it later. An
 *  engine's endpoint (external) is deleted at once: its sandbox end is the engine's. */
export async function leaveBridge(env: DriverEnv, ep: EndpointInfo): Promise<void> {
  const veth = hostVethName(ep.id);
  if (ep.external) return env.sys.host.delLink(veth);
  await retireLink(env, veth, retiredName(ep.id), async (retired) => {
    const sb = await env.sys.open(ep.sandboxNs);
    try {
      await sb.retire(ep.ifname, retired);
    } finally {
      sb.close();
    }
  });
}

/** Deletes a host link, or with a reaper retires it (and `more`, e.g. the sandbox end) and hands
 *  it to the reaper. If retiring fails the link is deleted at once, as without a reaper. */
export async function retireLink(env: DriverEnv, name: string, retired: string, more?: (retired: string) => Promise<void>): Promise<void> {
  if (!env.reap) return env.sys.host.delLink(name);
  try {
    await env.sys.host.retire(name, retired);
    await more?.(retired);
  } catch (err) {
    logFailures(env.log, err, `retiring ${name} failed: deleting it at once`);
    await env.sys.host.delLink(name);
    await env.sys.host.delLink(retired);
    return;
  }
  env.reap(retired);
}

/** Addresses, up and (unless internal, or not the endpoint's default) the default routes, in one
 *  batch of requests. */
async function configureSandboxSide(env: DriverEnv, net: NetworkInfo, port: BridgePort, ep: EndpointInfo): Promise<void> {
  const sb = await env.sys.open(ep.sandboxNs);
  try {
    const addrs = [ep.ipv4, ep.ipv6].filter((a): a is string => !!a);
    const routes = ep.defaultRoute && port.routes ? net.pools.map((p) => ({ dst: 'default', gateway: routeVia(p), link: ep.ifname, family: p.family })) : [];
    await sb.configure(ep.ifname, { addrs, routes });
  } finally {
    sb.close();
  }
}

/** Links, addresses and routes of one network and its endpoints, against the records. */
export async function checkBridge(env: DriverEnv, { net, endpoints }: DriverNetwork, port: BridgePort): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (kind: Finding['kind'], object: string, problem: string) => out.push({ kind, object, problem });
  const host = env.sys.host;
  const bridge = await host.link(port.bridge);
  const what = `bridge ${port.bridge} (network ${net.name})`;
  if (!bridge) add('link', what, 'missing');
  else {
    if (bridge.kind !== 'bridge') add('link', what, `is a ${bridge.kind ?? 'plain'} device, not a bridge`);
    if (!bridge.up) add('link', what, 'is down');
    const have = new Set((await host.addrs(port.bridge)).map((a) => a.cidr));
    for (const p of port.addressed) if (!have.has(gatewayCidr(p))) add('address', what, `lacks gateway ${gatewayCidr(p)}`);
  }
  for (const ep of endpoints) {
    const veth = hostVethName(ep.id);
    const l = await host.link(veth);
    const who = ep.external ? `Docker endpoint ${ep.id.slice(0, 12)}` : `sandbox ${ep.sandboxNs.kind === 'named' ? ep.sandboxNs.name : '?'}`;
    if (!l) {
      add('link', `${veth} (${who}, network ${net.name})`, 'missing');
      continue;
    }
    if (bridge && l.master !== bridge.index) add('link', `${veth} (${who})`, `is not a port of ${port.bridge}`);
    if (!l.up) add('link', `${veth} (${who})`, 'is down');
    if (ep.external) continue; // the container side belongs to the engine
    out.push(...(await checkSandboxSide(env, net, port, ep, who)));
  }
  return out;
}

async function checkSandboxSide(env: DriverEnv, net: NetworkInfo, port: BridgePort, ep: EndpointInfo, who: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (kind: Finding['kind'], object: string, problem: string) => out.push({ kind, object, problem });
  const sb = await env.sys.open(ep.sandboxNs).catch(() => undefined);
  if (!sb) {
    add('link', `${who}`, 'its namespace is gone');
    return out;
  }
  try {
    const inner = await sb.link(ep.ifname);
    const obj = `${ep.ifname} of ${who} (network ${net.name})`;
    if (!inner) add('link', obj, 'missing');
    else {
      if (!inner.up) add('link', obj, 'is down');
      const have = new Set((await sb.addrs(ep.ifname)).map((a) => a.cidr));
      for (const a of [ep.ipv4, ep.ipv6]) if (a && !have.has(a)) add('address', obj, `lacks ${a}`);
      if (ep.defaultRoute && port.routes) {
        const routes = await sb.routes();
        for (const p of net.pools) {
          const ok = routes.some((r) => r.dst === 'default' && r.family === p.family && r.gateway === routeVia(p));
          if (!ok) add('route', obj, `lacks the default route via ${routeVia(p)}`);
        }
      }
    }
  } finally {
    sb.close();
  }
  return out;
}
