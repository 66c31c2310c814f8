// `netloom doctor`: what the records say against what the kernel has — namespaces, links,
// addresses, routes, firewall rules and published ports — as a list of findings (empty when
// they agree). Kernel objects no record explains are "unexplained". `--fix` is reconcile
// (re-apply every record, drop the unexplained, rebuild the firewall), then a second look.
import type { Finding } from '../drivers/driver.js';
import { driverNetworks, driverOf, type Ctx } from './context.js';
import { firewallDiff } from './firewall.js';
import { orphanLinks } from './reconcile.js';
import { checkClusterPeers } from './clustersync.js';

export async function diagnose(ctx: Ctx, tagPrefix: string): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const sb of ctx.state.sandboxes.values()) {
    if (sb.state === 'ready' && sb.mode.kind !== 'host' && !(await ctx.env.sys.netns.exists(sb.name))) {
      out.push({ kind: 'namespace', object: `sandbox ${sb.name}`, problem: `/run/netns/${sb.name} is missing` });
    }
  }
  for (const name of ctx.drivers.keys()) {
    for (const dn of driverNetworks(ctx, name)) out.push(...(await dn.handle.check(ctx.env, dn.net, dn.endpoints)));
  }
  // A published port's rule is a "port" finding: the firewaller that wrote the line says which.
  const isPortRule = (line: string): boolean => [...ctx.drivers.values()].some((d) => d.firewall?.isPortLine(line));
  for (const d of await firewallDiff(ctx)) {
    const where = `${d.family === 4 ? 'iptables' : 'ip6tables'} -t ${d.table}`;
    for (const l of d.missing) out.push({ kind: isPortRule(l) ? 'port' : 'rule', object: `${where} ${l}`, problem: 'missing' });
    for (const l of d.extra) out.push({ kind: isPortRule(l) ? 'port' : 'rule', object: `${where} ${l}`, problem: 'unexplained: not in the records' });
    for (const c of d.misordered) out.push({ kind: 'rule', object: `${where} chain ${c}`, problem: 'rules out of order' });
  }
  out.push(...(await checkClusterPeers(ctx)));
  const nets = [...ctx.state.networks.values()];
  for (const l of await orphanLinks(ctx, tagPrefix, nets))
    out.push({ kind: 'orphan', object: `link ${l}`, problem: "unexplained: tagged as netloom's but no record explains it" });
  if (ctx.keepUnexplained) {
    const left = [
      ...[...ctx.state.networks.values()].map((n) => ['network', n.name, n.state]),
      ...[...ctx.state.endpoints.values()].map((e) => ['endpoint', `${ctx.state.sandboxName(e)}/${e.ifname}`, e.state]),
      ...[...ctx.state.sandboxes.values()].map((s) => ['sandbox', s.name, s.state]),
    ];
    for (const [what, name, st] of left.filter((x) => x[2] !== 'ready')) {
      out.push({ kind: 'record', object: `${what} ${name}`, problem: `unexplained: left "${st}" by a salvage (doctor --fix finishes it)` });
    }
  }
  // Every network's driver must exist: a record of an unknown driver is itself a finding.
  for (const n of nets) {
    try {
      driverOf(ctx, n);
    } catch (err) {
      out.push({ kind: 'link', object: `network ${n.name}`, problem: String(err) });
    }
  }
  return out;
}
