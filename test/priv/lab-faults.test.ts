// netloom lab faults for real: impairments (tc netem) measured by rtt and loss expectations, and
// the steps of a timeline (each action kind, expectations polled until they hold within a deadline,
// time to heal reported). Each lab runs in its own host namespace with its own netloomd; the suite
// checks this namespace is as before.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipUnlessRoot } from '../helpers/host.js';
import { EXAMPLES, lab, machine } from '../helpers/lab.js';

const NO_NETEM = /this kernel has no netem qdisc/;

describe('netloom lab faults', { skip: skipUnlessRoot }, () => {
  let dir: string;
  let before0: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netloom-lab-faults-'));
    before0 = await machine();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  test('delay 20ms, direction both, measures about 40 ms RTT (p50 printed beside the declared value)', async (t) => {
    const r = await lab('run', join(EXAMPLES, '13-netem.loom.yaml'), '--json', join(dir, 'netem.json'));
    if (r.exitCode === 3 && NO_NETEM.test(r.stderr)) {
      // The kernel lacks sch_netem: up says so (exit 3) and down still leaves nothing.
      assert.match(r.stdout, /netem +FAILED/);
      assert.match(r.stdout, /: down, nothing of it left/);
      assert.equal(await machine(), before0);
      return t.skip(`this kernel has no netem: ${r.stderr.trim().split('\n')[0]}`);
    }
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const m = /rtt a -> 10\.42\.0\.2 p50 40ms ±25%: p50 ([\d.]+) ms/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 35 && Number(m[1]) < 50, `p50 ${m[1]} ms`);
    assert.match(r.stdout, /loss a -> 10\.42\.0\.2 max 0%: 0% lost \(0 of 1000\)/);
    assert.equal(await machine(), before0);
  });

  test('rtt and loss are measured and printed; a wrong declaration fails with the measured value', async () => {
    const f = write(
      'measure.loom.yaml',
      `name: measure
networks:
  lan: {subnet: 10.43.0.0/24}
  other: {subnet: 10.44.0.0/24}
nodes:
  a: {networks: {lan: {ip: 10.43.0.10}}}
  b: {networks: {lan: {ip: 10.43.0.20}}}
  c: {networks: {other: {ip: 10.44.0.30}}}
expect:
  loss:
    - {from: a, to: b, max: 0%}
    - {from: a, to: c, max: 5%}
  rtt:
    - {from: a, to: b, p50: 40ms}
`,
    );
    const r = await lab('run', f, '--junit', join(dir, 'measure.xml'));
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /✓ loss a -> b max 0%: 0% lost \(0 of 1000\); declared max 0% \(to 10\.43\.0\.20\)/);
    assert.match(r.stdout, /X loss a -> c max 5%: 100% lost \(200 of 200\); declared max 5% \(to 10\.44\.0\.30\)/);
    assert.match(r.stdout, /X rtt a -> b p50 40ms ±25%: p50 \d+\.\d ms \(min .*25 of 25 echoes\); declared 40ms ±25%: 30\.0 ms to 50\.0 ms/);
    const junit = readFileSync(join(dir, 'measure.xml'), 'utf8');
    assert.match(junit, /<system-out>0% lost \(0 of 1000\)/);
    assert.match(r.stdout, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });
});
