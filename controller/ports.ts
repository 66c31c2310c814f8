// Published ports: from the user's --publish specs to bindings with concrete host ports, checked
// against every other binding netloom holds and every socket bound on the host. All or nothing:
// nothing is applied unless every port of every spec is free.
import type { IfAddr } from '../common/cidr.js';
import { conflict, invalid, unavailable } from '../common/errors.js';
import { bindingsClash, hostFamily, parsePublish, type PortBinding, type PortSpec } from '../common/ports.js';
import type { Listener } from '../system/types.js';
import { handleOf, type Ctx } from './context.js';
import type { NetworkRecord } from './records.js';

const DEFAULT_EPHEMERAL: [number, number] = [32768, 60999];

/** Who holds a host port, for the error message. */
interface Holder {
  readonly what: string;
  readonly binding: PortBinding;
}

function netloomHolders(ctx: Ctx): Holder[] {
  const out: Holder[] = [];
  for (const ep of ctx.state.endpoints.values()) {
    const n = ctx.state.networks.get(ep.network);
    for (const b of ep.ports ?? []) out.push({ what: `sandbox ${ctx.state.sandboxName(ep)} (network ${n?.name ?? ep.network})`, binding: b });
  }
  return out;
}

/** A listener as a binding: a socket on :: also takes IPv4 unless IPV6_V6ONLY, so it clashes with both. */
const listenerBinding = (l: Listener): PortBinding => ({
  proto: l.proto,
  hostIP: l.address === '::' ? '' : l.address,
  hostPort: l.port,
  containerPort: l.port,
  count: 1,
});

async function ephemeralRange(ctx: Ctx): Promise<[number, number]> {
  const raw = await ctx.env.sys.readSysctl('net.ipv4.ip_local_port_range');
  const [lo, hi] = (raw ?? '').split(/\s+/).map(Number);
  return lo > 0 && hi >= lo && hi <= 65535 ? [lo, hi] : DEFAULT_EPHEMERAL;
}

const show = (b: PortBinding): string => {
  const ports = b.count === 1 ? `${b.hostPort}` : `${b.hostPort}-${b.hostPort + b.count - 1}`;
  const ip = b.hostIP === '' ? '' : b.hostIP.includes(':') ? `[${b.hostIP}]:` : `${b.hostIP}:`;
  return `${ip}${ports}/${b.proto}`;
};

/** Resolves and checks `specs` for an endpoint with these addresses on network `n`. */
export async function resolvePorts(
  ctx: Ctx,
  n: NetworkRecord,
  specs: readonly string[],
  addrs: { readonly ipv4?: IfAddr; readonly ipv6?: IfAddr },
): Promise<PortBinding[]> {
  const parsed = specs.map(parsePublish);
  if (!parsed.length) return [];
  const net = handleOf(ctx, n);
  if (!net.caps.publish) throw invalid('NL_PUBLISH_UNSUPPORTED', `network ${n.name} (driver ${n.driver}) cannot publish ports: only bridge networks do`);
  if (n.internal) throw invalid('NL_PUBLISH_UNSUPPORTED', `network ${n.name} is internal: nothing outside it can reach a published port`);
  if (ctx.iptables === false)
    throw invalid('NL_PUBLISH_UNSUPPORTED', `cannot publish ${specs.join(', ')}: netloomd runs with --iptables=false, and published ports are iptables rules`);
  const hostBinding = net.hostBinding;
  const taken: Holder[] = netloomHolders(ctx);
  const listeners = await ctx.env.sys.listeners();
  const [lo, hi] = await ephemeralRange(ctx);
  const out: PortBinding[] = [];

  const holderOf = async (b: PortBinding): Promise<string | undefined> => {
    const h = taken.find((t) => bindingsClash(t.binding, b));
    if (h) return `${h.what} publishes ${show(h.binding)}`;
    const l = listeners.find((x) => bindingsClash(listenerBinding(x), b));
    if (!l) return undefined;
    const owner = await ctx.env.sys.socketOwner(l.inode);
    const where = `${l.family === 6 ? `[${l.address}]` : l.address}:${l.port}`;
    return `${owner ? `process ${owner.command} (pid ${owner.pid})` : 'a process'} ${l.proto === 'tcp' ? 'listens' : 'is bound'} on ${where}`;
  };

  for (const [i, spec] of parsed.entries()) {
    const raw = specs[i];
    let hostIP = spec.hostIP || (hostBinding === '0.0.0.0' ? '' : hostBinding);
    if (hostIP === '::1')
      throw invalid(
        'NL_BAD_PUBLISH',
        `invalid --publish "${raw}": [::1] cannot be published without a proxy process (IPv6 has no route_localnet); use 127.0.0.1 or an address of the host`,
      );
    const fam = hostFamily(hostIP);
    if (fam === 4 && !addrs.ipv4) throw invalid('NL_BAD_PUBLISH', `invalid --publish "${raw}": the endpoint on ${n.name} has no IPv4 address`);
    if (fam === 6 && !addrs.ipv6) throw invalid('NL_BAD_PUBLISH', `invalid --publish "${raw}": the endpoint on ${n.name} has no IPv6 address`);
    if (hostIP === '' && !addrs.ipv6) hostIP = '0.0.0.0';
    const count = spec.containerPortEnd - spec.containerPort + 1;
    const candidates = hostCandidates(spec, count, lo, hi);
    let chosen: PortBinding | undefined;
    let firstHolder: string | undefined;
    for (const hostPort of candidates) {
      const b: PortBinding = { proto: spec.proto, hostIP, hostPort, containerPort: spec.containerPort, count };
      const holder = await holderOf(b);
      if (!holder) {
        chosen = b;
        break;
      }
      firstHolder ??= holder;
    }
    if (!chosen) {
      if (spec.hostPort !== undefined) {
        const want = show({
          proto: spec.proto,
          hostIP,
          hostPort: spec.hostPort,
          containerPort: 0,
          count: (spec.hostPortEnd ?? spec.hostPort) - spec.hostPort + 1,
        });
        throw conflict('NL_PORT_IN_USE', `host port ${want} is already in use: ${firstHolder}`);
      }
      throw unavailable(
        'NL_PORT_EXHAUSTED',
        `no ${count} free consecutive ${spec.proto} port(s) left in ${lo}-${hi} (net.ipv4.ip_local_port_range) for --publish "${raw}"`,
      );
    }
    out.push(chosen);
    taken.push({ what: `--publish "${raw}" of this same request`, binding: chosen });
  }
  return out;
}

/** Host ports to try, in order: the fixed one, each start in a host range (one container port),
 *  or each start in the ephemeral range. */
function hostCandidates(spec: PortSpec, count: number, lo: number, hi: number): number[] {
  if (spec.hostPort !== undefined) {
    const end = spec.hostPortEnd ?? spec.hostPort;
    if (end - spec.hostPort + 1 === count) return [spec.hostPort];
    return Array.from({ length: end - spec.hostPort + 1 }, (_, i) => spec.hostPort! + i);
  }
  const n = hi - count + 1 - lo + 1;
  return n > 0 ? Array.from({ length: n }, (_, i) => lo + i) : [];
}
