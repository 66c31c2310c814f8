// Network create / remove / prune, and the predefined networks (bridge, host, none).
import { conflict, forbidden, invalid, rollback, wrap } from '../common/errors.js';
import { lookupDriver } from '../drivers/registry.js';
import { clusterMemberOf } from '../drivers/driver.js';
import type { PoolRecord } from '../ipam/types.js';
import { joinOps } from '../ipam/index.js';
import { failpoint } from '../common/failpoint.js';
import { absent, del, put, type TxnOp } from '../store/types.js';
import { dropHandle, driverOf, handleOf, netInfo, netVerbs, opLog, type Ctx } from './context.js';
import { checkNetworkName, newId, nowIso } from './ids.js';
import { key, type NetworkRecord } from './records.js';
import type { CreateNetworkRequest, IpamConfigRequest } from './requests.js';
import { checkScope, createConfigOnly, refuseConfigInUse, resolveConfigFrom } from './configs.js';
import { checkDnsServers, networkDown, networkUp } from './names.js';
import { DEFAULT_SETTINGS, bridgeChanges, checkBridgeExists, defaultBridgeRequest } from './defaultbridge.js';

/** What the Docker plugin fixes itself instead of letting create choose (controller/external.ts). */
export interface NetworkPreset {
  /** Docker's NetworkID. */
  readonly id: string;
  readonly origin: 'docker' | 'cluster';
  /** Pools already planned: Docker-requested ones being bound (in the IPAM already) and new ones. */
  readonly pools: readonly PoolRecord[];
}

export const PREDEFINED = ['bridge', 'host', 'none'] as const;
const IPAM_DRIVERS = ['default', 'netloom'];

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** Host routes and interface addresses: a default pool never overlaps them. */
export async function hostAvoid(ctx: Ctx): Promise<string[]> {
  const [routes, addrs] = await Promise.all([ctx.env.sys.host.routes(), ctx.env.sys.host.addrs()]);
  return [...routes.map((r) => r.dst).filter((d) => d !== 'default'), ...addrs.map((a) => a.cidr)];
}

function planPools(ctx: Ctx, id: string, req: CreateNetworkRequest, avoid: readonly string[]): PoolRecord[] {
  const byFamily = new Map<4 | 6, IpamConfigRequest>();
  for (const c of req.ipam ?? []) {
    if (!c.subnet) {
      const what = c.gateway ? `--gateway ${c.gateway}` : c.ipRange ? `--ip-range ${c.ipRange}` : '--aux-address';
      throw invalid('NL_IPAM_NO_SUBNET', `${what} needs a --subnet to belong to`);
    }
    const f = familyOf(c.subnet);
    if (byFamily.has(f)) throw invalid('NL_IPAM_MULTIPLE_SUBNETS', `more than one IPv${f} subnet (${c.subnet}) is not supported: give one per family`);
    if (f === 6 && !req.enableIPv6) throw invalid('NL_IPAM_IPV6_DISABLED', `subnet ${c.subnet} is IPv6: add --ipv6 to enable IPv6 on the network`);
    byFamily.set(f, c);
  }
  const families: (4 | 6)[] = req.enableIPv6 ? [4, 6] : [4];
  return families.map((family) => {
    const c = byFamily.get(family) ?? {};
    return ctx.ipam.planPool(
      {
        id: `${id}:${family}`,
        owner: id,
        ownerName: req.name,
        family,
        subnet: c.subnet,
        ipRange: c.ipRange,
        gateway: c.gateway,
        auxAddresses: c.auxAddresses,
      },
      avoid,
    );
  });
}

function checkUnique(ctx: Ctx, req: CreateNetworkRequest, driverName: string, unique: Readonly<Record<string, string>>): void {
  for (const n of ctx.state.networks.values()) {
    if (n.name === req.name) throw conflict('NL_NETWORK_EXISTS', `network with name ${req.name} already exists`);
    if (n.driver !== driverName) continue;
    const other = handleOf(ctx, n).unique;
    for (const [k, v] of Object.entries(unique)) {
      if (other[k] === v) throw conflict('NL_OPTION_IN_USE', `--opt ${k}=${v} is already used by network "${n.name}"`);
    }
  }
}

