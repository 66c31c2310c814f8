// Sandboxes: named network namespaces that play the container.
import { refuseConfigOnly } from './configs.js';
import { conflict, invalid, notFound, wrap } from '../common/errors.js';
import { parseContainerMode } from '../drivers/container/index.js';
import { failpoint } from '../common/failpoint.js';
import { del, put, absent } from '../store/types.js';
import type { NsRef } from '../system/types.js';
import { opLog, type Ctx } from './context.js';
import { connect, deleteEndpointNow, type ConnectRequest } from './endpoints.js';
import { checkName, newId, nowIso } from './ids.js';
import { key, type SandboxMode, type SandboxRecord } from './records.js';
import { checkDnsServers, sandboxFiles, sandboxFilesGone } from './names.js';

export interface CreateSandboxRequest extends ConnectRequest {
  readonly name: string;
  /** A network name, "host", "none", "container:<sandbox>", or undefined for the default bridge. */
  readonly network?: string;
  readonly dnsSearch?: readonly string[];
  readonly dnsOptions?: readonly string[];
}

function modeFor(ctx: Ctx, network: string | undefined): { mode: SandboxMode; join?: string } {
  const target = network === undefined ? undefined : parseContainerMode(network);
  if (target !== undefined) {
    const t = ctx.state.sandbox(target);
    // Sharing a sandbox that itself shares another: share the original namespace.
    return { mode: { kind: 'container', target: t.mode.kind === 'container' ? t.mode.target : t.name } };
  }
  const n = ctx.state.network(network ?? 'bridge');
  refuseConfigOnly(n);
  if (n.driver === 'host') return { mode: { kind: 'host' } };
  if (n.driver === 'null') return { mode: { kind: 'none' } };
  return { mode: { kind: 'own' }, join: n.id };
}

/** Creates the sandbox's /run/netns entry for its mode. */
export async function makeNamespace(ctx: Ctx, sb: SandboxRecord): Promise<void> {
  const netns = ctx.env.sys.netns;
  switch (sb.mode.kind) {
    case 'own':
    case 'none': {
      try {
        await netns.add(sb.name);
      } catch (err) {
        // "File exists": someone else's namespace appeared meanwhile; anything else may have
        // left ours half-made.
        if (!/exists/i.test(String(err))) await netns.del(sb.name).catch(() => undefined);
        throw err;
      }
      try {
        const h = await ctx.env.sys.open({ kind: 'named', name: sb.name });
        try {
          await h.setUp('lo');
        } finally {
          h.close();
        }
      } catch (err) {
        await netns.del(sb.name).catch(() => undefined); // only what this call created
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
  checkDnsServers('--dns', req.dns);
  for (const d of req.dnsSearch ?? []) {
    if (!/^[A-Za-z0-9_.-]{1,253}$/.test(d)) throw invalid('NL_BAD_DNS', `invalid --dns-search "${d}": expected a domain name`);
  }
  for (const o of req.dnsOptions ?? []) {
    if (!/^[a-z][a-z0-9_-]*(:\d+)?$/.test(o)) throw invalid('NL_BAD_DNS', `invalid --dns-option "${o}": expected a resolv.conf option such as ndots:2`);
  }
  const sb: SandboxRecord = {
    id: newId(),
    name: req.name,
    mode,
    ...(req.dns?.length ? { dns: [...req.dns] } : {}),
    ...(req.dnsSearch?.length ? { dnsSearch: [...req.dnsSearch] } : {}),
    ...(req.dnsOptions?.length ? { dnsOptions: [...req.dnsOptions] } : {}),
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
      await connect(ctx, join, sb.name, req);
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

/** Disconnects every endpoint, removes the namespace entry, forgets the record. */
export async function deleteSandboxNow(ctx: Ctx, sb: SandboxRecord): Promise<void> {
  for (const ep of ctx.state.endpointsOf({ sandbox: sb.name })) await deleteEndpointNow(ctx, ep);
  if (sb.state !== 'deleting') await ctx.state.commit([put(key.sb(sb.name), { ...sb, state: 'deleting' })]);
  await ctx.env.sys.netns.del(sb.name);
  sandboxFilesGone(ctx, sb.name);
  await ctx.state.commit([del(key.sb(sb.name))]);
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
