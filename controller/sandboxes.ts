// Sandboxes: named network namespaces that play the container.
import { refuseConfigOnly } from './configs.js';
import { conflict, errnoOf, invalid, notFound, rollback, wrap } from '../common/errors.js';
import { parseContainerMode } from './containermode.js';
import { failpoint } from '../common/failpoint.js';
import { del, put, absent } from '../store/types.js';
import type { NsRef } from '../system/types.js';
import { handleOf, opLog, type Ctx } from './context.js';
import { connect, deleteEndpointNow, type ConnectRequest } from './endpoints.js';
import { checkName, newId, nowIso } from './ids.js';
import { key, type SandboxMode, type SandboxRecord } from './records.js';
import { checkDnsServers, sandboxFiles, sandboxFilesGone } from './names.js';
import { parsePublish } from '../common/ports.js';
import { restoreFirewall } from './firewall.js';
import { HOST_GATEWAY, checkHostname, parseExpose, parseExtraHost, parseLink, publishAllSpecs, type ExtraHost, type SandboxLink } from './sandboxopts.js';

export interface CreateSandboxRequest extends ConnectRequest {
  readonly name: string;
  /** A network name, "host", "none", "container:<sandbox>", or undefined for the default bridge. */
  readonly network?: string;
  readonly dnsSearch?: readonly string[];
  readonly dnsOptions?: readonly string[];
  readonly hostname?: string;
  readonly domainname?: string;
  /** NAME[:ALIAS] */
  readonly links?: readonly string[];
  /** NAME:IP, IP may be host-gateway */
  readonly extraHosts?: readonly string[];
  /** PORT[-END][/PROTO] */
  readonly expose?: readonly string[];
  /** -P: publish every exposed port on a free host port. */
  readonly publishAll?: boolean;
}

/** --link: the default bridge only, to a ready sandbox on it (Docker's legacy links; on other
 *  networks names come from the embedded DNS). */
function checkLinks(ctx: Ctx, req: CreateSandboxRequest, join: string | undefined): SandboxLink[] {
  const links = (req.links ?? []).map(parseLink);
  if (!links.length) return links;
  const n = join ? ctx.state.networks.get(join) : undefined;
  if (!n || !n.predefined || n.name !== 'bridge') {
    const where = req.network ?? 'bridge';
    throw invalid(
      'NL_LINK_NOT_DEFAULT_BRIDGE',
      `--link works only on the default bridge network, not network "${where}": on a user-defined network, sandboxes reach each other by name through its DNS`,
    );
  }
  for (const l of links) {
    const t = ctx.state.sandboxes.get(l.name);
    if (!t || t.state !== 'ready') throw invalid('NL_LINK_NO_SANDBOX', `invalid --link "${l.name}": no such sandbox ${l.name}`);
    if (t.name === req.name) throw invalid('NL_BAD_LINK', `invalid --link "${l.name}": a sandbox cannot link to itself`);
    if (!ctx.state.endpointsOf({ network: n.id, sandbox: t.id }).some((e) => e.state === 'ready' && e.ipv4)) {
      throw invalid('NL_LINK_NOT_DEFAULT_BRIDGE', `invalid --link "${l.name}": sandbox ${l.name} is not on the default bridge network`);
    }
  }
  return links;
}

/** host-gateway is the default bridge's gateway (Docker's host-gateway-ip default), else the
 *  gateway of the network the sandbox joins. */
function resolveExtraHosts(ctx: Ctx, specs: readonly string[], join: string | undefined): ExtraHost[] {
  const hosts = specs.map(parseExtraHost);
  if (!hosts.some((h) => h.ip === HOST_GATEWAY)) return hosts;
  const gw = (id: string | undefined) => {
    const n = id ? ctx.state.networks.get(id) : undefined;
    return n?.pools.map((p) => ctx.ipam.pool(p)).find((p) => p?.family === 4)?.gateway;
  };
  const bridge = [...ctx.state.networks.values()].find((n) => n.predefined && n.name === 'bridge');
  const ip = gw(bridge?.id) ?? gw(join);
  if (!ip)
    throw invalid('NL_BAD_ADD_HOST', '--add-host NAME:host-gateway needs a gateway: this daemon has no default bridge and the sandbox joins no IPv4 network');
  return hosts.map((h) => (h.ip === HOST_GATEWAY ? { ...h, ip } : h));
}

