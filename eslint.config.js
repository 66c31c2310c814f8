// ESLint for netloom: the rules that guard the layout (ARCHITECTURE.md has the picture).
//
//   faces (cli/, daemon/, plugin/, lab/) → controller/ → drivers/, ipam/, dns/ → store/, system/ → common/
//
// - An import may skip layers downward (a face may use system/), never point upward.
// - Inside the middle layer drivers/ may use ipam/ (address types); ipam/ and dns/ use neither
//   each other nor drivers/. Inside the lower layer store/ may use system/, not the reverse.
// - A driver (drivers/X/) imports no other driver, not drivers/registry.ts and not controller/:
//   only itself, the top-level modules of drivers/ except registry.ts (driver.ts, the interface,
//   and its helpers) and the shared plumbing (drivers/shared/, drivers/linuxbridge/).
//   The controller reaches drivers only through those top-level modules (driver.ts, registry.ts,
//   ...), never a driver's own folder.
// - Modules with side effects (files, processes, sockets, netlink, the V8 flags) are imported only
//   where the design allows it (SIDE_EFFECTS below). Type-only imports of them are fine; type-only
//   imports between layers follow the layer rules like any other import.
// - No import cycles (import-x/no-cycle; it does not follow type-only imports).
// - Warnings: a file over 400 lines, a function over 80 lines (counted like `wc -l`).
// - test/, bench/, scripts/, bin/ and the root's config files: no layer, side-effect or cycle rules,
//   no function size, files up to 800 lines.
//
// Violations that existed when the rules came in are listed in eslint-suppressions.json (ESLint's
// bulk suppressions): they do not fail `make lint`, new ones do. A suppression whose violation
// is gone does not fail it either (--pass-on-unpruned-suppressions, so that merging a branch that
// fixes some does not break the build): drop those with `npx eslint --prune-suppressions .`.
//
// netloomConfig(root) builds the config for a tree rooted at root: the unit test
// (test/unit/lint.test.ts) runs it on small fixture trees.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const FACES = ['cli', 'daemon', 'plugin', 'lab'];
const CODE = ['**/*.ts', '**/*.mjs', '**/*.js'];
/** Folders whose files may be any layer's helpers: relaxed rules. */
const TOOLING = ['test/**', 'bench/**', 'scripts/**', 'bin/**', '*.js', '*.mjs'];
/** Driver folders that are shared plumbing, not drivers: any driver may import them. */
const SHARED_DRIVER_DIRS = ['shared', 'linuxbridge'];

/** Modules with side effects, by who may import them (values, not types). */
const SIDE_EFFECTS = {
  // Processes and the kernel's netlink: system/ only.
  system: ['node:child_process', 'child_process', 'execa', 'netlink'],
  // Files, sockets and HTTP: system/, store/ (its file and etcd backends) and the faces.
  io: [
    'node:fs',
    'fs',
    'node:fs/promises',
    'fs/promises',
    'node:net',
    'net',
    'node:dgram',
    'dgram',
    'node:http',
    'http',
    'node:https',
    'https',
    'node:http2',
    'http2',
    'node:tls',
    'tls',
  ],
  // The process itself (stdin prompts, V8 flags, loading code, threads, servers): the faces only.
  face: [
    'node:readline',
    'readline',
    'node:readline/promises',
    'readline/promises',
    'node:v8',
    'v8',
    'node:module',
    'module',
    'node:worker_threads',
    'worker_threads',
    'node:cluster',
    'cluster',
    'fastify',
  ],
};
/** The DNS server's sockets: the only dns/ files that may open them (the rest of dns/ is pure). */
const DNS_SOCKET_FILES = ['dns/server.ts', 'dns/udp.ts', 'dns/forward.ts'];

const restrict = (names, where) => ({
  paths: names.map((name) => ({
    name,
    allowTypeImports: true,
    message: `modules with side effects are imported only in ${where} (eslint.config.js, ARCHITECTURE.md)`,
  })),
});

/** Entries of root/drivers: its folders (each one a driver, except the shared plumbing) and its top-level modules. */
function driversTree(root) {
  try {
    const entries = readdirSync(join(root, 'drivers'), { withFileTypes: true });
    return {
      dirs: entries.filter((d) => d.isDirectory()).map((d) => d.name),
      files: entries.filter((d) => d.isFile() && /\.ts$/.test(d.name) && d.name !== 'registry.ts').map((d) => d.name),
    };
  } catch {
    return { dirs: [], files: [] };
  }
}

