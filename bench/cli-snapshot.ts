// A prototype, not the shipped CLI: what a V8 startup snapshot of the CLI's hot path would save
// (README, Performance, "The CLI"). Bundles cli/main.ts as one CommonJS file with the network and
// sandbox handlers in it and every other lazy import left out (a snapshot's main cannot import():
// "A dynamic import callback was not specified"), builds a blob with `node --build-snapshot`, and
// times `node --snapshot-blob BLOB netloom ARGS` beside bin/netloom.mjs and `node -e 0`, all three
// without NODE_EXTRA_CA_CERTS, connecting and disconnecting SANDBOX to NETWORK, interleaved.
//
//   node build/bench/cli-snapshot.js --socket S --network N --sandbox SB [--rounds 20]
//
// The daemon, the network and the sandbox are the caller's (e.g. bench/cli-startup.sh's setup).
// callgrind cannot count it: valgrind's node rejects the blob ("built with a different version of
// V8 or with different V8 configurations"), so this compares wall clocks only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { stats } from './engine-api.js';

const { values } = parseArgs({
  options: { socket: { type: 'string' }, network: { type: 'string' }, sandbox: { type: 'string' }, rounds: { type: 'string', default: '20' } },
});
const { socket, network, sandbox } = values;
if (!socket || !network || !sandbox) throw new Error('usage: cli-snapshot.js --socket S --network N --sandbox SB [--rounds 20]');
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), 'nl-clisnap-'));
const env: NodeJS.ProcessEnv = { ...process.env, NETLOOM_NO_AUTOSTART: '1' };
delete env.NODE_EXTRA_CA_CERTS;
try {
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(resolve('cli/main.ts'))};
import { startupSnapshot } from 'node:v8';
startupSnapshot.setDeserializeMainFunction(() => {
  main(process.argv.slice(2)).then((c) => { if (c >= 0) process.exitCode = c; }, (e) => { process.stderr.write(\`Error: \${e.message}\\n\`); process.exitCode = 1; });
});
`,
  );
  const cjs = join(dir, 'cli.cjs');
  const blob = join(dir, 'cli.blob');
  await build({
    entryPoints: [entry],
    outfile: cjs,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'hot-path-only',
        setup: (b) =>
          void b.onResolve({ filter: /.*/ }, (a) =>
            a.kind === 'dynamic-import' && !/handlers|network|sandbox|out|print/.test(a.path) ? { path: a.path, external: true } : undefined,
          ),
      },
    ],
  });
  const made = spawnSync('node', ['--snapshot-blob', blob, '--build-snapshot', cjs], { env, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`node --build-snapshot: ${made.stderr}`);
  const variants: Record<string, string[]> = {
    'bin/netloom.mjs': ['bin/netloom.mjs'],
    snapshot: ['node', '--snapshot-blob', blob, 'netloom'],
  };
  const t: Record<string, number[]> = {};
  const time = (label: string, cmd: string[], keep: boolean): void => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.status}: ${String(r.stderr).slice(0, 300)}`);
    if (keep) (t[label] ??= []).push(ms);
  };
  const load0 = loadavg()[0];
  for (let i = 0; i <= rounds; i++) {
    time('node -e 0', ['node', '-e', '0'], i > 0);
    for (const [name, cmd] of Object.entries(variants)) {
      for (const op of ['connect', 'disconnect']) time(`${name} ${op}`, [...cmd, '--socket', socket, 'network', op, network, sandbox], i > 0);
    }
  }
  console.log(`${rounds} rounds, load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}, without NODE_EXTRA_CA_CERTS\n`);
  console.log('| process | p50 ms | min ms | p95 ms |\n|---|---:|---:|---:|');
  for (const [k, v] of Object.entries(t)) {
    const s = stats(v);
    console.log(`| ${k} | ${s.p50.toFixed(1)} | ${Math.min(...v).toFixed(1)} | ${s.p95.toFixed(1)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