/** What createNetwork decided, for the record it writes in state "creating". */
interface NetworkChoices {
  readonly id: string;
  readonly driver: string;
  readonly created: string;
  readonly ipamDriver: string;
  readonly options: Readonly<Record<string, string>>;
  readonly pools: readonly PoolRecord[];
  readonly predefined: boolean;
  readonly preset?: NetworkPreset;
}

function creatingRecord(req: CreateNetworkRequest, c: NetworkChoices): NetworkRecord {
  const { id, created, ipamDriver, options, pools, predefined, preset } = c;
  return {
    id,
    name: req.name,
    driver: c.driver,
    created,
    internal: req.internal ?? false,
    attachable: req.attachable ?? false,
    enableIPv6: req.enableIPv6 ?? false,
    ipamDriver,
    // Docker shows IPAM.Options as given: null when the request had none, {} when it sent {}.
    ipamOptions: predefined ? null : (req.ipamOptions ?? null),
    options,
    labels: req.labels ?? {},
    pools: pools.map((p) => p.id),
    predefined,
    ...(req.dns?.length ? { dns: [...req.dns] } : {}),
    ...(req.configFrom ? { configFrom: req.configFrom } : {}),
    ...(preset ? { origin: preset.origin } : {}),
    state: 'creating',
  };
}

export async function createNetwork(ctx: Ctx, request: CreateNetworkRequest, predefined = false, preset?: NetworkPreset): Promise<NetworkRecord> {
  checkNetworkName(request.name);
  if (!predefined && (PREDEFINED as readonly string[]).includes(request.name)) {
    throw forbidden('NL_PREDEFINED', `network name ${request.name} is reserved for the predefined network`);
  }
  const req = resolveConfigFrom(ctx, request);
  const driver = lookupDriver(ctx.drivers, req.driver ?? 'bridge');
  checkScope(req.scope, driver);
  if (req.configOnly) {
    checkUnique(ctx, req, driver.name, {});
    return createConfigOnly(ctx, req);
  }
  if (driver.caps.sandboxMode && !predefined) {
    throw forbidden('NL_PREDEFINED', `only one ${driver.name} network can exist: use the predefined network "${driver.caps.sandboxMode}"`);
  }
  const ipamDriver = req.ipamDriver ?? 'default';
  if (!IPAM_DRIVERS.includes(ipamDriver)) {
    throw invalid('NL_UNKNOWN_IPAM_DRIVER', `unknown IPAM driver "${ipamDriver}": available drivers are ${IPAM_DRIVERS.join(', ')}`);
  }
  checkDnsServers('--dns', req.dns);
  const id = preset?.id ?? newId();
  let options = req.options ?? {};
  let handle = driver.open(options, { id, name: req.name, internal: req.internal ?? false });
  checkUnique(ctx, req, driver.name, handle.unique);
  // Host routes only matter for a default pick: skip the two dumps when every family has a --subnet.
  const needsDefault = (req.ipam ?? []).filter((c) => c.subnet).length < (req.enableIPv6 ? 2 : 1);
  const pools = preset?.pools ?? (driver.caps.usesIpam ? planPools(ctx, id, req, needsDefault ? await hostAvoid(ctx) : []) : []);

  const created = nowIso();
  // What the driver fixes itself (an overlay's VNI), cluster-wide in one transaction with a cluster.
  const define = driver.cluster?.defineNetwork;
  const defined = define !== undefined && !preset;
  if (defined) {
    const others = [...ctx.state.networks.values()].filter((x) => x.driver === driver.name).map((x) => x.options);
    options = await define({ id, name: req.name, created }, pools, options, others);
    handle = driver.open(options, { id, name: req.name, internal: req.internal ?? false });
  }
  const rec = creatingRecord(req, { id, driver: driver.name, created, ipamDriver, options, pools, predefined, preset });
  const log = opLog(ctx, { op: 'network create', network: req.name });
  const poolWrites = joinOps(pools.map((p) => ctx.ipam.addPoolOps(p)));
  try {
    // Not flushed: "ready" below is, and takes this with it (store/types.ts TxnOptions).
    await ctx.state.commit(
      [put(key.net(id), rec), put(key.netName(rec.name), id), ...poolWrites.ops],
      [absent(key.netName(rec.name)), ...poolWrites.compares],
      { sync: false },
    );
  } catch (err) {
    if (defined) await rollback(log, 'network create: rollback step failed', [async () => clusterMemberOf(driver)?.undefine(rec, true)]);
    throw err;
  }
  for (const p of pools) {
    if (ctx.ipam.pool(p.id)) ctx.ipam.rebind(p.id, p.owner, p.ownerName);
    else ctx.ipam.addPool(p);
  }
  failpoint('create:recorded');
  try {
    await handle.createNetwork(ctx.env, netInfo(ctx, rec));
    try {
      await networkUp(ctx, rec);
    } catch (err) {
      networkDown(ctx, rec);
      await rollback(log, 'network create: rollback step failed', [async () => handle.deleteNetwork(ctx.env, netInfo(ctx, rec))]);
      throw err;
    }
  } catch (err) {
    await forgetNetwork(ctx, rec);
    if (defined) await rollback(log, 'network create: rollback step failed', [async () => clusterMemberOf(driver)?.undefine(rec, true)]);
    throw wrap(err, `create network "${req.name}"`);
  }
  failpoint('create:applied');
  const ready: NetworkRecord = { ...rec, state: 'ready' };
  await ctx.state.commit([put(key.net(id), ready)]);
  log.info({ id, subnets: pools.map((p) => p.subnet) }, 'network created');
  return ready;
}

