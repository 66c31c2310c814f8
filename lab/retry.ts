// `lab check --retry N`, pure: a case (or reach cell) not as expected is tried again; one that is
// as expected on a later try becomes a flaky pass, carrying the try and what went wrong first, so
// the table (~), JUnit (<flakyFailure>), TAP and JSON never show it as a plain pass.
import { reachSuite, type CaseResult, type CheckReport, type Suite } from './report.js';
import { verdict, type Cell } from './truth.js';

const cellKey = (c: Pick<Cell, 'from' | 'to'>): string => `${c.from}\u0000${c.to}`;

/** Whether anything is left to retry. */
export const needsRetry = (rep: CheckReport): boolean => rep.suites.some((s) => s.cases.some((k) => k.status !== 'pass'));

function firstProblem(c: Cell): string {
  if (c.actual === undefined) return `not probed (${c.error ?? 'unknown error'})`;
  return c.actual ? `reached via ${c.answered.join(', ')}` : 'denied';
}

/** `prev` with its failures replaced by `again`'s outcome where that one is as expected (flaky). */
export function mergeRetry(prev: CheckReport, again: CheckReport, attempt: number): CheckReport {
  const suites = prev.suites.map((s, i): Suite => {
    const t = again.suites.find((x, j) => x.name === s.name && (j === i || x.kind === s.kind));
    if (!t) return s;
    if (s.reach && t.reach) {
      const later = new Map(t.reach.cells.map((c) => [cellKey(c), c]));
      const cells = s.reach.cells.map((c): Cell => {
        const n = later.get(cellKey(c));
        if (verdict(c) === 'correct' || !n || verdict(n) !== 'correct') return c;
        return { ...n, flaky: { attempt, first: firstProblem(c) } };
      });
      return { ...reachSuite({ ...s.reach, cells }), ...(s.step ? { step: s.step } : {}) };
    }
    const later = new Map(t.cases.map((k) => [k.name, k]));
    const cases = s.cases.map((k): CaseResult => {
      const n = later.get(k.name);
      if (k.status === 'pass' || n?.status !== 'pass') return k;
      return { ...n, flaky: { attempt, first: `${k.status}${k.message ? `: ${k.message}` : ''}` } };
    });
    return { ...s, cases };
  });
  return { ...prev, suites };
}