/** The layer zones for import-x/no-restricted-paths (target may not import from). */
function layerZones(root) {
  const faces = FACES.map((f) => `./${f}`);
  const zone = (target, from, message, except) => ({ target, from, message, ...(except ? { except } : {}) });
  const zones = [
    zone('./controller', faces, 'controller/ never imports a face (cli/, daemon/, plugin/, lab/).'),
    zone(['./drivers', './ipam', './dns'], [...faces, './controller'], 'drivers/, ipam/ and dns/ never import controller/ or a face.'),
    zone(['./ipam', './dns'], ['./drivers'], 'ipam/ and dns/ never import drivers/.'),
    zone('./ipam', ['./dns'], 'ipam/ never imports dns/.'),
    zone('./dns', ['./ipam'], 'dns/ never imports ipam/.'),
    zone(['./store', './system'], [...faces, './controller', './drivers', './ipam', './dns'], 'store/ and system/ never import a layer above them.'),
    zone('./system', ['./store'], 'system/ never imports store/.'),
    zone('./common', [...faces, './controller', './drivers', './ipam', './dns', './store', './system'], 'common/ imports no other layer.'),
    zone(
      './controller',
      ['./drivers/*/**'],
      "controller/ reaches drivers only through drivers/'s top-level modules (driver.ts, registry.ts, ...), never a driver's folder.",
    ),
    zone('./drivers/driver.ts', ['./drivers/*/**'], 'drivers/driver.ts (the interface) imports no driver.'),
  ];
  const { dirs, files } = driversTree(root);
  const topLevel = files.map((f) => `./${f}`);
  for (const dir of dirs) {
    const shared = SHARED_DRIVER_DIRS.includes(dir);
    const allowed = [`./${dir}`, ...topLevel, ...(shared ? [] : SHARED_DRIVER_DIRS.map((s) => `./${s}`))];
    const message = shared
      ? `drivers/${dir}/ is shared plumbing: it imports no driver.`
      : `a driver imports no other driver: drivers/${dir}/ may use only itself, drivers/*.ts but registry.ts, and drivers/{${SHARED_DRIVER_DIRS.join(',')}}/.`;
    zones.push(zone(`./drivers/${dir}`, ['./drivers'], message, allowed));
  }
  return zones;
}

export function netloomConfig(root) {
  const allFolders = (names) => names.map((n) => `${n}/**`);
  return defineConfig(
    {
      name: 'netloom/ignores',
      ignores: ['node_modules/**', 'build/**', 'dist/**', 'lab-out/**', 'test/golden/**', 'lab/labschema.validate.ts'],
    },
    {
      name: 'netloom/base',
      files: CODE,
      extends: [importX.flatConfigs.typescript],
      languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
      linterOptions: { reportUnusedDisableDirectives: 'error' },
      settings: {
        'import-x/resolver-next': [createTypeScriptImportResolver({ project: join(root, 'tsconfig.json') })],
      },
      plugins: { '@typescript-eslint': tseslint.plugin },
      rules: {
        'import-x/no-cycle': ['error', { ignoreExternal: true }],
        'import-x/no-restricted-paths': ['error', { basePath: root, zones: layerZones(root) }],
        // Side effects: nobody by default; the folders that may are below.
        '@typescript-eslint/no-restricted-imports': [
          'error',
          restrict(
            [...SIDE_EFFECTS.system, ...SIDE_EFFECTS.io, ...SIDE_EFFECTS.face],
            'system/ (processes, netlink), store/ (files, HTTP) and the faces (files, sockets, the process)',
          ),
        ],
        'max-lines': ['warn', { max: 400, skipBlankLines: false, skipComments: false }],
        'max-lines-per-function': ['warn', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }],
      },
    },
    {
      name: 'netloom/side-effects: store/',
      files: allFolders(['store']),
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          restrict([...SIDE_EFFECTS.system, ...SIDE_EFFECTS.face], 'system/ (processes, netlink) and the faces (the process)'),
        ],
      },
    },
    {
      name: 'netloom/side-effects: faces',
      files: allFolders(FACES),
      rules: {
        '@typescript-eslint/no-restricted-imports': ['error', restrict(SIDE_EFFECTS.system, 'system/ (processes, netlink)')],
      },
    },
    {
      name: 'netloom/side-effects: the DNS server sockets',
      files: DNS_SOCKET_FILES,
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          restrict(
            [...SIDE_EFFECTS.system, ...SIDE_EFFECTS.io.filter((m) => !/^(node:)?(net|dgram)$/.test(m)), ...SIDE_EFFECTS.face],
            'system/, store/ and the faces (dns/server.ts, udp.ts and forward.ts may open sockets)',
          ),
        ],
      },
    },
    {
      name: 'netloom/side-effects: system/',
      files: allFolders(['system']),
      rules: { '@typescript-eslint/no-restricted-imports': 'off' },
    },
    {
      name: 'netloom/tooling: test/, bench/, scripts/, bin/',
      files: TOOLING,
      rules: {
        'import-x/no-restricted-paths': 'off',
        '@typescript-eslint/no-restricted-imports': 'off',
        // Nothing imports these files, so no cycle runs through them; the sources' own check finds
        // every cycle among the sources (and following tests' imports would double the lint time).
        'import-x/no-cycle': 'off',
        'max-lines': ['warn', { max: 800, skipBlankLines: false, skipComments: false }],
        'max-lines-per-function': 'off',
      },
    },
  );
}

export default netloomConfig(import.meta.dirname);
