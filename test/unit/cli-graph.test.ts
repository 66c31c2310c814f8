// The CLI bundle's static module graph (what every `netloom` start evaluates) reaches none of the
// daemon's, the lab's or the process runner's packages: they are imported by the commands that use
// them. Reads dist/ as `make build` leaves it (bench/cli-startup.sh measures the cost of a start).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist');

/** Files reached from `entry` through static imports only (import ... from "./x", import "./x"). */
function staticClosure(entry: string): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const text = readFileSync(join(dist, f), 'utf8');
    for (const m of text.matchAll(/^import\s+(?:[^'";]*?\s+from\s+)?["']([^"']+)["'];?$/gm)) {
      const spec = m[1];
      if (spec.startsWith('./')) todo.push(spec.slice(2));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return { files: [...seen], packages };
}

test(
  'a netloom start loads no package, and none of the lab, daemon, store or controller code',
  { skip: !existsSync(join(dist, 'netloom.mjs')) && 'dist/ not built' },
  () => {
    const { files, packages } = staticClosure('netloom.mjs');
    assert.deepEqual([...packages], [], 'no npm package is imported statically');
    const sources = files.flatMap((f) => [...readFileSync(join(dist, f), 'utf8').matchAll(/^\/\/ ([\w/.-]+\.ts)$/gm)].map((m) => m[1]));
    assert.ok(sources.includes('cli/main.ts') && sources.includes('cli/client.ts'), `the closure is the CLI's: ${sources.join(' ')}`);
    const heavy = sources.filter((s) => /^(lab|daemon|controller|store|drivers|dns|plugin|system|ipam)\//.test(s));
    assert.deepEqual(heavy, [], 'only cli/ and common/ code is evaluated at start');
    // The lazily imported parts are still there, for the commands that use them.
    const all = readFileSync(join(dist, 'netloom.mjs'), 'utf8');
    for (const lazy of ['help', 'store', 'reset', 'process', 'main']) assert.match(all, new RegExp(`import\\("\\./${lazy}-[A-Z0-9]+\\.mjs"\\)`), lazy);
  },
);
