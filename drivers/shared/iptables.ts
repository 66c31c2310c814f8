// Firewall rules as data, for every driver that writes some: one rule, its iptables-save line,
// and iptables-restore --noflush input that appends, deletes or (declaring chains, so flushing
// them) replaces rules. Pure: system/ applies the text.
import type { Table } from '../../system/types.js';

export interface Rule {
  readonly table: Table;
  readonly chain: string;
  readonly spec: readonly string[];
}

/** One rule as iptables-save prints it: `-A CHAIN spec...`. */
export const ruleLine = (rule: Rule): string => `-A ${rule.chain} ${rule.spec.join(' ')}`;

const line = (verb: '-A' | '-D', rule: Rule): string => `${verb} ${rule.chain} ${rule.spec.join(' ')}`;

/** Restore input: per table (filter, then nat) the chains declared, then the rules. */
export function renderRules(rules: readonly Rule[], verb: '-A' | '-D', declare?: Readonly<Record<Table, readonly string[]>>): string {
  const tables = new Map<Table, string[]>([
    ['filter', (declare?.filter ?? []).map((c) => `:${c} - [0:0]`)],
    ['nat', (declare?.nat ?? []).map((c) => `:${c} - [0:0]`)],
  ]);
  for (const rule of rules) tables.get(rule.table)!.push(line(verb, rule));
  let out = '';
  for (const [table, lines] of tables) {
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** iptables-restore --noflush input that appends these rules. */
export const renderAdd = (rules: readonly Rule[]): string => renderRules(rules, '-A');
/** iptables-restore --noflush input that deletes these rules (fails as a whole if one is missing). */
export const renderDel = (rules: readonly Rule[]): string => renderRules(rules, '-D');

/** Lines of `chain` (one whose name matches) in a salvage's kept lines, back as rules. */
export function keptRules(lines: readonly string[], table: Table, chain: RegExp): Rule[] {
  return lines.flatMap((l) => {
    const m = /^-A (\S+) (.*)$/.exec(l);
    return m && chain.test(m[1]) ? [{ table, chain: m[1], spec: [m[2]] }] : [];
  });
}
