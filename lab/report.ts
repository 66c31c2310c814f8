// What a check found, for people (tables and one line per problem) and for CI (JUnit XML, TAP,
// JSON), and the exit code. Pure.
import { mismatchLines, renderTable, summaryLine, verdict, type Flaky, type ReachResult } from './truth.js';

export type Status = 'pass' | 'fail' | 'error';

export interface CaseResult {
  readonly name: string;
  readonly status: Status;
  /** For a fail or error: what was expected and what happened, and why when netloom knows. */
  readonly message?: string;
  /** The lab nodes the case involves (the picture colours them). */
  readonly nodes?: readonly string[];
  /** For rtt and loss: the measured value beside the declared one (shown pass or fail). */
  readonly measured?: string;
  /** Passed only on a retry (`check --retry`): flaky, never a plain pass. */
  readonly flaky?: Flaky;
}

export type SuiteKind = 'reach' | 'dns' | 'ports' | 'files' | 'commands' | 'rtt' | 'loss' | 'step';

export interface Suite {
  readonly kind: SuiteKind;
  readonly name: string;
  readonly cases: readonly CaseResult[];
  readonly reach?: ReachResult;
  /** A step of the timeline (kind 'step'): its cases are its actions, then its expectations. */
  readonly step?: StepInfo;
}

export interface StepInfo {
  readonly index: number;
  readonly name: string;
  readonly run: number;
  readonly runs: number;
  readonly withinMs: number;
  /** When the expectations first all held, after the actions: the time to heal. */
  readonly healedMs?: number;
  readonly polls: number;
}

export interface CheckReport {
  readonly lab: string;
  readonly file: string;
  readonly suites: readonly Suite[];
}

/** Exit codes of `netloom lab check` (and run). */
export const EXIT = { ok: 0, mismatch: 1, invalid: 2, broken: 3, nothing: 4 } as const;

export function reachSuite(r: ReachResult): Suite {
  const cases = r.cells.map((c): CaseResult => {
    const v = verdict(c);
    const name = `${c.from} -> ${c.to} (expected ${c.expected ? 'reached' : 'denied'})`;
    const nodes = [c.from, c.to];
    if (v === 'correct') return { name, status: 'pass', nodes, ...(c.flaky ? { flaky: c.flaky } : {}) };
    if (v === 'unprobed') return { name, status: 'error', message: `not probed: ${c.error ?? 'unknown error'}`, nodes };
    const what = c.actual ? `reached via ${c.answered.join(', ')}` : `denied${c.tried.length ? ` (tried ${c.tried.join(', ')})` : ' (no address to try)'}`;
    return { name, status: 'fail', message: `${what}${c.why ? `: ${c.why}` : ''}`, nodes };
  });
  return { kind: 'reach', name: `reach ${r.probe}`, cases, reach: r };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** A step's headline: when its expectations first held after its actions (time to heal), or not. */
export function stepLine(name: string, st: StepInfo): string {
  const deadline = seconds(st.withinMs);
  return st.healedMs !== undefined
    ? `${name}: held after ${seconds(st.healedMs)} (deadline ${deadline}, ${st.polls} poll(s))`
    : `${name}: did not hold within ${deadline} (${st.polls} poll(s))`;
}

export function counts(rep: CheckReport): Record<Status, number> & { total: number; flaky: number } {
  const c = { pass: 0, fail: 0, error: 0, total: 0, flaky: 0 };
  for (const s of rep.suites) for (const k of s.cases) (c[k.status]++, c.total++, k.flaky && c.flaky++);
  return c;
}

/** 4 when nothing was checked (an empty file never passes), 3 when a check could not run, 1 when
 *  something was not as expected, else 0. */
export function exitCode(rep: CheckReport): number {
  const c = counts(rep);
  if (c.total === 0) return EXIT.nothing;
  if (c.error) return EXIT.broken;
  return c.fail ? EXIT.mismatch : EXIT.ok;
}

/** The human report: a table per reach block, one line per other expectation not met, a summary. */
export function renderText(rep: CheckReport, verbose = false): string {
  const out: string[] = [];
  for (const s of rep.suites) {
    if (s.reach) {
      out.push(renderTable(s.reach, verbose), ...mismatchLines(s.reach), summaryLine(s.reach), '');
      continue;
    }
    if (s.step) out.push(stepLine(s.name, s.step));
    for (const k of s.cases) {
      if (k.status === 'pass' && !verbose && !k.measured && !k.flaky) continue;
      const mark = k.flaky ? '~' : k.status === 'pass' ? '✓' : k.status === 'fail' ? 'X' : '?';
      const flaky = k.flaky ? ` (flaky: passed only on try ${k.flaky.attempt}; first ${k.flaky.first})` : '';
      out.push(`  ${mark} ${s.kind} ${k.name}${k.message ? `: ${k.message}` : k.measured ? `: ${k.measured}` : ''}${flaky}`);
    }
    const t = { pass: 0, fail: 0, error: 0 };
    for (const k of s.cases) t[k.status]++;
    out.push(`${s.name}: ${t.pass} correct, ${t.fail} wrong${t.error ? `, ${t.error} not checked` : ''}`);
    if (s.step) out.push('');
  }
  const c = counts(rep);
  out.push(
    c.total === 0
      ? `lab ${rep.lab}: no expectations, nothing checked (exit 4)`
      : `lab ${rep.lab}: ${c.pass} of ${c.total} as expected${c.flaky ? ` (${c.flaky} only on a retry: flaky)` : ''}${c.fail ? `, ${c.fail} not` : ''}${c.error ? `, ${c.error} could not be checked` : ''}`,
  );
  return out.join('\n');
}

const xml = (s: string): string =>
  s
    .replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch] as string)
    // XML 1.0 allows no control characters but tab, newline and carriage return.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** JUnit XML: one testsuite per expectation block, one testcase per cell or assertion. */
