// The bridge driver's firewall, as data. Pure: unit- and golden-tested; system/ applies it.
//
// filter FORWARD  -> NETLOOM-FORWARD (first rule)
//   NETLOOM-FORWARD: -j NETLOOM-ISOLATION-1, then per network: established in, icc, out, drop the rest in
//   NETLOOM-ISOLATION-1: per network  -i br ! -o br -j NETLOOM-ISOLATION-2
//   NETLOOM-ISOLATION-2: per network  -o br -j DROP      (so no two netloom bridges talk)
// nat POSTROUTING -> NETLOOM-POSTROUTING: per network  -s subnet ! -o br -j MASQUERADE
import type { Table } from '../../system/types.js';

export const CHAIN = {
  forward: 'NETLOOM-FORWARD',
  iso1: 'NETLOOM-ISOLATION-1',
  iso2: 'NETLOOM-ISOLATION-2',
  postrouting: 'NETLOOM-POSTROUTING',
} as const;

/** Jumps from built-in chains into netloom's; the only rules netloom places outside its chains. */
export const JUMPS: readonly { table: Table; chain: string; target: string }[] = [
  { table: 'filter', chain: 'FORWARD', target: CHAIN.forward },
  { table: 'nat', chain: 'POSTROUTING', target: CHAIN.postrouting },
];

export interface Rule {
  readonly table: Table;
  readonly chain: string;
  readonly spec: readonly string[];
}

export interface BridgeRuleInput {
  readonly bridge: string;
  readonly subnet: string; // of the family being rendered
  readonly internal: boolean;
  readonly icc: boolean;
  readonly masquerade: boolean;
}

const r = (table: Table, chain: string, ...spec: string[]): Rule => ({ table, chain, spec });

export function networkRules(n: BridgeRuleInput): Rule[] {
  const br = n.bridge;
  const rules: Rule[] = [
    r('filter', CHAIN.iso1, '-i', br, '!', '-o', br, '-j', CHAIN.iso2),
    r('filter', CHAIN.iso2, '-o', br, '-j', 'DROP'),
  ];
  if (!n.internal) {
    rules.push(r('filter', CHAIN.forward, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'));
  }
  rules.push(r('filter', CHAIN.forward, '-i', br, '-o', br, '-j', n.icc ? 'ACCEPT' : 'DROP'));
  rules.push(r('filter', CHAIN.forward, '-i', br, '!', '-o', br, '-j', n.internal ? 'DROP' : 'ACCEPT'));
  // Nothing from outside opens a connection into the network (published ports come before this).
  rules.push(r('filter', CHAIN.forward, '-o', br, '!', '-i', br, '-j', 'DROP'));
  if (!n.internal && n.masquerade) {
    rules.push(r('nat', CHAIN.postrouting, '-s', n.subnet, '!', '-o', br, '-j', 'MASQUERADE'));
  }
  return rules;
}

const line = (verb: '-A' | '-D', rule: Rule): string => `${verb} ${rule.chain} ${rule.spec.join(' ')}`;

function render(tables: Map<Table, string[]>): string {
  let out = '';
  for (const [table, lines] of tables) {
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

function byTable(rules: readonly Rule[], verb: '-A' | '-D', declare = false): Map<Table, string[]> {
  const t = new Map<Table, string[]>([
    ['filter', declare ? [`:${CHAIN.forward} - [0:0]`, `:${CHAIN.iso1} - [0:0]`, `:${CHAIN.iso2} - [0:0]`] : []],
    ['nat', declare ? [`:${CHAIN.postrouting} - [0:0]`] : []],
  ]);
  if (declare) t.get('filter')!.push(`-A ${CHAIN.forward} -j ${CHAIN.iso1}`);
  for (const rule of rules) t.get(rule.table)!.push(line(verb, rule));
  return t;
}

/** iptables-restore --noflush input that appends these rules. */
export const renderAdd = (rules: readonly Rule[]): string => render(byTable(rules, '-A'));
/** iptables-restore --noflush input that deletes these rules (fails as a whole if one is missing). */
export const renderDel = (rules: readonly Rule[]): string => render(byTable(rules, '-D'));
/** The complete contents of netloom's chains: declaring a chain with --noflush flushes it, so this
 *  replaces exactly netloom's rules and nobody else's. */
export const renderAll = (rules: readonly Rule[]): string => render(byTable(rules, '-A', true));