/** The create response's Warning: options the driver keeps but ignores (Docker says nothing). */
export function optionWarning(ctx: Ctx, n: NetworkRecord): string {
  const unknown = driverOf(ctx, n).unknownOptions(n.options);
  if (!unknown.length) return '';
  return `driver ${n.driver} does not know option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}: kept in the network's Options, but it changes nothing`;
}

/** Store deletes that drop a pool with its cursor and every allocation in it. */
export function poolDeletes(ctx: Ctx, poolId: string): TxnOp[] {
  return [...ctx.ipam.removePoolOps(poolId).ops];
}

/** Drops a network's records and pools (the kernel side is already gone). */
export async function forgetNetwork(ctx: Ctx, n: NetworkRecord): Promise<void> {
  const ops: TxnOp[] = [del(key.net(n.id)), del(key.netName(n.name)), ...n.pools.flatMap((p) => poolDeletes(ctx, p))];
  await ctx.state.commit(ops);
  dropHandle(ctx, n.id);
  for (const poolId of n.pools) ctx.ipam.removePool(poolId);
}

/** Docker owns what it made through the plugin: changing it behind the engine's back would leave
 *  the engine's view and the kernel apart. */
export function refuseDockerNetwork(n: NetworkRecord, what: string): void {
  if (n.origin === 'docker') {
    throw conflict('NL_DOCKER_NETWORK', `network ${n.name} was made by Docker through the netloom plugin: ${what} it with docker, not netloom`);
  }
}

