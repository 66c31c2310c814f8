// Connect and disconnect: an endpoint is a sandbox's attachment to one network.
//
// Connect writes the endpoint as "creating" together with its address reservations (one
// transaction whose compares make a duplicate address impossible), then plumbs the kernel, then
// marks it "ready". A kill -9 anywhere in between leaves a record that reconcile rolls back.
import { conflict, forbidden, invalid, notFound, rollback, wrap } from '../common/errors.js';
import { ifAddrIn, macFromIPv4, type IfAddr } from '../common/cidr.js';
import { failpoint } from '../common/failpoint.js';
import { del, put, type Compare, type TxnOp } from '../store/types.js';
import { joinOps } from '../ipam/index.js';
import { handleOf, netInfo, netVerbs, opLog, poolsOf, type Ctx } from './context.js';
import { newId, nextIfname, nowIso, randomMac } from './ids.js';
import { refuseConfigOnly } from './configs.js';
import { key, type EndpointRecord, type NetworkRecord, type SandboxRecord } from './records.js';
import { checkDnsServers, endpointDown, endpointUp } from './names.js';
import { refuseDockerNetwork } from './networks.js';
import { resolvePorts } from './ports.js';
import { announce, memberOf, withdraw } from './clustersync.js';
import { parseMac } from './sandboxopts.js';

export interface ConnectRequest {
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly aliases?: readonly string[];
  /** Upstream DNS servers for this endpoint's names that netloom does not own. */
  readonly dns?: readonly string[];
  /** --publish specs ([hostIP:][hostPort[-end]:]containerPort[-end][/proto]). */
  readonly publish?: readonly string[];
  /** --mac-address: the interface's MAC instead of one derived from its IPv4 address. */
  readonly macAddress?: string;
}

function checkConnectable(ctx: Ctx, n: NetworkRecord, sb: SandboxRecord): void {
  refuseDockerNetwork(n, 'connect containers to');
  refuseConfigOnly(n);
  const mode = sb.mode;
  if (mode.kind === 'container') {
    throw invalid('NL_SHARED_NAMESPACE', `sandbox ${sb.name} shares the namespace of ${mode.target}: connect ${mode.target} instead`);
  }
  if (mode.kind === 'host' || handleOf(ctx, n).caps.sandboxMode === 'host') {
    throw invalid('NL_HOST_MODE', 'sandbox cannot be disconnected from host network or connected to host network');
  }
  if (mode.kind === 'none' || handleOf(ctx, n).caps.sandboxMode === 'none') {
    throw invalid('NL_NONE_MODE', `sandbox ${sb.name} cannot be connected to multiple networks with one of the networks in private (none) mode`);
  }
  if (n.state !== 'ready') throw conflict('NL_NETWORK_BUSY', `network ${n.name} is being ${n.state === 'creating' ? 'created' : 'deleted'}`);
  // A "creating" sandbox is only ever seen by its own createSandbox (operations are serialised;
  // after a crash, reconcile removes it before the API serves anything).
  if (sb.state === 'deleting') throw conflict('NL_SANDBOX_BUSY', `sandbox ${sb.name} is being deleted`);
  if (ctx.state.endpointsOf({ network: n.id, sandbox: sb.id }).length) {
    throw forbidden('NL_ALREADY_CONNECTED', `endpoint with name ${sb.name} already exists in network ${n.name}`);
  }
}

function checkAliases(aliases: readonly string[]): void {
  for (const a of aliases) {
    if (!/^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/.test(a)) {
      throw invalid('NL_BAD_ALIAS', `invalid alias "${a}": expected a DNS name of letters, digits, ".", "-" and "_"`);
    }
  }
}

/** Plans addresses for every pool of the network; pure apart from reading the IPAM. */
function planAddresses(ctx: Ctx, n: NetworkRecord, epId: string, req: ConnectRequest): { ipv4?: IfAddr; ipv6?: IfAddr } {
  const out: { ipv4?: IfAddr; ipv6?: IfAddr } = {};
  for (const p of poolsOf(ctx, n)) {
    const wanted = p.family === 4 ? req.ipv4Address : req.ipv6Address;
    if (wanted && !p.userSubnet) {
      throw invalid('NL_STATIC_IP_NEEDS_SUBNET', `static address ${wanted} needs a network created with --subnet (network ${n.name} uses a default pool)`);
    }
    const holder = wanted ? ctx.state.endpoints.get(ctx.ipam.holder(p.id, wanted) ?? '') : undefined;
    if (holder) {
      throw conflict('NL_IPAM_ADDR_IN_USE', `address ${wanted} is already in use by sandbox ${ctx.state.sandboxName(holder)} in network "${n.name}"`);
    }
    const ip = ctx.ipam.planAddress(p.id, epId, wanted || undefined);
    const cidr = ifAddrIn(ip, p.subnet);
    if (p.family === 4) out.ipv4 = cidr;
    else out.ipv6 = cidr;
  }
  for (const [fam, wanted] of [
    [4, req.ipv4Address],
    [6, req.ipv6Address],
  ] as const) {
    if (wanted && !poolsOf(ctx, n).some((p) => p.family === fam)) {
      throw invalid('NL_IPAM_FAMILY_MISMATCH', `network ${n.name} has no IPv${fam} subnet for address ${wanted}`);
    }
  }
  return out;
}

