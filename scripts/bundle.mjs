// Bundles the CLI and the daemon into dist/ with esbuild: the CLI is one small file that loads
// nothing it does not need (the daemon code is a lazily imported chunk), so `netloom` starts
// about as fast as node itself.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });

await build({
  entryPoints: { netloom: 'cli/entry.ts', netloomd: 'daemon/entry.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native and CommonJS packages stay in node_modules; they are only reached from the daemon.
  external: ['netlink', 'pino', 'fastify', 'execa', 'dns2', 'thread-stream'],
  // The lab's schema, YAML parser, validator and layout are bundled into the lab chunk (loaded on `netloom lab`).
  banner: { js: "import { createRequire as __nlcr } from 'node:module'; const require = __nlcr(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
});
