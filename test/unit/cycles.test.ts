// No import cycles among the source modules, type-only imports included. ESLint's import-x/no-cycle
// (make lint) does not follow `import type`, so a ring of type imports would pass it; this test
// reads every relative import of the tracked sources (test/ and bench/ aside) and looks for a
// strongly connected component of more than one module (Tarjan).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';

const IMPORT = /(?:import|export)\s[^'"]*?\sfrom\s+['"](\.[^'"]+)['"]/g;

/** module -> the modules it imports (relative, resolved from .js to the .ts source). */
export function importGraph(files: readonly string[], read: (f: string) => string): Map<string, string[]> {
  const known = new Set(files);
  return new Map(
    files.map((f) => {
      const deps = [...read(f).matchAll(IMPORT)].map((m) => normalize(join(dirname(f), m[1])).replace(/\.js$/, '.ts')).filter((d) => known.has(d));
      return [f, [...new Set(deps)]];
    }),
  );
}

/** The cycles: strongly connected components of more than one module, or a module importing itself. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (n: string): void => {
    index.set(n, index.size);
    low.set(n, index.get(n)!);
    stack.push(n);
    onStack.add(n);
    for (const w of graph.get(n) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(n, Math.min(low.get(n)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(n, Math.min(low.get(n)!, index.get(w)!));
    }
    if (low.get(n) !== index.get(n)) return;
    const comp: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      comp.push(w);
      if (w === n) break;
    }
    if (comp.length > 1 || (graph.get(n) ?? []).includes(n)) out.push(comp.sort());
  };
  for (const n of graph.keys()) if (!index.has(n)) visit(n);
  return out;
}

test('the sources have no import cycle, type-only imports included', () => {
  const files = execFileSync('git', ['ls-files', '-z', '*.ts'], { encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && !f.startsWith('test/') && !f.startsWith('bench/'));
  assert.ok(files.includes('controller/index.ts'), 'git ls-files lists the repository');
  assert.deepEqual(cycles(importGraph(files, (f) => readFileSync(f, 'utf8'))), []);
});

test('the check finds a ring of type-only imports', () => {
  const src: Record<string, string> = {
    'a/x.ts': "import type { Y } from './y.js';",
    'a/y.ts': "import type { Z } from '../b/z.js';\nexport type Y = 1;",
    'b/z.ts': "import { type X } from '../a/x.js';\nexport type Z = 2;",
    'b/w.ts': "import type { Z } from './z.js';",
  };
  assert.deepEqual(cycles(importGraph(Object.keys(src), (f) => src[f])), [['a/x.ts', 'a/y.ts', 'b/z.ts']]);
  delete src['b/z.ts'];
  assert.deepEqual(cycles(importGraph(Object.keys(src), (f) => src[f])), []);
});
