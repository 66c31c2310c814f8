// Keeps the embedded DNS in step with the records. Called after each change is committed and
// before the API answers. User-defined bridge networks have DNS; the predefined ones do not
// (Docker's default bridge has none either).
import { parseUpstream } from '../common/upstream.js';
import { invalid } from '../common/errors.js';
import type { DnsEndpoint } from '../dns/types.js';
import type { DnsNetwork } from '../dns/service.js';
import { endpointOwner, handleOf, linkedAddress, poolsOf, type Ctx } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './records.js';
import type { HostsEntry } from '../dns/files.js';
import { ownHostNames } from './sandboxopts.js';

// Docker networks get names from Docker's own resolver (127.0.0.11 in each container).
// The driver says whether the network can have DNS (bridge inhibit_ipv4: no gateway address).
export const dnsEnabled = (ctx: Ctx, n: NetworkRecord): boolean =>
  !n.predefined && n.origin !== 'docker' && ctx.drivers.has(n.driver) && handleOf(ctx, n).caps.dns;

/** --dns values: an address, optionally with a port (10.0.0.53, 10.0.0.53:5353, [fd00::53]:53). */
export function checkDnsServers(flag: string, servers: readonly string[] | undefined): void {
  for (const s of servers ?? []) {
    if (!parseUpstream(s)) {
      throw invalid('NL_BAD_DNS', `invalid ${flag} "${s}": expected an IP address, optionally with a port (10.0.0.53, 10.0.0.53:5353, [fd00::53]:53)`);
    }
  }
}

function dnsNetwork(ctx: Ctx, n: NetworkRecord): DnsNetwork {
  const gws = poolsOf(ctx, n)
    .sort((a, b) => a.family - b.family)
    .map((p) => p.gateway);
  return { id: n.id, name: n.name, internal: n.internal, gateways: gws };
}

export async function networkUp(ctx: Ctx, n: NetworkRecord): Promise<void> {
  if (ctx.names && dnsEnabled(ctx, n)) await ctx.names.addNetwork(dnsNetwork(ctx, n));
}

export function networkDown(ctx: Ctx, n: NetworkRecord): void {
  ctx.names?.removeNetwork(n.id);
}

function dnsEndpoint(ctx: Ctx, ep: EndpointRecord, n: NetworkRecord): DnsEndpoint {
  const sb = ctx.state.sandboxOf(ep);
  return {
    endpointId: ep.id,
    sandbox: ctx.state.sandboxName(ep),
    networkId: n.id,
    network: n.name,
    internal: n.internal,
    ipv4: ep.ipv4?.ip,
    ipv6: ep.ipv6?.ip,
    aliases: ep.aliases,
    dns: ep.dns?.length ? ep.dns : sb?.dns?.length ? sb.dns : undefined,
    networkDns: n.dns?.length ? n.dns : undefined,
  };
}

export function endpointUp(ctx: Ctx, ep: EndpointRecord): void {
  const n = ctx.state.networks.get(ep.network);
  if (!ctx.names || !n) return;
  if (dnsEnabled(ctx, n)) ctx.names.addEndpoint(dnsEndpoint(ctx, ep, n));
  sandboxFiles(ctx, ctx.state.sandboxName(ep));
}

export function endpointDown(ctx: Ctx, ep: EndpointRecord): void {
  if (!ctx.names) return;
  ctx.names.removeEndpoint(ep.id);
  if (ctx.state.sandboxOf(ep)?.state !== 'deleting') sandboxFiles(ctx, ctx.state.sandboxName(ep));
}

/** Rewrites resolv.conf and hosts of a sandbox and of every sandbox sharing its namespace. */
export function sandboxFiles(ctx: Ctx, name: string): void {
  const sb = ctx.state.sandboxes.get(name);
  if (!ctx.names || !sb || sb.mode.kind === 'host') return;
  const owner = endpointOwner(sb);
  const eps = ctx.state.endpointsOf({ sandbox: ctx.state.sandboxes.get(owner)?.id ?? owner }).filter((e) => e.state !== 'deleting');
  const nets = eps.map((e) => ctx.state.networks.get(e.network)).filter((n): n is NetworkRecord => !!n && dnsEnabled(ctx, n));
  const sharing = [...ctx.state.sandboxes.values()].filter((s) => s.name === owner || (s.mode.kind === 'container' && s.mode.target === owner));
  const owned = ctx.state.sandboxes.get(owner) ?? sb;
  for (const s of sharing) {
    ctx.names.writeFiles({
      name: s.name,
      search: s.dnsSearch ?? [],
      options: s.dnsOptions ?? [],
      dnsNetworks: nets.map((n) => dnsNetwork(ctx, n)),
      addresses: eps.flatMap((e) => [e.ipv4?.ip, e.ipv6?.ip]).filter((a): a is string => !!a),
      ...(s.dns?.length ? { servers: s.dns } : {}),
      ...(owned.hostname ? { hostNames: ownHostNames(owned.hostname, owned.domainname), hostname: owned.hostname } : {}),
      extraHosts: [...(s.extraHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] })), ...linkHosts(ctx, s)],
    });
  }
}

/** --link entries of a sandbox's hosts file, as Docker writes them: the alias, the linked
 *  sandbox's host name, and its name (when not the alias); linked sandboxes that are gone drop out. */
export function linkHosts(ctx: Ctx, sb: SandboxRecord): HostsEntry[] {
  const out: HostsEntry[] = [];
  for (const l of sb.links ?? []) {
    const ip = linkedAddress(ctx, sb, l.name);
    const t = ctx.state.sandboxes.get(l.name);
    if (!ip || !t) continue;
    out.push({ ip, names: [...new Set([l.alias, ...(t.hostname ? [t.hostname] : []), t.name])] });
  }
  return out;
}

export function sandboxFilesGone(ctx: Ctx, name: string): void {
  ctx.names?.removeFiles(name);
}

/** After a restart: serve every ready network, load every ready endpoint, rewrite every file. */
export async function restoreNames(ctx: Ctx): Promise<void> {
  if (!ctx.names) return;
  for (const n of ctx.state.networks.values()) {
    if (n.state !== 'ready') continue;
    // One network whose port 53 is taken must not keep the daemon (and every other network) down.
    await networkUp(ctx, n).catch((err: unknown) => ctx.log.error({ network: n.name, err: String(err) }, 'dns: cannot serve network'));
  }
  for (const ep of ctx.state.endpoints.values()) if (ep.state === 'ready') endpointUp(ctx, ep);
  for (const sb of ctx.state.sandboxes.values()) if (sb.state === 'ready') sandboxFiles(ctx, sb.name);
}
