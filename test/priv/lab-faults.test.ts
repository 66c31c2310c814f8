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
import { CLI, EXAMPLES, lab, machine } from '../helpers/lab.js';
import { execa } from 'execa';

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

  test('link down/up and flapping (repeat, every): each step holds within its deadline, a suite per run', async () => {
    // examples/16-link-flap.loom.yaml without its netem (this kernel may lack sch_netem).
    const text = readFileSync(join(EXAMPLES, '16-link-flap.loom.yaml'), 'utf8')
      .replace(/^requires:.*\n/m, '')
      .replace(/, netem: \{[^}]*\}/, '')
      .replace(/^expect:\n(?:  .*\n)+/m, '')
      .replace(/  - name: more delay[^]*$/, '');
    const f = write('flap.loom.yaml', text);
    const r = await lab('run', f, '--junit', join(dir, 'flap.xml'));
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    for (const s of ['step 1 link down', 'step 2 link up', 'step 3 \\(1/3\\) flap', 'step 3 \\(2/3\\) flap', 'step 3 \\(3/3\\) flap']) {
      assert.match(r.stdout, new RegExp(`^${s}: held after \\d+\\.\\d\\d s \\(within \\d+s\\)$`, 'm'));
    }
    const junit = readFileSync(join(dir, 'flap.xml'), 'utf8');
    assert.equal((junit.match(/<testsuite name="step /g) ?? []).length, 5);
    assert.match(junit, /<testsuite name="step 1: link down" tests="2" failures="0" errors="0" time="[\d.]+">/);
    assert.match(junit, /<testcase classname="flap.step" name="do link r1:p0 down"\/>/);
    assert.match(junit, /<property name="time_to_heal" value="[\d.]+"\/>/);
    assert.equal(await machine(), before0);
  });

  test('connect, disconnect, node stop/start, exec and wait; a step that does not hold fails at its deadline (exit 1, JUnit, JSON)', async () => {
    const f = write(
      'steps.loom.yaml',
      `name: steps
networks:
  lan: {subnet: 10.45.0.0/24}
  side: {subnet: 10.46.0.0/24}
nodes:
  a: {networks: {lan: {ip: 10.45.0.10}}, serve: [tcp/80], exec: ["ip link set lo up"]}
  b: {networks: {lan: {ip: 10.45.0.20}}}
  c: {networks: {side: {ip: 10.46.0.30}}}
links:
  - {a: "a:p0", b: "c:p0", a_ip: 10.47.0.1/30, b_ip: 10.47.0.2/30}
expect:
  reach:
    - {probe: icmp, nodes: [a, b, c], allow: ["a<->b", "a<->c"]}
steps:
  - name: c joins lan
    do: [{connect: c, network: lan}]
    expect:
      reach: [{probe: icmp, nodes: [a, b, c], allow: ["*->*"]}]
      dns: [{from: b, name: c, answer: ANY}]
  - name: c leaves lan
    do: [{disconnect: c, network: lan}]
    expect: {reach: same}
  - name: a stopped
    do: [{node: a, state: stop}]
    expect: {reach: [{probe: icmp, nodes: [b, c], allow: []}], commands: [{node: b, run: "ping -c1 -W1 10.45.0.10", exit: 1}]}
  - name: a started with the same settings
    do: [{node: a, state: start}, {wait: 100ms}, {exec: {node: b, run: "echo from-b"}}]
    expect:
      reach: same
      commands: [{node: a, run: "ip -4 -o addr show eth0", contains: "10.45.0.10/24"}, {node: a, run: "ip -4 -o addr show p0", contains: "10.47.0.1/30"}]
      files: [{node: a, path: /etc/hostname, lacks: "nonsense"}]
  - name: tcp/80 answers again
    expect: {reach: [{probe: tcp/80, nodes: [b, a], allow: ["b->a"]}]}
  - name: never holds
    within: 1s
    do: [{exec: {node: b, run: "true"}}]
    expect: {reach: [{probe: icmp, nodes: [b, c], allow: ["b->c"]}]}
`,
    );
    const r = await lab('run', f, '--junit', join(dir, 'steps.xml'), '--json', join(dir, 'steps.json'));
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    for (const n of [1, 2, 3, 4, 5]) assert.match(r.stdout, new RegExp(`^step ${n} .*: held after \\d+\\.\\d\\d s`, 'm'));
    assert.match(r.stdout, /^step 6 never holds: did not hold within 1s$/m);
    assert.match(r.stdout, /X step reach icmp: b -> c \(expected reached\): denied/);
    const junit = readFileSync(join(dir, 'steps.xml'), 'utf8');
    assert.match(junit, /<testsuite name="step 6: never holds" tests="3" failures="1" errors="0">/);
    assert.match(junit, /<property name="time_to_heal" value="never"\/>/);
    assert.match(junit, /<testcase classname="steps.step" name="do exec b: echo from-b \(from-b\)"\/>/);
    const json = JSON.parse(readFileSync(join(dir, 'steps.json'), 'utf8')) as { suites: { name: string; step?: { healedMs?: number; polls: number } }[] };
    const steps = json.suites.filter((s) => s.step);
    assert.equal(steps.length, 6);
    assert.ok(steps.slice(0, 5).every((s) => typeof s.step!.healedMs === 'number'));
    assert.equal(steps[5].step!.healedMs, undefined);
    assert.ok(steps[5].step!.polls >= 1);
    assert.match(r.stdout, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });

  test('iptables flush really flushes: with the firewall guard off, the published port stays closed and the step fails at its deadline', async () => {
    const text = readFileSync(join(EXAMPLES, '14-firewall-flush.loom.yaml'), 'utf8')
      .replace(/^name: fwflush$/m, 'name: fwnoguard\ndaemon: {firewall-check: "0"}')
      .replace(/within: 10s/g, 'within: 2s');
    const f = write('noguard.loom.yaml', text);
    const r = await lab('run', f);
    if (r.exitCode === 3 && /config-file/.test(r.stderr)) assert.fail(`this netloomd refuses daemon settings: ${r.stderr}`);
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^step 1 nat flushed: did not hold within 2s$/m);
    assert.match(r.stdout, /X step ports: host -> web:80 open: closed/);
    assert.match(r.stdout, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });

  test('a step naming no node is an error at FILE:LINE:COL (exit 2)', async () => {
    const bad = write('bad.loom.yaml', 'name: bad\nnodes:\n  a: {}\nsteps:\n  - name: x\n    do: [{link: "zz:eth0", state: down}]\n');
    const r = await lab('validate', bad);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /bad\.loom\.yaml:6:\d+: step "x": no node "zz" \(nodes: a\)/);
  });

  test('check --retry: a case as expected only on a retry is flaky (table, JUnit, JSON), never a plain pass; without --retry it fails', async () => {
    // The command fails the first time it runs and passes after (a marker file in this suite's private /run).
    const marker = `/run/netloom-flaky-${process.pid}`;
    const f = write(
      'flaky.loom.yaml',
      `name: flaky
networks:
  lan: {subnet: 10.48.0.0/24}
nodes:
  a: {networks: [lan]}
  b: {networks: [lan]}
expect:
  reach: [{probe: icmp, nodes: [a, b], allow: ["a<->b"]}]
  commands: [{node: a, run: "test -e ${marker} || { touch ${marker}; exit 1; }"}]
`,
    );
    try {
      const up = await lab('up', f);
      assert.equal(up.exitCode, 0, up.stderr);
      const plain = await lab('check', f);
      assert.equal(plain.exitCode, 1, plain.stdout);
      rmSync(marker, { force: true });
      const bad = await lab('check', f, '--retry', 'many');
      assert.equal(bad.exitCode, 2);
      assert.match(bad.stderr, /invalid --retry "many": expected a whole number from 0 to 10/);
      const r = await lab('check', f, '--retry', '2', '--junit', join(dir, 'flaky.xml'), '--json', join(dir, 'flaky.json'));
      assert.equal(r.exitCode, 0, r.stdout);
      assert.match(r.stdout, /~ commands a: test -e .* \(flaky: passed only on try 2; first fail: exited 1, expected 0\)/);
      assert.match(r.stdout, /lab flaky: 3 of 3 as expected \(1 only on a retry: flaky\)/);
      assert.match(readFileSync(join(dir, 'flaky.xml'), 'utf8'), /<flakyFailure message="passed only on try 2; first fail: exited 1, expected 0">/);
      assert.equal((JSON.parse(readFileSync(join(dir, 'flaky.json'), 'utf8')) as { summary: { flaky: number } }).summary.flaky, 1);
    } finally {
      rmSync(marker, { force: true });
      const down = await lab('down', f);
      assert.equal(down.exitCode, 0, down.stderr);
    }
    assert.equal(await machine(), before0);
  });

  test('capture: tcpdump in a node for a duration writes a pcap with the probe; --capture-failures keeps one per failed cell', async () => {
    const f = write(
      'cap.loom.yaml',
      `name: cap
networks:
  lan: {subnet: 10.49.0.0/24}
nodes:
  a: {networks: {lan: {ip: 10.49.0.10}}}
  b: {networks: {lan: {ip: 10.49.0.20}}}
expect:
  reach: [{probe: icmp, nodes: [a, b], allow: ["a->b"]}]
`,
    );
    try {
      assert.equal((await lab('up', f)).exitCode, 0);
      const pcap = join(dir, 'b.pcap');
      const capture = execa(process.execPath, [CLI, 'lab', 'capture', f, 'b:eth0', '-w', pcap, '--for', '3s'], {
        reject: false,
        env: { NETLOOM_NO_AUTOSTART: '1' },
      });
      // Once tcpdump listens, a ping from a to b.
      await new Promise<void>((res) => {
        const t = setTimeout(res, 5000);
        capture.stderr?.on('data', (d: Buffer) => /listening on/.test(d.toString()) && (clearTimeout(t), res()));
      });
      assert.equal((await lab('exec', f, 'a', '--', 'ping', '-c2', '-W1', '10.49.0.20')).exitCode, 0);
      const c = await capture;
      assert.equal(c.exitCode, 0, String(c.stderr));
      const read = await execa('tcpdump', ['-n', '-r', pcap, 'icmp'], { reject: false });
      assert.match(String(read.stdout), /10\.49\.0\.10 > 10\.49\.0\.20: ICMP echo request/);
      const badNode = await lab('capture', f, 'zz');
      assert.equal(badNode.exitCode, 2);
      assert.match(badNode.stderr, /no node "zz" in lab cap \(nodes: a, b\)/);
      // b -> a answers, but the file says it must not: that cell is captured.
      const caps = join(dir, 'caps');
      const r = await lab('check', f, '--capture-failures', caps);
      assert.equal(r.exitCode, 1, r.stdout);
      const file = join(caps, 'reach_icmp-b-a.pcap');
      assert.match(r.stdout, new RegExp(`captured ${file.replace(/[.]/g, '\\.')}`));
      const got = await execa('tcpdump', ['-n', '-r', file, 'icmp'], { reject: false });
      assert.match(String(got.stdout), /10\.49\.0\.20 > 10\.49\.0\.10: ICMP echo request/);
    } finally {
      assert.equal((await lab('down', f)).exitCode, 0);
    }
    assert.equal(await machine(), before0);
  });
});
