// The fake's firewall: an interpreter of iptables-restore --noflush input over in-memory tables.
// Like iptables-nft, one restore is one transaction: any failing line (a -D of a missing rule, a
// rule in an undeclared chain, a jump to a chain that does not exist) leaves every table as it was.
// Declaring a user chain (":NAME - [0:0]") creates or flushes it; declaring a built-in chain only
// sets its policy, as --noflush does.
import type { Firewall, Table } from '../types.js';
import { obj, runError, stepOf } from '../errors.js';

interface Chain {
  policy: string; // ACCEPT/DROP for built-in chains, '-' for user chains
  rules: string[];
}

type Tables = Record<Table, Map<string, Chain>>;

export type FirewallSnapshot = Record<'ipv4' | 'ipv6', Record<Table, Record<string, Chain>>>;

const BUILTIN: Readonly<Record<Table, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'MASQUERADE', 'DNAT', 'SNAT', 'LOG', 'MARK', 'REDIRECT']);

function emptyTables(): Tables {
  const t = (table: Table): Map<string, Chain> => new Map(BUILTIN[table].map((c) => [c, { policy: 'ACCEPT', rules: [] }]));
  return { filter: t('filter'), nat: t('nat') };
}

function cloneTables(t: Tables): Tables {
  const c = (m: Map<string, Chain>): Map<string, Chain> => new Map([...m].map(([k, v]) => [k, { policy: v.policy, rules: [...v.rules] }]));
  return { filter: c(t.filter), nat: c(t.nat) };
}

/** Splits a rule into words the way a shell would for double-quoted comments. */
const words = (s: string): string[] => s.match(/"[^"]*"|\S+/g) ?? [];

function targetOf(spec: readonly string[]): string | undefined {
  const j = spec.indexOf('-j');
  return j >= 0 ? spec[j + 1] : undefined;
}

function checkTarget(chains: Map<string, Chain>, spec: readonly string[]): void {
  const target = targetOf(spec);
  if (target !== undefined && !TARGETS.has(target) && !chains.has(target)) {
    throw new Error(`Couldn't load target \`${target}': No such file or directory`);
  }
}

/** One command line (-A, -I, -D, -N, -X, -F) against one table. */
function command(chains: Map<string, Chain>, table: Table, w: string[]): void {
  const [op, name, ...spec] = w;
  const chain = name === undefined ? undefined : chains.get(name);
  const need = (): Chain => {
    if (!chain) throw new Error(`chain ${name ?? '(none)'} does not exist in table ${table}`);
    return chain;
  };
  switch (op) {
    case '-A':
      checkTarget(chains, spec);
      need().rules.push(spec.join(' '));
      return;
    case '-I': {
      const at = /^\d+$/.test(spec[0] ?? '') ? Number(spec.shift()) : 1;
      checkTarget(chains, spec);
      need().rules.splice(at - 1, 0, spec.join(' '));
      return;
    }
    case '-D': {
      const c = need();
      const i = spec.length === 1 && /^\d+$/.test(spec[0]) ? Number(spec[0]) - 1 : c.rules.indexOf(spec.join(' '));
      if (i < 0 || i >= c.rules.length) throw new Error(`-D ${name} ${spec.join(' ')}: Bad rule (does a matching rule exist in that chain?)`);
      c.rules.splice(i, 1);
      return;
    }
    case '-N':
      if (chain) throw new Error(`chain ${name} already exists`);
      chains.set(name, { policy: '-', rules: [] });
      return;
    case '-X':
      if (need().policy !== '-') throw new Error(`cannot delete built-in chain ${name}`);
      if (chain!.rules.length || [...chains.values()].some((c) => c.rules.some((r) => targetOf(words(r)) === name))) {
        throw new Error(`chain ${name} is not empty or still referenced`);
      }
      chains.delete(name);
      return;
    case '-F':
      for (const c of name === undefined ? chains.values() : [need()]) c.rules = [];
      return;
    default:
      throw new Error(`unknown command "${op}"`);
  }
}

/** Applies a whole iptables-restore --noflush input to `t`, or throws at the first bad line. */
function applyRestore(t: Tables, text: string): void {
  let table: Table | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    try {
      if (line.startsWith('*')) {
        if (table) throw new Error('COMMIT expected');
        const name = line.slice(1);
        if (name !== 'filter' && name !== 'nat') throw new Error(`table "${name}" does not exist`);
        table = name;
      } else if (!table) {
        throw new Error('no table selected: expected a "*table" line');
      } else if (line === 'COMMIT') {
        table = undefined;
      } else if (line.startsWith(':')) {
        const [name, policy] = words(line.slice(1));
        const existing = t[table].get(name);
        if (existing && existing.policy !== '-') existing.policy = policy === '-' ? existing.policy : policy;
        else t[table].set(name, { policy: '-', rules: [] });
      } else {
        command(t[table], table, words(line));
      }
    } catch (err) {
      throw new Error(`iptables-restore: line ${i + 1} failed: ${(err as Error).message}`);
    }
  });
  if (table) throw new Error(`iptables-restore: COMMIT expected at line ${lines.length}`);
}