/** Everything `docker run` checks before creating: each bad value named, nothing changed. */
function checkCreate(ctx: Ctx, req: CreateSandboxRequest, mode: SandboxMode, join: string | undefined): Partial<SandboxRecord> {
  checkDnsServers('--dns', req.dns);
  for (const d of req.dnsSearch ?? []) {
    if (!/^[A-Za-z0-9_.-]{1,253}$/.test(d)) throw invalid('NL_BAD_DNS', `invalid --dns-search "${d}": expected a domain name`);
  }
  for (const o of req.dnsOptions ?? []) {
    if (!/^[a-z][a-z0-9_-]*(:\d+)?$/.test(o)) throw invalid('NL_BAD_DNS', `invalid --dns-option "${o}": expected a resolv.conf option such as ndots:2`);
  }
  if (req.hostname) checkHostname('--hostname', req.hostname);
  if (req.domainname) checkHostname('--domainname', req.domainname);
  if ((req.hostname || req.domainname) && (mode.kind === 'host' || mode.kind === 'container')) {
    throw invalid(
      'NL_BAD_NETWORK_MODE',
      `conflicting options: --hostname and --domainname cannot be used with network mode "${req.network}" (it shares another namespace's names)`,
    );
  }
  if (!join && (req.macAddress || req.publishAll || req.publish?.length)) {
    throw invalid('NL_BAD_NETWORK_MODE', `--mac-address, --publish and --publish-all need a network to connect to, not network mode "${req.network}"`);
  }
  const expose = (req.expose ?? []).map(parseExpose);
  const links = checkLinks(ctx, req, join);
  const extraHosts = resolveExtraHosts(ctx, req.extraHosts ?? [], join);
  return {
    ...(req.dns?.length ? { dns: [...req.dns] } : {}),
    ...(req.dnsSearch?.length ? { dnsSearch: [...req.dnsSearch] } : {}),
    ...(req.dnsOptions?.length ? { dnsOptions: [...req.dnsOptions] } : {}),
    ...(req.hostname ? { hostname: req.hostname } : {}),
    ...(req.domainname ? { domainname: req.domainname } : {}),
    ...(extraHosts.length ? { extraHosts } : {}),
    ...(links.length ? { links } : {}),
    ...(expose.length ? { expose } : {}),
    ...(req.publishAll ? { publishAll: true } : {}),
  };
}

/** The publish specs of the sandbox's first endpoint: -p, then -P for each exposed port. */
function publishSpecs(req: CreateSandboxRequest, extra: Partial<SandboxRecord>): string[] | undefined {
  if (!extra.publishAll || !extra.expose) return req.publish ? [...req.publish] : undefined;
  const explicit = (req.publish ?? []).map(parsePublish);
  return [...(req.publish ?? []), ...publishAllSpecs(extra.expose, explicit)];
}

function modeFor(ctx: Ctx, network: string | undefined): { mode: SandboxMode; join?: string } {
  const target = network === undefined ? undefined : parseContainerMode(network);
  if (target !== undefined) {
    const t = ctx.state.sandbox(target);
    // Sharing a sandbox that itself shares another: share the original namespace.
    return { mode: { kind: 'container', target: t.mode.kind === 'container' ? t.mode.target : t.name } };
  }
  if (network === undefined && ![...ctx.state.networks.values()].some((x) => x.predefined && x.name === 'bridge')) {
    throw invalid('NL_BAD_NETWORK_MODE', 'this daemon has no default bridge (netloomd --bridge none): give --network');
  }
  const n = ctx.state.network(network ?? 'bridge');
  refuseConfigOnly(n);
  const sandboxMode = handleOf(ctx, n).caps.sandboxMode;
  if (sandboxMode) return { mode: { kind: sandboxMode } };
  return { mode: { kind: 'own' }, join: n.id };
}

/** Creates the sandbox's /run/netns entry for its mode. */
export async function makeNamespace(ctx: Ctx, sb: SandboxRecord): Promise<void> {
  const netns = ctx.env.sys.netns;
  const undoing = `sandbox create "${sb.name}": rollback step failed`;
  switch (sb.mode.kind) {
    case 'own':
    case 'none': {
      if (sb.hostname) {
        try {
          await ctx.env.sys.uts.add(sb.name, sb.hostname, sb.domainname ?? '');
        } catch (err) {
          await rollback(ctx.log, undoing, [() => ctx.env.sys.uts.del(sb.name)]); // it may have failed after making it
          throw err;
        }
      }
      try {
        // lo is set up inside while the namespace is made (no netlink socket opened there for it).
        await netns.add(sb.name, { loUp: true });
      } catch (err) {
        // EEXIST: someone else's namespace appeared meanwhile; anything else may have left ours
        // half-made.
        await rollback(ctx.log, undoing, [
          async () => (errnoOf(err) === 'EEXIST' ? undefined : netns.del(sb.name)),
          async () => (sb.hostname ? ctx.env.sys.uts.del(sb.name) : undefined),
        ]);
        throw err;
      }
      return;
    }
    case 'host':
      return netns.alias(sb.name, { kind: 'self' });
    case 'container': {
      const target: NsRef = { kind: 'named', name: sb.mode.target };
      return netns.alias(sb.name, target);
    }
  }
}