export function renderJUnit(rep: CheckReport): string {
  const c = counts(rep);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`netloom lab ${rep.lab}`)}" tests="${c.total}" failures="${c.fail}" errors="${c.error}">`,
  ];
  for (const s of rep.suites) {
    const f = s.cases.filter((k) => k.status === 'fail').length;
    const e = s.cases.filter((k) => k.status === 'error').length;
    const heal = s.step?.healedMs;
    lines.push(
      `  <testsuite name="${xml(s.name)}" tests="${s.cases.length}" failures="${f}" errors="${e}"${heal !== undefined ? ` time="${(heal / 1000).toFixed(3)}"` : ''}>`,
    );
    if (s.step) {
      lines.push(
        '    <properties>',
        `      <property name="deadline" value="${(s.step.withinMs / 1000).toFixed(3)}"/>`,
        `      <property name="time_to_heal" value="${heal !== undefined ? (heal / 1000).toFixed(3) : 'never'}"/>`,
        '    </properties>',
      );
    }
    for (const k of s.cases) {
      const open = `    <testcase classname="${xml(`${rep.lab}.${s.kind}`)}" name="${xml(k.name)}"`;
      if (k.status === 'pass' && k.flaky) {
        // Surefire's rerun convention: a pass after failures carries them as <flakyFailure>.
        const m = xml(`passed only on try ${k.flaky.attempt}; first ${k.flaky.first}`);
        lines.push(`${open}>`, `      <flakyFailure message="${m}">${m}</flakyFailure>`, '    </testcase>');
      } else if (k.status === 'pass') lines.push(k.measured ? `${open}>\n      <system-out>${xml(k.measured)}</system-out>\n    </testcase>` : `${open}/>`);
      else {
        const tag = k.status === 'fail' ? 'failure' : 'error';
        lines.push(`${open}>`, `      <${tag} message="${xml(k.message ?? '')}">${xml(k.message ?? '')}</${tag}>`, '    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** TAP version 13: one test point per case; a YAML block says what went wrong. */
export function renderTap(rep: CheckReport): string {
  const all = rep.suites.flatMap((s) => s.cases.map((k) => ({ s, k })));
  const lines = ['TAP version 13', `1..${all.length}`];
  let stepShown: Suite | undefined;
  all.forEach(({ s, k }, i) => {
    if (s.step && stepShown !== s) ((stepShown = s), lines.push(`# ${stepLine(s.name, s.step)}`));
    lines.push(
      `${k.status === 'pass' ? 'ok' : 'not ok'} ${i + 1} - ${s.name}: ${k.name.replace(/#/g, '\\#')}${k.flaky ? ` (flaky: passed only on try ${k.flaky.attempt})` : ''}`,
    );
    if (k.status !== 'pass') lines.push('  ---', `  status: ${k.status}`, `  message: ${JSON.stringify(k.message ?? '')}`, '  ...');
  });
  if (!all.length) lines.push('# no expectations: nothing checked');
  return `${lines.join('\n')}\n`;
}

export function renderJson(rep: CheckReport): string {
  const c = counts(rep);
  return `${JSON.stringify({ ...rep, summary: { ...c, exitCode: exitCode(rep) } }, null, 2)}\n`;
}
