// The repository stands alone: no tracked file sends a reader to the shared folder outside it
// (the notes the code relies on live in docs/). Tracked and not-yet-added files alike, as git
// lists them. A relative path to a folder named shared is fine when it leads to a file in the
// repository (drivers/shared/ is one, imported by the drivers beside it); the patterns are
// spelled in pieces so this file does not match itself.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';

const OUTSIDE = '/work' + '/shared';
const RELATIVE = new RegExp('(?:\\.\\./)+' + 'shared/[^\\s\'"`)\\],;]*', 'g');

/** Whether a relative path found in `file` leads to a file of the repository (a .js import may name a .ts file). */
function insideRepo(file: string, ref: string): boolean {
  const target = normalize(join(dirname(file), ref));
  if (target.startsWith('..')) return false;
  return existsSync(target) || existsSync(target.replace(/\.js$/, '.ts'));
}

const mentionsOutside = (file: string, line: string): boolean => line.includes(OUTSIDE) || [...line.matchAll(RELATIVE)].some((m) => !insideRepo(file, m[0]));

// Tests run from the repository root (make test-unit).
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { encoding: 'utf8' });
  return out.split('\0').filter(Boolean);
}

test('no file mentions the shared folder outside the repository', () => {
  const files = repoFiles();
  assert.ok(files.includes('daemon/wire.ts'), 'git ls-files lists the repository');
  const hits: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // deleted in the working tree
    }
    text.split('\n').forEach((line, i) => {
      if (mentionsOutside(file, line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, [], 'point to docs/ in this repository instead');
});

test('the check finds a pointer outside and lets imports inside through', () => {
  assert.equal(mentionsOutside('daemon/wire.ts', `// (${'..'}/shared/specs/docker-engine-network-api.md)`), true);
  assert.equal(mentionsOutside('daemon/wire.ts', `// see ${OUTSIDE}/specs`), true);
  assert.equal(mentionsOutside('README.md', `[style](${'..'}/shared/STYLE.md)`), true);
  assert.equal(mentionsOutside('drivers/host/index.ts', `import { x } from '../../drivers/driver.js';`), false);
  // A relative path that leads back into the repository is no pointer outside it.
  assert.equal(mentionsOutside('drivers/shared/x.ts', `import { y } from '${'..'}/../drivers/driver.js';`), false);
  assert.equal(insideRepo('drivers/host/index.ts', '../driver.js'), true);
});