export async function connect(ctx: Ctx, netRef: string, sbRef: string, request: ConnectRequest = {}): Promise<EndpointRecord> {
  let req = request;
  const n = ctx.state.network(netRef);
  const sb = ctx.state.sandbox(sbRef);
  checkConnectable(ctx, n, sb);
  const aliases = [...new Set(req.aliases ?? [])];
  checkAliases(aliases);
  checkDnsServers('--dns', req.dns);
  if (req.macAddress) req = { ...req, macAddress: parseMac(req.macAddress) };
  const id = newId();
  // A cluster network: the address is taken cluster-wide first (a store transaction), and given
  // back if anything below fails before the endpoint is recorded.
  const member = memberOf(ctx, n);
  const clusterIp = await member?.allocate(netInfo(ctx, n), id, req.ipv4Address || undefined);
  if (clusterIp) req = { ...req, ipv4Address: clusterIp };
  try {
    return await connectWith(ctx, n, sb, id, req, aliases);
  } catch (err) {
    if (clusterIp) await rollback(ctx.log, 'connect: cluster address not given back', [() => member!.release(n.id, clusterIp)]);
    throw err;
  }
}

/** connect, once the address is decided: plan, record, plumb, announce. */
async function connectWith(ctx: Ctx, n: NetworkRecord, sb: SandboxRecord, id: string, req: ConnectRequest, aliases: string[]): Promise<EndpointRecord> {
  const addrs = planAddresses(ctx, n, id, req);
  const ports = req.publish?.length ? await resolvePorts(ctx, n, req.publish, addrs) : [];
  const mine = ctx.state.endpointsOf({ sandbox: sb.id });
  const ep: EndpointRecord = {
    id,
    network: n.id,
    sandbox: sb.id,
    ifname: nextIfname(
      mine.map((e) => e.ifname),
      handleOf(ctx, n).ifnamePrefix,
    ),
    mac: req.macAddress ?? (addrs.ipv4 ? macFromIPv4(addrs.ipv4.ip) : randomMac()),
    ...addrs,
    aliases,
    // The first network that can route out gives the sandbox its default route (Docker's rule).
    defaultRoute: !n.internal && !mine.some((e) => e.defaultRoute),
    ...(req.dns?.length ? { dns: [...req.dns] } : {}),
    ...(ports.length ? { ports } : {}),
    created: nowIso(),
    state: 'creating',
  };
  const ops: TxnOp[] = [put(key.ep(id), ep)];
  const compares: Compare[] = [];
  const reserved: [string, string][] = [];
  for (const p of poolsOf(ctx, n)) {
    const ip = (p.family === 4 ? ep.ipv4 : ep.ipv6)?.ip;
    if (!ip) continue;
    // The address and the rotation cursor it moves, in the one transaction (one fdatasync).
    const w = joinOps([ctx.ipam.allocateOps(p.id, ip, id), ctx.ipam.allocateCursorOps(p.id, ip)]);
    ops.push(...w.ops);
    compares.push(...w.compares);
    reserved.push([p.id, ip]);
  }
  // Not flushed: "ready" below is, and takes this with it (a power cut that loses this mark loses
  // the veth it is about as well).
  await ctx.state.commit(ops, compares, { sync: false });
  for (const [pool, ip] of reserved) ctx.ipam.allocate(pool, ip, id);
  failpoint('connect:recorded');

  const log = opLog(ctx, { op: 'connect', network: n.name, sandbox: sb.name, endpoint: id.slice(0, 12) });
  try {
    await netVerbs.join(ctx, n, ep);
  } catch (err) {
    await rollback(log, 'connect: rollback step failed', [async () => netVerbs.leave(ctx, n, ep)]);
    await forgetEndpoint(ctx, ep);
    await rollback(log, 'connect: rollback step failed', [() => withdraw(ctx, ep)]);
    throw wrap(err, `connect sandbox "${sb.name}" to network "${n.name}"`);
  }
  failpoint('connect:joined');
  const ready: EndpointRecord = { ...ep, state: 'ready' };
  await ctx.state.commit([put(key.ep(id), ready)]);
  endpointUp(ctx, ready);
  await announce(ctx, ready).catch((err: unknown) =>
    ctx.log.warn({ err: String(err) }, 'cluster: endpoint not announced yet (store unreachable?); retried on resync'),
  );
  log.info({ ifname: ep.ifname, ipv4: ep.ipv4, ipv6: ep.ipv6 }, 'sandbox connected');
  return ready;
}

