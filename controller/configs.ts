// Docker's configuration-only networks (--config-only) and the networks made from them
// (--config-from), and the --scope a create may ask for. A config-only network is a record and
// nothing else: driver "null" (as Docker shows it), no pools, no kernel objects, no DNS; its IPAM
// config and options wait in the record for the networks that use it. Docker's rules and texts
// are libnetwork's (network.go validateConfiguration, controller.go NewNetwork).
import { forbidden, invalid, notFound } from '../common/errors.js';
import { toCidr } from '../common/cidr.js';
import type { LoadedDriver } from '../drivers/handle.js';
import { absent, put } from '../store/types.js';
import { opLog, type Ctx } from './context.js';
import { newId, nowIso } from './ids.js';
import type { CreateNetworkRequest } from './requests.js';
import { key, type NetworkRecord } from './records.js';

/** --scope: local (or global for a driver that is) is accepted; swarm is refused, naming it. */
export function checkScope(scope: string | undefined, driver: LoadedDriver): void {
  if (!scope || scope === 'local' || (scope === 'global' && driver.caps.scope === 'global')) return;
  if (scope === 'swarm') {
    throw forbidden('NL_SWARM_SCOPE', 'cannot create a swarm scoped network when swarm is not active: netloom has no swarm mode (use --scope local)');
  }
  throw invalid('NL_BAD_SCOPE', `invalid scope "${scope}" for driver ${driver.name}: expected local${driver.caps.scope === 'global' ? ' or global' : ''}`);
}

const hasEntries = (m: Readonly<Record<string, string>> | undefined | null): boolean => Object.keys(m ?? {}).length > 0;

/** The config network a --config-from names, or 404 as Docker. */
function configNetwork(ctx: Ctx, ref: string): NetworkRecord {
  const c = ctx.state.findNetwork(ref);
  if (!c?.configOnly || c.state !== 'ready') throw notFound('NL_CONFIG_NOT_FOUND', `configuration network "${ref}" does not exist`);
  return c;
}

/**
 * --config-from: the request with the config network's IPAM, options, labels and IPv6 in place of
 * its own, which must be empty (Docker refuses to merge them). Requests without it pass unchanged.
 */
export function resolveConfigFrom(ctx: Ctx, req: CreateNetworkRequest): CreateNetworkRequest {
  if (!req.configFrom) return req;
  if (req.configOnly) throw forbidden('NL_CONFIG_FROM', 'a configuration network cannot depend on another configuration network');
  const c = configNetwork(ctx, req.configFrom);
  if ((req.ipamDriver && req.ipamDriver !== 'default') || req.enableIPv6 || hasEntries(req.labels) || hasEntries(req.ipamOptions) || req.ipam?.length) {
    throw forbidden(
      'NL_CONFIG_FROM',
      `user specified configurations are not supported if the network depends on a configuration network: --subnet, --gateway, --ip-range, --aux-address, --ipv6, --label and --ipam-* come from "${c.name}"`,
    );
  }
  if (hasEntries(req.options)) {
    throw forbidden('NL_CONFIG_FROM', `network driver options are not supported if the network depends on a configuration network: -o comes from "${c.name}"`);
  }
  return {
    ...req,
    configFrom: c.name,
    enableIPv6: c.enableIPv6,
    labels: c.labels,
    ipamDriver: c.ipamDriver,
    ipamOptions: c.ipamOptions ?? undefined,
    ipam: c.configOnly?.ipam ?? [],
    options: c.configOnly?.options ?? {},
  };
}

/** Checks what can be checked without a driver: operator fields (as Docker) and the CIDRs. */
function checkConfigOnly(req: CreateNetworkRequest): void {
  if (req.internal || req.attachable || (req.scope && req.scope !== 'local')) {
    throw forbidden(
      'NL_CONFIG_ONLY',
      'configuration network can only contain network specific fields. Network operator fields like [ ingress | internal | attachable | scope ] are not supported.',
    );
  }
  for (const c of req.ipam ?? []) {
    if (c.subnet) toCidr(c.subnet, 'subnet');
    if (c.ipRange) toCidr(c.ipRange, 'ip-range');
  }
}

/** --config-only: recorded, nothing else (no pools are reserved until a network uses it). */
export async function createConfigOnly(ctx: Ctx, req: CreateNetworkRequest): Promise<NetworkRecord> {
  checkConfigOnly(req);
  const rec: NetworkRecord = {
    id: newId(),
    name: req.name,
    driver: 'null',
    created: nowIso(),
    internal: false,
    attachable: false,
    enableIPv6: req.enableIPv6 ?? false,
    ipamDriver: req.ipamDriver ?? 'default',
    ipamOptions: req.ipamOptions ?? null,
    options: {},
    labels: req.labels ?? {},
    pools: [],
    predefined: false,
    configOnly: { ipam: (req.ipam ?? []).map((c) => ({ ...c })), options: { ...(req.options ?? {}) } },
    state: 'ready',
  };
  await ctx.state.commit([put(key.net(rec.id), rec), put(key.netName(rec.name), rec.id)], [absent(key.netName(rec.name))]);
  opLog(ctx, { op: 'network create', network: rec.name }).info({ id: rec.id }, 'configuration network created');
  return rec;
}

/** A config network stays while a network made from it exists (Docker: 403). */
export function refuseConfigInUse(ctx: Ctx, n: NetworkRecord): void {
  if (!n.configOnly) return;
  const users = [...ctx.state.networks.values()].filter((x) => x.configFrom === n.name);
  if (users.length) {
    throw forbidden(
      'NL_CONFIG_IN_USE',
      `configuration network "${n.name}" is in use by ${users.map((u) => `"${u.name}"`).join(', ')}: remove ${users.length > 1 ? 'them' : 'it'} first`,
    );
  }
}

/** Nothing connects to a config-only network (Docker does not find it for a container). */
export function refuseConfigOnly(n: NetworkRecord): void {
  if (n.configOnly) {
    throw notFound('NL_CONFIG_ONLY', `network ${n.name} is a configuration-only network: connect to a network created with --config-from ${n.name}`);
  }
}