export async function createSandbox(ctx: Ctx, req: CreateSandboxRequest): Promise<SandboxRecord> {
  checkName('sandbox', req.name);
  if (ctx.state.sandboxes.has(req.name)) throw conflict('NL_SANDBOX_EXISTS', `sandbox ${req.name} already exists`);
  if (await ctx.env.sys.netns.exists(req.name)) {
    throw conflict('NL_NETNS_EXISTS', `a network namespace named ${req.name} already exists and is not netloom's: choose another name`);
  }
  const { mode, join } = modeFor(ctx, req.network);
  if (!join && (req.ipv4Address || req.ipv6Address || req.aliases?.length)) {
    throw invalid('NL_BAD_NETWORK_MODE', `--ip and --alias need a network to connect to, not network mode "${req.network}"`);
  }
  const extra = checkCreate(ctx, req, mode, join);
  const publish = publishSpecs(req, extra);
  const sb: SandboxRecord = {
    id: newId(),
    name: req.name,
    mode,
    ...extra,
    created: nowIso(),
    state: 'creating',
  };
  await ctx.state.commit([put(key.sb(sb.name), sb)], [absent(key.sb(sb.name))]);
  const log = opLog(ctx, { op: 'sandbox create', sandbox: sb.name });
  failpoint('sandbox:recorded');
  try {
    await makeNamespace(ctx, sb);
    failpoint('sandbox:netns');
  } catch (err) {
    // makeNamespace undoes its own partial work; a namespace someone else made meanwhile is not ours.
    await ctx.state.commit([del(key.sb(sb.name))]);
    throw wrap(err, `create sandbox "${sb.name}"`);
  }
  // Ready only once connected: a crash before that leaves "creating", which reconcile undoes.
  if (join) {
    try {
      await connect(ctx, join, sb.name, { ...req, ...(publish ? { publish } : {}) });
    } catch (err) {
      await deleteSandboxNow(ctx, sb);
      throw err;
    }
  }
  const ready: SandboxRecord = { ...sb, state: 'ready' };
  await ctx.state.commit([put(key.sb(sb.name), ready)]);
  sandboxFiles(ctx, sb.name);
  log.info({ mode: mode.kind }, 'sandbox created');
  return ready;
}

/** Sandboxes that link to this one (--link), which lose its hosts entry and link rules with it. */
const linkers = (ctx: Ctx, name: string): SandboxRecord[] => [...ctx.state.sandboxes.values()].filter((s) => s.links?.some((l) => l.name === name));

/** Disconnects every endpoint, removes the namespace entry, forgets the record. */
export async function deleteSandboxNow(ctx: Ctx, sb: SandboxRecord): Promise<void> {
  for (const ep of ctx.state.endpointsOf({ sandbox: sb.id })) await deleteEndpointNow(ctx, ep);
  if (sb.state !== 'deleting') await ctx.state.commit([put(key.sb(sb.name), { ...sb, state: 'deleting' })]);
  await ctx.env.sys.netns.del(sb.name);
  await ctx.env.sys.uts.del(sb.name);
  sandboxFilesGone(ctx, sb.name);
  await ctx.state.commit([del(key.sb(sb.name))]);
  // A linked sandbox gone: the rules that opened it to its linkers go too (the linkers' own
  // rules left with their endpoints above), and their hosts files forget it.
  const orphaned = linkers(ctx, sb.name);
  if (orphaned.length) {
    await restoreFirewall(ctx);
    for (const s of orphaned) sandboxFiles(ctx, s.name);
  }
}

/** After a restart: a ready sandbox's namespaces (network, and UTS if it has a hostname) are
 *  there; true if one had to be made again. */
export async function ensureSandbox(ctx: Ctx, sb: SandboxRecord): Promise<boolean> {
  const netnsThere = await ctx.env.sys.netns.exists(sb.name);
  const utsThere = !sb.hostname || (await ctx.env.sys.uts.exists(sb.name));
  if (netnsThere && utsThere) return false;
  if (!netnsThere) await makeNamespace(ctx, sb);
  else if (sb.hostname) await ctx.env.sys.uts.add(sb.name, sb.hostname, sb.domainname ?? '');
  return true;
}

export async function removeSandbox(ctx: Ctx, ref: string): Promise<void> {
  const sb = ctx.state.findSandbox(ref);
  if (!sb) throw notFound('NL_SANDBOX_NOT_FOUND', `no such sandbox: ${ref}`);
  const sharing = [...ctx.state.sandboxes.values()].filter((s) => s.mode.kind === 'container' && s.mode.target === sb.name);
  if (sharing.length) {
    throw conflict('NL_SANDBOX_IN_USE', `sandbox ${sb.name} is shared by ${sharing.map((s) => s.name).join(', ')} (container:${sb.name}): remove them first`);
  }
  await deleteSandboxNow(ctx, sb);
  opLog(ctx, { op: 'sandbox rm', sandbox: sb.name }).info('sandbox removed');
}