/** Drops an endpoint's record and address reservations (the kernel side is already gone). */
export async function forgetEndpoint(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  const n = ctx.state.networks.get(ep.network);
  const ops: TxnOp[] = [del(key.ep(ep.id))];
  const released: [string, string][] = [];
  for (const poolId of n?.pools ?? []) {
    for (const a of ctx.ipam.allocations(poolId)) {
      if (a.owner !== ep.id) continue;
      ops.push(...ctx.ipam.releaseOps(poolId, a.ip).ops);
      released.push([poolId, a.ip]);
    }
  }
  await ctx.state.commit(ops);
  for (const [pool, ip] of released) ctx.ipam.release(pool, ip);
  await saveCursors(
    ctx,
    released.map(([pool]) => pool),
  );
  endpointDown(ctx, ep);
}

/** Persists the IPAM's own rotation cursor (allocate and release both may move it), so a
 *  restarted daemon hands out addresses in exactly the order this one would have. */
export async function saveCursors(ctx: Ctx, pools: readonly string[]): Promise<void> {
  const { ops } = ctx.ipam.cursorOps(pools);
  if (ops.length) await ctx.state.commit(ops);
}

/** Marks, tears down, forgets. */
export async function deleteEndpointNow(ctx: Ctx, ep: EndpointRecord): Promise<void> {
  if (ep.state !== 'deleting') await ctx.state.commit([put(key.ep(ep.id), { ...ep, state: 'deleting' })]);
  const n = ctx.state.networks.get(ep.network);
  failpoint('disconnect:marked');
  if (n) await netVerbs.leave(ctx, n, ep);
  failpoint('disconnect:left');
  await withdraw(ctx, ep).catch((err: unknown) =>
    ctx.log.warn({ err: String(err) }, 'cluster: endpoint not withdrawn (store unreachable?); its lease ends it'),
  );
  await forgetEndpoint(ctx, ep);
}

export async function disconnect(ctx: Ctx, netRef: string, sbRef: string, _force = false): Promise<void> {
  const n = ctx.state.network(netRef);
  refuseDockerNetwork(n, 'disconnect containers from');
  const sb = ctx.state.findSandbox(sbRef);
  const ep = ctx.state.endpointsOf({ network: n.id }).find((e) => e.sandbox === (sb?.id ?? sbRef));
  if (!ep) {
    if (n.predefined && handleOf(ctx, n).caps.sandboxMode) {
      throw invalid('NL_HOST_MODE', 'sandbox cannot be disconnected from host network or connected to host network');
    }
    // Docker: an unknown container is 404, a known one that is not connected is not.
    if (!sb) throw notFound('NL_SANDBOX_NOT_FOUND', `no such sandbox: ${sbRef}`);
    throw conflict('NL_NOT_CONNECTED', `sandbox ${sbRef} is not connected to network ${n.name}`);
  }
  await deleteEndpointNow(ctx, ep);
  if (ep.defaultRoute) await moveDefaultRoute(ctx, ep.sandbox);
  opLog(ctx, { op: 'disconnect', network: n.name, sandbox: ctx.state.sandboxName(ep) }).info('sandbox disconnected');
}

/** Docker's rule: when the network that gave a sandbox its default route goes, the next network
 *  (in connection order) that can route out gives it instead. `sandbox` is the sandbox's id. */
export async function moveDefaultRoute(ctx: Ctx, sandbox: string): Promise<void> {
  const next = ctx.state.endpointsOf({ sandbox }).find((e) => e.state === 'ready' && !ctx.state.networks.get(e.network)?.internal);
  const n = next && ctx.state.networks.get(next.network);
  if (!next || !n) return;
  const moved: EndpointRecord = { ...next, defaultRoute: true };
  await ctx.state.commit([put(key.ep(next.id), moved)]);
  // join is idempotent: the veth exists, so this only (re)applies addresses and the default route.
  // The disconnect itself has happened: a failure here is logged (and redone by reconcile), not returned.
  await netVerbs
    .join(ctx, n, moved)
    .catch((err: unknown) => ctx.log.error({ sandbox: ctx.state.sandboxName(moved), network: n.name, err: String(err) }, 'default route not moved'));
}
