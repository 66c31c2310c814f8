// eslint.config.js guards the layout. Its config, built for a small fixture tree laid out like the
// repository (drivers/bridge, drivers/host, controller/, system/, ...), runs through ESLint's Node
// API: each rule must flag its violation (a cross-driver import, an upward import, a cycle, a side
// effect outside system/, store/ and the faces) and let the legal imports through.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ESLint, type Linter } from 'eslint';

// Tests run from the repository root (make test-unit); the config is the source tree's.
const CONFIG = join(process.cwd(), 'eslint.config.js');

const lines = (n: number, text: string): string => Array.from({ length: n }, () => text).join('\n');

/** path → source. Comments say what each file must show. */
const FIXTURE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  'common/names.ts': `export const prefix = 'nl';\n`,
  'common/upward.ts': `import { link } from '../system/link.js';\nexport const l = link;\n`,
  'system/link.ts': `import { execFile } from 'node:child_process';\nimport { prefix } from '../common/names.js';\nexport const link = prefix + String(execFile);\n`,
  'system/upward.ts': `import { pool } from '../ipam/pool.js';\nexport const p = pool;\n`,
  'store/file.ts': `import { readFileSync } from 'node:fs';\nimport { link } from '../system/link.js';\nexport const f = [readFileSync, link];\n`,
  'store/spawns.ts': `import { spawn } from 'node:child_process';\nexport const s = spawn;\n`,
  'ipam/pool.ts': `import type { Stats } from 'node:fs';\nimport { prefix } from '../common/names.js';\nexport const pool = prefix;\nexport type S = Stats;\n`,
  'ipam/reads.ts': `import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n`,
  'dns/server.ts': `import { createSocket } from 'node:dgram';\nexport const s = createSocket;\n`,
  'dns/answer.ts': `import { createSocket } from 'node:dgram';\nexport const s = createSocket;\n`,
  'drivers/driver.ts': `export interface Driver { name: string }\n`,
  'drivers/registry.ts': `import { bridge } from './bridge/index.js';\nimport { host } from './host/index.js';\nexport const all = [bridge, host];\n`,
  'drivers/handle.ts': `import type { Driver } from './driver.js';\nexport const handle = (d: Driver) => d.name;\n`,
  'drivers/linuxbridge/veth.ts': `export const veth = 'veth';\n`,
  // Legal: its own folder, drivers/'s top-level modules, shared plumbing, ipam/, system/, common/.
  'drivers/bridge/index.ts':
    `import type { Driver } from '../driver.js';\nimport { veth } from '../linuxbridge/veth.js';\nimport { opts } from './options.js';\n` +
    `import { handle } from '../handle.js';\nimport { pool } from '../../ipam/pool.js';\nimport { link } from '../../system/link.js';\nimport { prefix } from '../../common/names.js';\n` +
    `export const bridge: Driver = { name: [veth, opts, pool, link, prefix, String(handle)].join() };\n`,
  'drivers/bridge/options.ts': `export const opts = 'mtu';\n`,
  // Cross-driver imports: a value import and a type-only one.
  'drivers/host/index.ts': `import { bridge } from '../bridge/index.js';\nexport const host = { name: bridge.name };\n`,
  'drivers/none/index.ts': `import type { bridge } from '../bridge/index.js';\nexport type B = typeof bridge;\n`,
  // Upward: a driver importing the controller.
  'drivers/overlay/index.ts': `import { ctl } from '../../controller/index.js';\nexport const overlay = ctl;\n`,
  // A driver importing the registry (which knows every driver).
  'drivers/overlay/peers.ts': `import { all } from '../registry.js';\nexport const peers = all;\n`,
  // The controller: drivers only through drivers/'s top-level modules, never a driver's folder.
  'controller/index.ts':
    `import { all } from '../drivers/registry.js';\nimport type { Driver } from '../drivers/driver.js';\nimport { handle } from '../drivers/handle.js';\n` +
    `export const ctl: Driver[] = all;\nexport const h = handle;\n`,
  'controller/names.ts': `import { opts } from '../drivers/bridge/options.js';\nexport const n = opts;\n`,
  // A cycle: a → b → a.
  'controller/a.ts': `import { b } from './b.js';\nexport const a = 1;\nexport const ab = () => b;\n`,
  'controller/b.ts': `import { a } from './a.js';\nexport const b = 2;\nexport const ba = () => a;\n`,
  // Sizes: a 401-line file and an 81-line function are warnings, not errors.
  'controller/big.ts': `export function long(): number {\n  let x = 0;\n${lines(79, '  x++;')}\n  return x;\n}\n${lines(320, '// filler')}\n`,
  // A face may import any layer and open files.
  'cli/main.ts': `import { readFileSync } from 'node:fs';\nimport { ctl } from '../controller/index.js';\nimport { link } from '../system/link.js';\nexport const m = [readFileSync, ctl, link];\n`,
  // Tests: anything goes, and long functions are fine.
  'test/unit/x.test.ts': `import { spawn } from 'node:child_process';\nimport { bridge } from '../../drivers/bridge/index.js';\nexport function t() {\n${lines(100, '  void spawn;')}\n  return bridge;\n}\n`,
};