export async function removeNetwork(ctx: Ctx, ref: string): Promise<void> {
  const n = ctx.state.network(ref);
  if (n.predefined) throw forbidden('NL_PREDEFINED', `${n.name} is a pre-defined network and cannot be removed`);
  refuseDockerNetwork(n, 'remove');
  refuseConfigInUse(ctx, n);
  const eps = ctx.state.endpointsOf({ network: n.id });
  if (eps.length) {
    throw forbidden(
      'NL_NETWORK_IN_USE',
      `network ${n.name} has active endpoints (${eps.map((e) => ctx.state.sandboxName(e)).join(', ')}): disconnect them first`,
    );
  }
  // Every host removes its copy when the definition goes (controller/clustersync.ts).
  await clusterMemberOf(driverOf(ctx, n))?.undefine(n);
  await deleteNetworkNow(ctx, n);
  opLog(ctx, { op: 'network rm', network: n.name }).info('network removed');
}

/** Marks, tears down, forgets: a crash in between leaves "deleting", which reconcile finishes. */
export async function deleteNetworkNow(ctx: Ctx, n: NetworkRecord): Promise<void> {
  if (n.state !== 'deleting') await ctx.state.commit([put(key.net(n.id), { ...n, state: 'deleting' })]);
  networkDown(ctx, n);
  await netVerbs.delete(ctx, n);
  await forgetNetwork(ctx, n);
}

export async function pruneNetworks(ctx: Ctx, keep: (n: NetworkRecord) => boolean = () => false): Promise<string[]> {
  const deleted: string[] = [];
  for (const n of [...ctx.state.networks.values()]) {
    // Config-only networks are never pruned (Docker's rule).
    if (
      n.predefined ||
      n.configOnly ||
      n.origin === 'docker' ||
      n.state !== 'ready' ||
      keep(n) ||
      ctx.state.endpointsOf({ network: n.id }).length ||
      clusterMemberOf(driverOf(ctx, n))
    )
      continue;
    await deleteNetworkNow(ctx, n);
    deleted.push(n.name);
  }
  return deleted;
}

/** bridge (like docker0, bridge named netloom0, as netloomd's flags describe it), host and none
 *  exist after the first start. */
export async function ensurePredefined(ctx: Ctx): Promise<void> {
  const have = new Set([...ctx.state.networks.values()].map((n) => n.name));
  await ensureDefaultBridge(ctx);
  if (!have.has('host')) await createNetwork(ctx, { name: 'host', driver: 'host' }, true);
  if (!have.has('none')) await createNetwork(ctx, { name: 'none', driver: 'null' }, true);
}

/** Makes the default bridge as the settings say; a changed setting remakes it while no sandbox
 *  uses it, else netloomd says why it keeps the old one. -b none: no default bridge. */
async function ensureDefaultBridge(ctx: Ctx): Promise<void> {
  const s = ctx.defaultBridge ?? DEFAULT_SETTINGS;
  const old = [...ctx.state.networks.values()].find((n) => n.predefined && n.name === 'bridge');
  const log = opLog(ctx, { op: 'default bridge' });
  let addr: string | undefined;
  if (s.bridge && s.bridge !== 'none') {
    await checkBridgeExists(ctx);
    // Its address (the one netloom gave it on an earlier start included) is the subnet.
    addr = (await ctx.env.sys.host.addrs(s.bridge)).map((a) => a.cidr).find((c) => !c.includes(':'));
  }
  const want = s.bridge === 'none' ? undefined : defaultBridgeRequest(s, lookupDriver(ctx.drivers, 'bridge'), s.bip ? undefined : addr);
  const changes = old && want ? bridgeChanges(ctx, old, want) : old ? ['--bridge none'] : [];
  if (old && !changes.length) return;
  if (old) {
    const users = ctx.state.endpointsOf({ network: old.id }).map((e) => ctx.state.sandboxName(e));
    if (users.length) {
      log.warn(
        { changes, sandboxes: users },
        `default bridge settings changed (${changes.join(', ')}) but sandboxes ${users.join(', ')} use it: keeping the old settings until they leave and netloomd restarts`,
      );
      return;
    }
    log.info({ changes }, 'default bridge settings changed: remaking it');
    await deleteNetworkNow(ctx, old);
  }
  if (want) await createNetwork(ctx, want, true);
}
