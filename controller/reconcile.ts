// After a restart or a crash: make the kernel match the records, and the records whole.
//   creating  -> roll back (the request never returned success)
//   deleting  -> finish
//   ready     -> re-apply (idempotent driver verbs recreate whatever is missing)
// then delete every link tagged as this instance's that no record explains.
import type { Logger } from '../common/log.js';
import { errorFields, logFailures } from '../common/errors.js';
import { handleOf, netInfo, netVerbs, type Ctx } from './context.js';
import { deleteEndpointNow, forgetEndpoint, moveDefaultRoute } from './endpoints.js';
import { deleteNetworkNow, forgetNetwork } from './networks.js';
import { deleteSandboxNow, ensureSandbox } from './sandboxes.js';
import type { NetworkRecord } from './records.js';
import { restoreDriver } from './firewall.js';
import { isPlumbed } from './attachment.js';

export interface ReconcileReport {
  rolledBack: string[];
  finished: string[];
  repaired: string[];
  orphansRemoved: string[];
  errors: string[];
}

async function attempt(report: ReconcileReport, log: Logger, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    report.errors.push(msg);
    log.error(errorFields(err), msg);
  }
}

export async function reconcile(ctx: Ctx, tagPrefix: string): Promise<ReconcileReport> {
  const report: ReconcileReport = { rolledBack: [], finished: [], repaired: [], orphansRemoved: [], errors: [] };
  const { state, log } = ctx;
  const nets = () => [...state.networks.values()];

  // Global driver state (firewall chains) first, from the networks that are meant to exist.
  for (const [name, driver] of ctx.drivers) {
    // In creation order, so the rebuilt chains read exactly as the incremental ones did.
    await attempt(report, log, `restore ${name}`, () => restoreDriver(ctx, name, driver));
  }

  // After a salvage a record's state may be older than the kernel: rolling it back could tear
  // down what a lost record explained. Doctor lists such records; doctor --fix finishes them.
  const unfinished = <T extends { state: string }>(xs: Iterable<T>): T[] => (ctx.keepUnexplained ? [] : [...xs].filter((x) => x.state !== 'ready'));
  for (const ep of unfinished(state.endpoints.values())) {
    await attempt(report, log, `endpoint ${ep.id.slice(0, 12)}`, async () => {
      await deleteEndpointNow(ctx, ep).catch(
        (e: unknown) => (logFailures(log, e, `endpoint ${ep.id.slice(0, 12)}: teardown incomplete, record dropped`), forgetEndpoint(ctx, ep)),
      );
      (ep.state === 'creating' ? report.rolledBack : report.finished).push(`endpoint ${state.sandboxName(ep)}/${ep.ifname}`);
    });
  }
  // Namespaces of their own first: a container:<x> sandbox is a bind mount of x's.
  const byMode = [...state.sandboxes.values()].sort((a, b) => Number(a.mode.kind === 'container') - Number(b.mode.kind === 'container'));
  for (const sb of byMode) {
    if (sb.state === 'ready' || ctx.keepUnexplained) {
      await attempt(report, log, `sandbox ${sb.name}`, async () => {
        if (await ensureSandbox(ctx, sb)) report.repaired.push(`sandbox ${sb.name}`);
      });
      continue;
    }
    await attempt(report, log, `sandbox ${sb.name}`, async () => {
      await deleteSandboxNow(ctx, sb);
      (sb.state === 'creating' ? report.rolledBack : report.finished).push(`sandbox ${sb.name}`);
    });
  }
  for (const n of unfinished(nets())) {
    await attempt(report, log, `network ${n.name}`, async () => {
      await deleteNetworkNow(ctx, n).catch(
        (e: unknown) => (logFailures(log, e, `network ${n.name}: teardown incomplete, record dropped`), forgetNetwork(ctx, n)),
      );
      (n.state === 'creating' ? report.rolledBack : report.finished).push(`network ${n.name}`);
    });
  }
  for (const n of nets()) {
    await attempt(report, log, `network ${n.name}`, async () => netVerbs.create(ctx, n));
  }
  for (const ep of [...state.endpoints.values()]) {
    const n = state.networks.get(ep.network);
    if (!n || !isPlumbed(ep)) continue;
    await attempt(report, log, `endpoint ${state.sandboxName(ep)}/${ep.ifname}`, async () => netVerbs.join(ctx, n, ep));
  }
  // A crash between a disconnect and the default route's move leaves a sandbox without one.
  for (const sb of state.sandboxes.values()) {
    if (sb.state !== 'ready' || state.endpointsOf({ sandbox: sb.id }).some((e) => e.defaultRoute)) continue;
    await attempt(report, log, `default route of ${sb.name}`, () => moveDefaultRoute(ctx, sb.id));
  }
  // After a salvage the records may have lost what explains a link: doctor lists it instead.
  if (!ctx.keepUnexplained) await removeOrphans(ctx, tagPrefix, nets(), report);
  return report;
}

/** Host links the records explain (every driver's bridges and veths). */
export function expectedLinks(ctx: Ctx, nets: readonly NetworkRecord[]): Set<string> {
  const expected = new Set<string>();
  for (const n of nets) {
    const eps = ctx.state.endpointsOf({ network: n.id }).map((e) => e.id);
    for (const l of handleOf(ctx, n).hostLinks(netInfo(ctx, n), eps)) expected.add(l);
  }
  return expected;
}

/** Links tagged as this instance's that no record explains (a retired link the reaper is about
 *  to delete is explained by it; after a restart none is, and the sweep deletes it). */
export async function orphanLinks(ctx: Ctx, tagPrefix: string, nets: readonly NetworkRecord[]): Promise<string[]> {
  const expected = expectedLinks(ctx, nets);
  const pending = ctx.reaping ?? new Set();
  return (await ctx.env.sys.host.links()).filter((l) => l.alias?.startsWith(tagPrefix) && !expected.has(l.name) && !pending.has(l.name)).map((l) => l.name);
}

async function removeOrphans(ctx: Ctx, tagPrefix: string, nets: readonly NetworkRecord[], report: ReconcileReport): Promise<void> {
  for (const name of await orphanLinks(ctx, tagPrefix, nets)) {
    await attempt(report, ctx.log, `orphan link ${name}`, async () => {
      await ctx.env.sys.host.delLink(name);
      report.orphansRemoved.push(`link ${name}`);
    });
  }
}
