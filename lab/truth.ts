// Reach expectations as a truth table (cyclonus / Kubernetes netpol style): every ordered pair of
// a block's nodes is expected reached if an allow pattern covers it, and denied otherwise. Pure.
import type { ReachSpec } from './model.js';

export interface Cell {
  readonly from: string;
  readonly to: string;
  readonly expected: boolean;
  /** undefined: the probe could not run (see `error`). */
  readonly actual?: boolean;
  /** The target's addresses that answered. */
  readonly answered: readonly string[];
  /** The target's addresses probed. */
  readonly tried: readonly string[];
  readonly error?: string;
  /** Why the outcome differs from the expectation, from netloom's own knowledge. */
  readonly why?: string;
  /** As expected only on a retry (`check --retry`): reported as flaky, never as a plain pass. */
  readonly flaky?: Flaky;
}

export interface Flaky {
  /** The try on which it was first as expected (2 = the first retry). */
  readonly attempt: number;
  /** What went wrong before. */
  readonly first: string;
}

export interface ReachResult {
  readonly probe: string;
  readonly nodes: readonly string[];
  readonly cells: readonly Cell[];
}

const PATTERN = /^(\*|[a-z0-9][a-z0-9_-]*)(<->|->)(\*|[a-z0-9][a-z0-9_-]*)$/;

/** Whether the patterns allow from -> to: "a->b", "a<->b" (both ways), "*" on either side. */
export function allowed(allow: readonly string[], from: string, to: string): boolean {
  return matcher(allow)(from, to);
}

/** The patterns parsed once: exact pairs in a set, those with a `*` in a list (a 100-node lab's
 *  thousand patterns cost a lookup per pair, not a thousand regex matches). */
function matcher(allow: readonly string[]): (from: string, to: string) => boolean {
  const exact = new Set<string>();
  const wild: [string, string][] = [];
  const add = (l: string, r: string): void => void (l === '*' || r === '*' ? wild.push([l, r]) : exact.add(`${l}\u0000${r}`));
  for (const a of allow) {
    const m = PATTERN.exec(a);
    if (!m) continue;
    const [, l, arrow, r] = m;
    add(l, r);
    if (arrow === '<->') add(r, l);
  }
  return (from, to) => exact.has(`${from}\u0000${to}`) || wild.some(([l, r]) => (l === '*' || l === from) && (r === '*' || r === to));
}

/** The ordered pairs of a block (no node with itself), each with its expected outcome. */
export function expectedPairs(spec: Pick<ReachSpec, 'nodes' | 'allow'>): { from: string; to: string; expected: boolean }[] {
  const ok = matcher(spec.allow);
  const out: { from: string; to: string; expected: boolean }[] = [];
  for (const from of spec.nodes) for (const to of spec.nodes) if (from !== to) out.push({ from, to, expected: ok(from, to) });
  return out;
}

export type Verdict = 'correct' | 'wrong' | 'unprobed';

export function verdict(c: Cell): Verdict {
  if (c.actual === undefined) return 'unprobed';
  return c.actual === c.expected ? 'correct' : 'wrong';
}

export function tally(r: ReachResult): Record<Verdict, number> {
  const t = { correct: 0, wrong: 0, unprobed: 0 };
  for (const c of r.cells) t[verdict(c)]++;
  return t;
}

export function summaryLine(r: ReachResult): string {
  const t = tally(r);
  const flaky = r.cells.filter((c) => c.flaky).length;
  return `reach ${r.probe}: ${t.correct} correct${flaky ? ` (${flaky} flaky)` : ''}, ${t.wrong} wrong${t.unprobed ? `, ${t.unprobed} not probed` : ''}`;
}

const width = (s: string): number => [...s].length;
const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - width(s)));
const padStart = (s: string, n: number): string => ' '.repeat(Math.max(0, n - width(s))) + s;

/** The table: rows "from", columns "to"; `.` as expected, `X` not, `?` not probed, `-` itself.
 *  Verbose shows the actual outcome (✓ reached, ✗ not) with X beside the wrong ones. */
export function renderTable(r: ReachResult, verbose = false): string {
  const cell = new Map(r.cells.map((c) => [`${c.from}\u0000${c.to}`, c]));
  const mark = (from: string, to: string): string => {
    if (from === to) return '-';
    const c = cell.get(`${from}\u0000${to}`);
    if (!c) return ' ';
    const v = verdict(c);
    if (c.flaky && v === 'correct') return verbose ? `${c.actual ? '✓' : '✗'}~` : '~';
    if (!verbose) return v === 'correct' ? '.' : v === 'wrong' ? 'X' : '?';
    if (v === 'unprobed') return '?';
    return `${c.actual ? '✓' : '✗'}${v === 'wrong' ? 'X' : ''}`;
  };
  const rowHead = Math.max(4, ...r.nodes.map(width));
  const colW = Math.max(3, ...r.nodes.map(width)) + 1;
  const flaky = r.cells.some((c) => c.flaky) ? ', ~ as expected only on retry (flaky)' : '';
  const lines = [`reach ${r.probe} (rows from, columns to; ${verbose ? '✓ reached, ✗ not, X not as expected' : '. as expected, X not as expected'}${flaky})`];
  lines.push(pad('', rowHead) + r.nodes.map((n) => padStart(n, colW)).join(''));
  for (const from of r.nodes) lines.push(pad(from, rowHead) + r.nodes.map((to) => padStart(mark(from, to), colW)).join(''));
  return lines.join('\n');
}

/** One line per cell not as expected, saying what happened and why. */
export function mismatchLines(r: ReachResult): string[] {
  return r.cells
    .filter((c) => verdict(c) !== 'correct' || c.flaky)
    .map((c) => {
      if (c.flaky && verdict(c) === 'correct') return `  ~ ${c.from} -> ${c.to}: flaky: as expected only on try ${c.flaky.attempt}; first ${c.flaky.first}`;
      if (c.actual === undefined) return `  ? ${c.from} -> ${c.to}: not probed: ${c.error ?? 'unknown error'}`;
      const what = c.actual
        ? `reached (${c.answered.join(', ')}) but should be denied`
        : `denied but should be reached${c.tried.length ? ` (tried ${c.tried.join(', ')})` : ''}`;
      return `  X ${c.from} -> ${c.to}: ${what}${c.why ? `: ${c.why}` : ''}`;
    });
}
