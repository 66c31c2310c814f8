// bin/netloom.mjs starts node without NODE_EXTRA_CA_CERTS (Node 20 parses that bundle at every
// start; the CLI speaks no TLS) and cli/launch.ts puts the value back for the programs the CLI
// runs. Checked on the real launcher: node reports a bundle it cannot read at start, so its
// warning shows whether the bundle was loaded; a probe module shows the environment at exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { restoreExtraCaCerts, SAVED_EXTRA_CA_CERTS } from '../../cli/launch.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'netloom.mjs');
const dir = mkdtempSync(join(tmpdir(), 'nl-launch-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const probe = join(dir, 'probe.mjs');
writeFileSync(
  probe,
  "process.on('exit', () => process.stderr.write(`probe ${JSON.stringify([process.env.NODE_EXTRA_CA_CERTS ?? null, process.env.NETLOOM_NODE_EXTRA_CA_CERTS ?? null])}\\n`));\n",
);
const MISSING = join(dir, 'no such dir', 'ca.pem');
const WARNING = /Ignoring extra certs from/;

/** Runs `netloom --help` as `file args`, with NODE_EXTRA_CA_CERTS set to `ca` (or unset). */
function run(file: string, args: string[], ca: string | undefined): { stderr: string; probe: [string | null, string | null] } {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${probe}` };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env[SAVED_EXTRA_CA_CERTS];
  if (ca !== undefined) env.NODE_EXTRA_CA_CERTS = ca;
  const r = spawnSync(file, [...args, '--help'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const line = /^probe (.*)$/m.exec(r.stderr);
  assert.ok(line, `the probe reported: ${r.stderr}`);
  return { stderr: r.stderr, probe: JSON.parse(line[1]) as [string | null, string | null] };
}

describe('bin/netloom.mjs and NODE_EXTRA_CA_CERTS', () => {
  test('node run directly loads the bundle (the warning this test looks for exists)', () => {
    const r = run(process.execPath, [bin], MISSING);
    assert.match(r.stderr, WARNING);
    assert.deepEqual(r.probe, [MISSING, null]);
  });

  test('the launcher starts node without it and the CLI puts it back for its children', () => {
    const r = run(bin, [], MISSING);
    assert.doesNotMatch(r.stderr, WARNING);
    assert.deepEqual(r.probe, [MISSING, null]);
  });

  test('unset stays unset, and a path with spaces survives', () => {
    assert.deepEqual(run(bin, [], undefined).probe, [null, null]);
    const spaced = join(dir, 'a b', 'c d.pem');
    assert.deepEqual(run(bin, [], spaced).probe, [spaced, null]);
  });
});

describe('restoreExtraCaCerts', () => {
  test('puts the saved value back and removes the copy', () => {
    const env: NodeJS.ProcessEnv = { [SAVED_EXTRA_CA_CERTS]: '/x/ca.pem', PATH: '/bin' };
    restoreExtraCaCerts(env);
    assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/x/ca.pem', PATH: '/bin' });
  });
  test('an empty copy (it was unset) leaves it unset', () => {
    const env: NodeJS.ProcessEnv = { [SAVED_EXTRA_CA_CERTS]: '' };
    restoreExtraCaCerts(env);
    assert.deepEqual(env, {});
  });
  test('without the launcher nothing changes, and a value set since wins', () => {
    const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/y.pem' };
    restoreExtraCaCerts(env);
    assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/y.pem' });
    const both: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/y.pem', [SAVED_EXTRA_CA_CERTS]: '/x.pem' };
    restoreExtraCaCerts(both);
    assert.deepEqual(both, { NODE_EXTRA_CA_CERTS: '/y.pem' });
  });
});
