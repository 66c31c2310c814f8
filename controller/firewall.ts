// The firewall guard: netloom's rules as the records say versus what the kernel holds, compared
// line by line (rules are written the way iptables-save prints them), and restored whole when
// they differ — after a `iptables -F`, a firewalld reload or a stray -D. Rules of deleted networks
// are not in the records, so they never come back.
import type { Table } from '../system/types.js';
import { driverNetworks, type Ctx } from './context.js';
import type { KeptLines } from '../drivers/driver.js';
import type { LoadedDriver } from '../drivers/handle.js';

export interface RuleDiff {
  readonly family: 4 | 6;
  readonly table: Table;
  /** Lines the records call for that the kernel lacks. */
  readonly missing: string[];
  /** Lines in netloom's chains the records do not explain. */
  readonly extra: string[];
  /** Chains holding the right lines in the wrong order. */
  readonly misordered: string[];
}

const chainOf = (line: string): string => line.split(' ')[1] ?? '';

/** `unordered`: chains where order carries no meaning (the driver's firewaller names them): all
 *  but their first rule compare as a multiset, so ports published in any order agree. */
export function compareLines(
  expected: readonly string[],
  actual: readonly string[],
  unordered: ReadonlySet<string> = new Set(),
): { missing: string[]; extra: string[]; misordered: string[] } {
  const count = (xs: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const e = count(expected);
  const a = count(actual);
  const missing = [...e].flatMap(([l, n]) => Array<string>(Math.max(0, n - (a.get(l) ?? 0))).fill(l));
  const extra = [...a].flatMap(([l, n]) => Array<string>(Math.max(0, n - (e.get(l) ?? 0))).fill(l));
  const misordered: string[] = [];
  if (!missing.length && !extra.length) {
    for (const chain of new Set(expected.map(chainOf))) {
      const ex = expected.filter((l) => chainOf(l) === chain);
      const ac = actual.filter((l) => chainOf(l) === chain);
      const same = unordered.has(chain) ? ex[0] === ac[0] : ex.join('\n') === ac.join('\n');
      if (!same) misordered.push(chain);
    }
  }
  return { missing, extra, misordered };
}

/** Differences per family and table; empty when kernel and records agree. */
export async function firewallDiff(ctx: Ctx): Promise<RuleDiff[]> {
  const out: RuleDiff[] = [];
  for (const [name, driver] of ctx.drivers) out.push(...(await driverDiff(ctx, name, driver)));
  return out;
}

async function driverDiff(ctx: Ctx, name: string, driver: LoadedDriver): Promise<RuleDiff[]> {
  const out: RuleDiff[] = [];
  const fw = driver.firewall;
  if (!fw) return out;
  const nets = driverNetworks(ctx, name);
  const expected = fw.lines(nets);
  for (const family of [4, 6] as const) {
    const hasV6 = nets.some((n) => n.net.pools.some((p) => p.family === 6));
    for (const table of ['filter', 'nat'] as const) {
      let save: string;
      try {
        save = await ctx.env.sys.firewall.save(family, table);
      } catch (err) {
        // A host without ip6tables runs IPv4-only networks; that is not drift.
        if (family === 6 && !hasV6) continue;
        throw err;
      }
      const d = compareLines(expected[family][table], fw.ownLines(save, table), fw.unorderedChains);
      if (d.missing.length || d.extra.length || d.misordered.length) out.push({ family, table, ...d });
    }
  }
  return out;
}

/** Rebuilds one driver's global firewall state from the records (full restore); after a salvage
 *  the lines no record explains are kept as they are. */
export async function restoreDriver(ctx: Ctx, name: string, driver: LoadedDriver): Promise<void> {
  if (!driver.firewall) return;
  let keep: KeptLines | undefined;
  if (ctx.keepUnexplained) {
    keep = {};
    for (const d of await driverDiff(ctx, name, driver)) (keep[d.family] ??= {})[d.table] = d.extra;
  }
  await driver.firewall.restore(ctx.env, driverNetworks(ctx, name), keep);
}

/** Rebuilds every driver's global firewall state from the records (full restore). */
export async function restoreFirewall(ctx: Ctx): Promise<void> {
  for (const [name, driver] of ctx.drivers) await restoreDriver(ctx, name, driver);
}

/** What the guard heals: everything, or after a salvage only what is missing or out of order
 *  (a line no record explains is kept until `netloom doctor --fix`). */
export const needsHeal = (ctx: Ctx, drift: readonly RuleDiff[]): RuleDiff[] =>
  ctx.keepUnexplained ? drift.filter((d) => d.missing.length || d.misordered.length) : [...drift];

export interface GuardStats {
  checks: number;
  heals: number;
  lastHeal?: string;
  lastError?: string;
}