export class FakeFirewall implements Firewall {
  private readonly fam: Record<4 | 6, Tables> = { 4: emptyTables(), 6: emptyTables() };

  /** `call` records the call and throws an armed failure (FakeSystem.failNext, failAfter). */
  constructor(private readonly call: <T>(method: string, detail: string, effect: () => T, object?: string) => T) {}

  /** Runs `effect` as the real firewall runs `file args`: a refusal becomes the same
   *  SystemError the real program's exit 1 with that error line would. */
  private program<T>(method: string, detail: string, object: string, file: string, args: readonly string[], effect: () => T): T {
    return this.call(
      method,
      detail,
      () => {
        try {
          return effect();
        } catch (err) {
          throw runError(file, args, { stdout: '', stderr: (err as Error).message, exitCode: 1 }, stepOf(method), object);
        }
      },
      object,
    );
  }

  async restore(family: 4 | 6, text: string): Promise<void> {
    const file = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
    this.program('restore', `ipv${family}`, obj.fw(family), file, ['-w', '--noflush'], () => {
      const work = cloneTables(this.fam[family]);
      applyRestore(work, text);
      this.fam[family] = work;
    });
  }

  async save(family: 4 | 6, table: Table): Promise<string> {
    return this.call(
      'save',
      `ipv${family} ${table}`,
      () => {
        const chains = this.fam[family][table];
        const order = [...BUILTIN[table], ...[...chains.keys()].filter((c) => !BUILTIN[table].includes(c)).sort()];
        const out = [`*${table}`];
        for (const c of order) out.push(`:${c} ${chains.get(c)!.policy} [0:0]`);
        for (const c of order) for (const r of chains.get(c)!.rules) out.push(`-A ${c} ${r}`);
        out.push('COMMIT', '');
        return out.join('\n');
      },
      obj.fw(family, table),
    );
  }

  async ensureJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void> {
    const args = ['-w', '-t', table, '-I', chain, '1', '-j', target];
    const file = family === 4 ? 'iptables' : 'ip6tables';
    this.program('ensureJump', `ipv${family} ${table} ${chain} -> ${target}`, obj.fw(family, table, chain), file, args, () => {
      const chains = this.fam[family][table];
      const c = chains.get(chain);
      if (!c) throw new Error(`${file}: No chain/target/match by that name.`);
      if (c.rules.includes(`-j ${target}`)) return;
      checkTarget(chains, ['-j', target]);
      c.rules.unshift(`-j ${target}`);
    });
  }

  async ensureChain(family: 4 | 6, table: Table, chain: string): Promise<void> {
    this.call(
      'ensureChain',
      `ipv${family} ${table} ${chain}`,
      () => {
        const chains = this.fam[family][table];
        if (!chains.has(chain)) chains.set(chain, { policy: '-', rules: [] });
      },
      obj.fw(family, table, chain),
    );
  }

  async removeJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void> {
    this.call(
      'removeJump',
      `ipv${family} ${table} ${chain} -> ${target}`,
      () => this.remove(family, table, chain, ['-j', target]),
      obj.fw(family, table, chain),
    );
  }

  async deleteRule(family: 4 | 6, table: Table, chain: string, spec: readonly string[]): Promise<void> {
    this.call('deleteRule', `ipv${family} ${table} ${chain} ${spec.join(' ')}`, () => this.remove(family, table, chain, spec), obj.fw(family, table, chain));
  }

  private remove(family: 4 | 6, table: Table, chain: string, spec: readonly string[]): void {
    const c = this.fam[family][table].get(chain);
    if (c) c.rules = c.rules.filter((r) => r !== spec.join(' '));
  }

  /** Every chain with its policy and rules, per family and table. */
  snapshot(): FirewallSnapshot {
    const tables = (t: Tables): Record<Table, Record<string, Chain>> => ({
      filter: Object.fromEntries([...t.filter].sort(([a], [b]) => a.localeCompare(b))),
      nat: Object.fromEntries([...t.nat].sort(([a], [b]) => a.localeCompare(b))),
    });
    return structuredClone({ ipv4: tables(this.fam[4]), ipv6: tables(this.fam[6]) });
  }
}