/** What each fixture file must report: rule ids of errors and of warnings (sorted). */
const EXPECTED: Record<string, { errors: string[]; warnings?: string[] }> = {
  'common/names.ts': { errors: [] },
  'common/upward.ts': { errors: ['import-x/no-restricted-paths'] },
  'system/link.ts': { errors: [] },
  'system/upward.ts': { errors: ['import-x/no-restricted-paths'] },
  'store/file.ts': { errors: [] },
  'store/spawns.ts': { errors: ['@typescript-eslint/no-restricted-imports'] },
  'ipam/pool.ts': { errors: [] },
  'ipam/reads.ts': { errors: ['@typescript-eslint/no-restricted-imports'] },
  'dns/server.ts': { errors: [] },
  'dns/answer.ts': { errors: ['@typescript-eslint/no-restricted-imports'] },
  'drivers/driver.ts': { errors: [] },
  'drivers/registry.ts': { errors: [] },
  'drivers/handle.ts': { errors: [] },
  'drivers/linuxbridge/veth.ts': { errors: [] },
  'drivers/bridge/index.ts': { errors: [] },
  'drivers/bridge/options.ts': { errors: [] },
  'drivers/host/index.ts': { errors: ['import-x/no-restricted-paths'] },
  'drivers/none/index.ts': { errors: ['import-x/no-restricted-paths'] },
  'drivers/overlay/index.ts': { errors: ['import-x/no-restricted-paths'] },
  'drivers/overlay/peers.ts': { errors: ['import-x/no-restricted-paths'] },
  'controller/index.ts': { errors: [] },
  'controller/names.ts': { errors: ['import-x/no-restricted-paths'] },
  'controller/a.ts': { errors: ['import-x/no-cycle'] },
  'controller/b.ts': { errors: ['import-x/no-cycle'] },
  'controller/big.ts': { errors: [], warnings: ['max-lines', 'max-lines-per-function'] },
  'cli/main.ts': { errors: [] },
  'test/unit/x.test.ts': { errors: [] },
};

describe('eslint.config.js on a fixture tree', () => {
  let root = '';
  const results = new Map<string, Linter.LintMessage[]>();

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'netloom-lint-'));
    for (const [path, text] of Object.entries(FIXTURE)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const { netloomConfig } = (await import(pathToFileURL(CONFIG).href)) as { netloomConfig: (root: string) => Linter.Config[] };
    const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: netloomConfig(root) });
    for (const r of await eslint.lintFiles(['.'])) results.set(relative(root, r.filePath), r.messages);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('every fixture file was linted', () => {
    assert.deepEqual([...results.keys()].sort(), Object.keys(EXPECTED).sort());
  });

  for (const [path, want] of Object.entries(EXPECTED)) {
    test(`${path}: ${want.errors.length ? want.errors.join(', ') : 'no error'}`, () => {
      const messages = results.get(path) ?? [];
      const fatal = messages.filter((m) => m.fatal);
      assert.deepEqual(fatal, [], `${path} did not parse`);
      const ids = (severity: number) => [...new Set(messages.filter((m) => m.severity === severity).map((m) => m.ruleId ?? ''))].sort();
      assert.deepEqual(ids(2), want.errors, `${path} errors: ${JSON.stringify(messages.map((m) => m.message))}`);
      assert.deepEqual(ids(1), want.warnings ?? [], `${path} warnings`);
    });
  }

  test('a cross-driver import names the rule it breaks', () => {
    const [m] = results.get('drivers/host/index.ts') ?? [];
    assert.match(m?.message ?? '', /a driver imports no other driver: drivers\/host\/ may use only itself/);
  });
});
