// The lab's faults, pure parts: netem parameters into tc batch lines (one-way per direction,
// nothing for what is not given), merging a change into what is in force, the file's netem and
// rtt/loss blocks, and the measurement's parsing and verdicts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { lossProbes, lossVerdict, median, parsePing, pickAddress, rttVerdict } from '../../lab/measure.js';
import { durationMs, mergeNetem, NETEM_PARAMS, netemArgs, netemProblem, percent, tcBatches, type Netem } from '../../lab/netem.js';
import { describeAction } from '../../lab/model.js';
import { counts, exitCode, reachSuite, renderJson, renderJUnit, renderTap, renderText, type CheckReport, type Suite } from '../../lab/report.js';
import { mergeRetry, needsRetry } from '../../lab/retry.js';
import { verdict } from '../../lab/truth.js';
import { resolveTarget } from '../../lab/steps.js';
import { underlayAddress } from '../../lab/cluster.js';
import { LabFileError, parseLab } from '../../lab/topology.js';

const SIDES = { aToB: { ns: 'lab-n1', dev: 'p0' }, bToA: { ns: 'lab-n2', dev: 'p0' } };
const ATT = { aToB: { ns: 'lab-n1', dev: 'eth0' }, bToA: { dev: 'veth1a2b' } };

describe('netem into tc', () => {
  test('every parameter in tc order; a delay with jitter is one clause', () => {
    assert.deepEqual(netemArgs({ delay: '20ms', jitter: '2ms', loss: '1%', rate: '10mbit', corrupt: '0.1%', duplicate: '0.2%', reorder: '1%' }), [
      'delay',
      '20ms',
      '2ms',
      'loss',
      '1%',
      'duplicate',
      '0.2%',
      'corrupt',
      '0.1%',
      'reorder',
      '1%',
      'rate',
      '10mbit',
    ]);
  });

  test('a parameter not given is absent, never 0 (property)', () => {
    fc.assert(
      fc.property(fc.subarray([...NETEM_PARAMS]), (given) => {
        const n: Record<string, string> = {};
        for (const p of given) n[p] = p === 'delay' || p === 'jitter' ? '5ms' : p === 'rate' ? '1mbit' : '1%';
        const args = netemArgs(n);
        for (const p of NETEM_PARAMS.filter((x) => x !== 'jitter')) assert.equal(args.includes(p), given.includes(p));
        assert.ok(!args.includes('0') && !args.includes('0%') && !args.includes('0ms'));
      }),
    );
  });

  test("direction: both impairs each side, a-to-b only a's egress, b-to-a only b's; batched per namespace", () => {
    const both = tcBatches([{ sides: SIDES, netem: { delay: '20ms', direction: 'both' } }]);
    assert.deepEqual(
      [...both],
      [
        ['lab-n1', ['qdisc replace dev p0 root netem delay 20ms']],
        ['lab-n2', ['qdisc replace dev p0 root netem delay 20ms']],
      ],
    );
    assert.deepEqual([...tcBatches([{ sides: SIDES, netem: { loss: '5%', direction: 'a-to-b' } }])], [['lab-n1', ['qdisc replace dev p0 root netem loss 5%']]]);
    assert.deepEqual([...tcBatches([{ sides: SIDES, netem: { loss: '5%', direction: 'b-to-a' } }])], [['lab-n2', ['qdisc replace dev p0 root netem loss 5%']]]);
    // An attachment: a-to-b (node -> network) on the node's eth0, b-to-a on the host-side veth in the lab host ('').
    const att = tcBatches([
      { sides: ATT, netem: { delay: '1ms', direction: 'b-to-a' } },
      { sides: SIDES, netem: { delay: '3ms', direction: 'a-to-b' } },
      { sides: { aToB: { ns: 'lab-n1', dev: 'eth1' }, bToA: { dev: 'vethx' } }, netem: { rate: '1mbit', direction: 'a-to-b' } },
    ]);
    assert.deepEqual(
      [...att],
      [
        ['', ['qdisc replace dev veth1a2b root netem delay 1ms']],
        ['lab-n1', ['qdisc replace dev p0 root netem delay 3ms', 'qdisc replace dev eth1 root netem rate 1mbit']],
      ],
    );
  });

  test('clearing deletes the root qdisc on the directions named', () => {
    assert.deepEqual(
      [...tcBatches([{ sides: SIDES, direction: 'both' }])],
      [
        ['lab-n1', ['qdisc del dev p0 root']],
        ['lab-n2', ['qdisc del dev p0 root']],
      ],
    );
  });

  test('a change keeps the parameters it does not name; clear removes them all', () => {
    const cur: Netem = { delay: '20ms', jitter: '2ms', direction: 'both' };
    assert.deepEqual(mergeNetem(cur, { loss: '10%' }, false), { delay: '20ms', jitter: '2ms', loss: '10%', direction: 'both' });
    assert.deepEqual(mergeNetem(cur, { delay: '5ms', direction: 'a-to-b' }, false), { delay: '5ms', jitter: '2ms', direction: 'a-to-b' });
    assert.equal(mergeNetem(cur, {}, true), undefined);
    assert.deepEqual(mergeNetem(undefined, { loss: '1%' }, false), { loss: '1%' });
  });

  test('impossible combinations are named; durations and percentages', () => {
    assert.match(netemProblem({ jitter: '2ms' }) ?? '', /jitter needs a delay/);
    assert.match(netemProblem({ reorder: '1%' }) ?? '', /reorder needs a delay/);
    assert.match(netemProblem({ direction: 'both' }) ?? '', /no impairment given/);
    assert.equal(netemProblem({ delay: '1ms', reorder: '1%' }), undefined);
    assert.equal(durationMs('20ms'), 20);
    assert.equal(durationMs('1.5s'), 1500);
    assert.equal(durationMs('300us'), 0.3);
    assert.throws(() => durationMs('20'), /invalid duration "20"/);
    assert.equal(percent('2%'), 0.02);
    assert.throws(() => percent('150%'), /invalid percentage "150%"/);
  });
});

const LAB = (netem: string, expect = '') => `name: imp
networks:
  front: {subnet: 10.9.0.0/24}
nodes:
  n1: {networks: {front: {netem: ${netem}}}}
  n2: {networks: [front]}
links:
  - {a: "n1:p0", b: "n2:p0", a_ip: 10.1.1.1/30, b_ip: 10.1.1.2/30, netem: {loss: 1%, direction: b-to-a}}
expect:
  reach: [{probe: icmp, nodes: [n1, n2], allow: ["n1<->n2"]}]
${expect}`;

describe('the file: netem, rtt and loss', () => {
  test('netem on an attachment and a link, direction both by default', () => {
    const lab = parseLab(
      LAB('{delay: 20ms, jitter: 2ms}', '  rtt: [{from: n1, to: n2, p50: 40ms}]\n  loss: [{from: n2, to: 10.1.1.1, max: 2%}]\n'),
      'x.loom.yaml',
    );
    const n1 = lab.nodes[0];
    assert.ok(n1.mode.kind === 'networks');
    assert.deepEqual(n1.mode.attach[0].netem, { delay: '20ms', jitter: '2ms', direction: 'both' });
    assert.deepEqual(lab.links[0].netem, { loss: '1%', direction: 'b-to-a' });
    assert.deepEqual(lab.expect.rtt, [{ from: 'n1', to: 'n2', p50: '40ms', p50Ms: 40, tolerance: '25%', toleranceFrac: 0.25 }]);
    assert.deepEqual(lab.expect.loss, [{ from: 'n2', to: '10.1.1.1', max: '2%', maxFrac: 0.02 }]);
  });

  test('errors at FILE:LINE:COL: a bad value, an unknown parameter, jitter without delay, an unknown node', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => parseLab(text, 'x.loom.yaml'),
        (e: unknown) => e instanceof LabFileError && re.test(e.message),
      );
    bad(LAB('{delay: 20}'), /^x\.loom\.yaml:5:\d+: nodes\.n1\.networks\.front\.netem\.delay /);
    bad(LAB('{latency: 20ms}'), /^x\.loom\.yaml:5:\d+: unknown key "latency" in nodes\.n1\.networks\.front\.netem/);
    bad(LAB('{jitter: 2ms}'), /^x\.loom\.yaml:5:\d+: netem: jitter needs a delay/);
    bad(LAB('{delay: 1ms, direction: up}'), /direction must be one of both, a-to-b, b-to-a/);
    bad(LAB('{delay: 1ms}', '  rtt: [{from: n1, to: n9, p50: 40ms}]\n'), /^x\.loom\.yaml:11:\d+: no node "n9"/);
  });
});

const PING = `PING 10.1.1.2 (10.1.1.2) 56(84) bytes of data.
64 bytes from 10.1.1.2: icmp_seq=1 ttl=64 time=40.2 ms
64 bytes from 10.1.1.2: icmp_seq=2 ttl=64 time=39.8 ms
64 bytes from 10.1.1.2: icmp_seq=4 ttl=64 time=41.0 ms

--- 10.1.1.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 3004ms
`;

describe('measuring', () => {
  test('ping output: times and the summary', () => {
    assert.deepEqual(parsePing(PING), { sent: 4, received: 3, timesMs: [40.2, 39.8, 41.0] });
    assert.deepEqual(parsePing('2 packets transmitted, 0 received, 100% packet loss'), { sent: 2, received: 0, timesMs: [] });
  });

  test('median, and the verdicts print the measured value beside the declared one', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    const rtt = { from: 'a', to: 'b', p50: '40ms', p50Ms: 40, tolerance: '10%', toleranceFrac: 0.1 };
    const ok = rttVerdict(rtt, parsePing(PING));
    assert.equal(ok.ok, true);
    assert.match(ok.measured, /^p50 40\.2 ms \(min 39\.8 ms, max 41\.0 ms, 3 of 4 echoes\); declared 40ms ±10%: 36\.0 ms to 44\.0 ms$/);
    assert.equal(rttVerdict({ ...rtt, p50: '20ms', p50Ms: 20 }, parsePing(PING)).ok, false);
    assert.match(rttVerdict(rtt, { sent: 5, received: 0, timesMs: [] }).measured, /no reply to 5 echo requests/);
    const loss = { from: 'a', to: 'b', max: '2%', maxFrac: 0.02 };
    assert.deepEqual(lossVerdict(loss, { sent: 500, received: 495, timesMs: [] }), { ok: true, measured: '1% lost (5 of 500); declared max 2%' });
    assert.equal(lossVerdict(loss, parsePing(PING)).ok, false);
    assert.equal(lossVerdict({ ...loss, max: '0%', maxFrac: 0 }, { sent: 100, received: 100, timesMs: [] }).ok, true);
  });

  test('enough probes: the allowed maximum is at least ten of them, from 100 to 1000', () => {
    assert.equal(lossProbes(0.02), 500);
    assert.equal(lossProbes(0.5), 100);
    assert.equal(lossProbes(0), 1000);
    fc.assert(fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), (f) => lossProbes(f) * f >= 10 - 1e-9 || lossProbes(f) === 100));
  });

  test('the probed address is the one on a subnet both share', () => {
    assert.equal(pickAddress(['10.1.1.1/30', '10.9.0.2/24'], ['10.9.0.3/24', '10.1.1.2/30']), '10.9.0.3');
    assert.equal(pickAddress(['10.1.1.1/30'], ['10.9.0.3/24', '10.1.1.2/30']), '10.1.1.2');
    assert.equal(pickAddress(['172.16.0.2/24'], ['10.9.0.3/24']), '10.9.0.3');
    assert.equal(pickAddress([], []), undefined);
  });
});

const STEPS = `name: st
networks:
  lan: {subnet: 10.9.0.0/24}
nodes:
  a: {networks: {lan: {netem: {delay: 5ms}}}}
  b: {networks: [lan]}
links:
  - {a: "a:p0", b: "b:p0"}
expect:
  reach: [{probe: icmp, nodes: [a, b], allow: ["a<->b"]}]
steps:
  - name: everything
    do:
      - {link: "a:p0", state: down}
      - {netem: {target: "a:p0", loss: 5%}}
      - {netem: {target: "a:lan", clear: true}}
      - {connect: b, network: bridge}
      - {disconnect: b, network: lan}
      - {node: a, state: stop}
      - {daemon: kill}
      - {iptables: flush, table: nat}
      - {iptables: flush, chain: FORWARD}
      - {exec: {node: a, run: "true"}}
      - {wait: 1.5s}
    within: 2s
    repeat: 3
    every: 4s
    expect: {reach: same, loss: [{from: a, to: b, max: 1%}]}
  - name: defaults
    expect: {commands: [{node: a, run: "true"}]}
`;

describe('the file: steps', () => {
  test('every action kind, reach: same, within, repeat and every; defaults', () => {
    const lab = parseLab(STEPS, 's.loom.yaml');
    const [s1, s2] = lab.steps;
    assert.deepEqual(s1.actions.map(describeAction), [
      'link a:p0 down',
      'netem a:p0 loss 5% (both)',
      'netem a:lan clear',
      'connect b bridge',
      'disconnect b lan',
      'node a stop',
      'daemon kill',
      'iptables flush nat',
      'iptables flush filter FORWARD',
      'exec a: true',
      'wait 1.5s',
    ]);
    assert.deepEqual(s1.expect.reach, lab.expect.reach);
    assert.equal(s1.expect.loss.length, 1);
    assert.deepEqual([s1.withinMs, s1.repeat, s1.everyMs], [2000, 3, 4000]);
    assert.deepEqual([s2.withinMs, s2.repeat, s2.everyMs, s2.actions.length, s2.expect.reach.length], [5000, 1, 0, 0, 0]);
    assert.deepEqual(resolveTarget(lab, 'b:p0'), { kind: 'link', index: 0 });
    assert.deepEqual(resolveTarget(lab, 'a:lan'), { kind: 'attachment', node: 'a', network: 'lan' });
  });

  test('bad steps are errors at FILE:LINE:COL', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => parseLab(text, 's.loom.yaml'),
        (e: unknown) => e instanceof LabFileError && re.test(e.message),
      );
    const base = STEPS.slice(0, STEPS.indexOf('steps:'));
    bad(`${base}steps:\n  - name: x\n    do: [{link: "zz:p0", state: down}]\n`, /^s\.loom\.yaml:13:\d+: step "x": no node "zz" \(nodes: a, b\)/);
    bad(
      `${base}steps:\n  - name: x\n    do: [{netem: {target: "a:p9", delay: 1ms}}]\n`,
      /netem target a:p9: p9 is neither a point-to-point interface of a nor a network/,
    );
    bad(`${base}steps:\n  - name: x\n    do: [{netem: {target: "a:p0"}}]\n`, /netem a:p0: give parameters to change, or clear: true/);
    bad(`${base}steps:\n  - name: x\n    do: [{connect: b, network: nowhere}]\n`, /step "x": no network "nowhere"/);
    bad(`${base}steps:\n  - name: x\n    do: [{daemon: pause}]\n`, /^s\.loom\.yaml:13:\d+: /);
    bad(`${base}steps:\n  - name: x\n`, /step "x" neither does nor expects anything/);
    bad(`${base}steps:\n  - name: x\n    every: 1s\n    do: [{wait: 1s}]\n`, /every needs repeat/);
    bad(STEPS.replace('  reach: [{probe: icmp, nodes: [a, b], allow: ["a<->b"]}]', '  reach: same'), /reach: same is for a step/);
  });
});

describe('step reports', () => {
  const step = (healedMs?: number): Suite => ({
    kind: 'step',
    name: 'step 1: nat flushed',
    cases: [
      { name: 'do iptables flush nat', status: 'pass' },
      healedMs === undefined
        ? { name: 'ports: host -> web:80 open', status: 'fail', message: 'closed' }
        : { name: 'ports: host -> web:80 open', status: 'pass' },
    ],
    step: { index: 0, name: 'nat flushed', run: 1, runs: 1, withinMs: 5000, polls: 3, ...(healedMs !== undefined ? { healedMs } : {}) },
  });
  const rep = (s: Suite): CheckReport => ({ lab: 'x', file: 'x.loom.yaml', suites: [s] });

  test('text: time to heal or the deadline missed; exit 1 when a step did not hold', () => {
    assert.match(renderText(rep(step(1234))), /^step 1: nat flushed: held after 1\.23 s \(deadline 5\.00 s, 3 poll\(s\)\)$/m);
    const failed = renderText(rep(step()));
    assert.match(failed, /^step 1: nat flushed: did not hold within 5\.00 s \(3 poll\(s\)\)$/m);
    assert.match(failed, /^ {2}X step ports: host -> web:80 open: closed$/m);
    assert.equal(exitCode(rep(step())), 1);
    assert.equal(exitCode(rep(step(10))), 0);
  });

  test('JUnit: a testsuite per step with its time to heal; TAP: a comment per step', () => {
    const j = renderJUnit(rep(step(1234)));
    assert.match(j, /<testsuite name="step 1: nat flushed" tests="2" failures="0" errors="0" time="1\.234">/);
    assert.match(j, /<property name="time_to_heal" value="1\.234"\/>/);
    assert.match(renderJUnit(rep(step())), /<property name="time_to_heal" value="never"\/>/);
    const t = renderTap(rep(step()));
    assert.match(t, /^# step 1: nat flushed: did not hold within 5\.00 s/m);
    assert.match(t, /^not ok 2 - step 1: nat flushed: ports: host -> web:80 open$/m);
  });
});

describe('check --retry: flaky, never a plain pass', () => {
  const cell = (to: string, actual: boolean, expected = true) => ({
    from: 'a',
    to,
    expected,
    actual,
    answered: actual ? [`10.0.0.${to.length}`] : [],
    tried: ['10.0.0.9'],
  });
  const first: CheckReport = {
    lab: 'x',
    file: 'x.loom.yaml',
    suites: [
      reachSuite({ probe: 'icmp', nodes: ['a', 'b', 'cc'], cells: [cell('b', false), cell('cc', false)] }),
      {
        kind: 'commands',
        name: 'commands',
        cases: [
          { name: 'a: true', status: 'fail', message: 'exited 1, expected 0' },
          { name: 'a: ok', status: 'pass' },
        ],
      },
    ],
  };
  const again: CheckReport = {
    ...first,
    suites: [
      reachSuite({ probe: 'icmp', nodes: ['a', 'b', 'cc'], cells: [cell('b', true), cell('cc', false)] }),
      {
        kind: 'commands',
        name: 'commands',
        cases: [
          { name: 'a: true', status: 'pass' },
          { name: 'a: ok', status: 'fail', message: 'now broken' },
        ],
      },
    ],
  };

  test('a failure as expected on a retry is flaky; one still failing stays failed; a first pass is kept', () => {
    assert.equal(needsRetry(first), true);
    const m = mergeRetry(first, again, 2);
    const [reach, cmds] = m.suites;
    assert.deepEqual(
      reach.reach!.cells.map((c) => [c.to, verdict(c), c.flaky?.attempt]),
      [
        ['b', 'correct', 2],
        ['cc', 'wrong', undefined],
      ],
    );
    assert.deepEqual(reach.reach!.cells[0].flaky, { attempt: 2, first: 'denied' });
    assert.deepEqual(
      cmds.cases.map((k) => [k.status, k.flaky?.attempt]),
      [
        ['pass', 2],
        ['pass', undefined],
      ],
    );
    assert.equal(cmds.cases[0].flaky!.first, 'fail: exited 1, expected 0');
    assert.equal(counts(m).flaky, 2);
    assert.equal(needsRetry(m), true);
    assert.equal(
      needsRetry(
        mergeRetry(
          m,
          { ...again, suites: [reachSuite({ probe: 'icmp', nodes: ['a', 'b', 'cc'], cells: [cell('b', true), cell('cc', true)] }), again.suites[1]] },
          3,
        ),
      ),
      false,
    );
  });

  test('the table marks ~, the summary counts flaky, JUnit has <flakyFailure>, TAP and JSON say so', () => {
    const m = mergeRetry(first, again, 2);
    const text = renderText(m);
    assert.match(text, /; \. as expected, X not as expected, ~ as expected only on retry \(flaky\)\)/);
    assert.match(text, /^a +- +~ +X$/m);
    assert.match(text, /^ {2}~ a -> b: flaky: as expected only on try 2; first denied$/m);
    assert.match(text, /^reach icmp: 1 correct \(1 flaky\), 1 wrong$/m);
    assert.match(text, /^ {2}~ commands a: true \(flaky: passed only on try 2; first fail: exited 1, expected 0\)$/m);
    assert.match(text, /lab x: 3 of 4 as expected \(2 only on a retry: flaky\), 1 not/);
    const j = renderJUnit(m);
    assert.match(j, /<testcase classname="x\.reach" name="a -&gt; b \(expected reached\)">\n {6}<flakyFailure message="passed only on try 2; first denied">/);
    assert.match(renderTap(m), /^ok 1 - reach icmp: a -> b \(expected reached\) \(flaky: passed only on try 2\)$/m);
    const json = JSON.parse(renderJson(m)) as { summary: { flaky: number } };
    assert.equal(json.summary.flaky, 2);
  });
});

const MULTI = `name: mh
hosts: {a: {}, b: {}}
cluster: {etcd_members: 3}
networks:
  multi: {driver: overlay, subnet: 10.60.0.0/24}
nodes:
  web: {host: a, networks: [multi]}
  api: {host: b, networks: [multi]}
  dflt: {networks: [bridge]}
steps:
  - name: faults
    do: [{partition: [b]}, {heal: true}, {etcd: stop, member: 2}, {etcd: start}, {daemon: kill, host: b}, {daemon: start}]
`;

describe('the file: multi-host labs', () => {
  test('hosts, nodes placed on them (the first by default), cluster settings, cluster actions', () => {
    const lab = parseLab(MULTI, 'm.loom.yaml');
    assert.deepEqual(lab.hosts, ['a', 'b']);
    assert.deepEqual(lab.cluster, { etcdMembers: 3, underlay: '10.250.0.0/24' });
    assert.deepEqual(
      lab.nodes.map((n) => [n.key, n.host]),
      [
        ['web', 'a'],
        ['api', 'b'],
        ['dflt', 'a'],
      ],
    );
    assert.deepEqual(lab.steps[0].actions.map(describeAction), ['partition b', 'heal', 'etcd stop member 2', 'etcd start', 'daemon kill on b', 'daemon start']);
    assert.deepEqual(underlayAddress('10.250.0.0/24', 'etcd', 1), { ip: '10.250.0.1', prefix: 24 });
    assert.deepEqual(underlayAddress('10.250.0.0/24', 'host', 2), { ip: '10.250.0.13', prefix: 24 });
    assert.equal(
      parseLab(
        MULTI.replace('hosts: {a: {}, b: {}}\ncluster: {etcd_members: 3}\n', '')
          .replace('driver: overlay', 'driver: bridge')
          .replace(/host: [ab], /g, '')
          .replace(/  - name: faults\n.*\n/, '  - name: x\n    do: [{wait: 1s}]\n'),
        'm.loom.yaml',
      ).hosts.length,
      0,
    );
  });

  test('bad multi-host files are errors at FILE:LINE:COL', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => parseLab(text, 'm.loom.yaml'),
        (e: unknown) => e instanceof LabFileError && re.test(e.message),
      );
    bad(MULTI.replace('host: b,', 'host: z,'), /^m\.loom\.yaml:8:\d+: node api: no host "z" \(hosts: a, b\)/);
    bad(MULTI.replace('driver: overlay', 'driver: bridge'), /network multi: a multi-host lab's networks are overlay networks/);
    bad(MULTI.replace('hosts: {a: {}, b: {}}\n', '').replace('cluster: {etcd_members: 3}\n', ''), /network multi: an overlay network needs hosts:/);
    bad(MULTI.replace('member: 2', 'member: 3').replace('etcd_members: 3', 'etcd_members: 1'), /etcd has 1 member\(s\)/);
    bad(MULTI.replace('{partition: [b]}', '{partition: [q]}'), /step "faults": no host "q" \(hosts: a, b\)/);
    bad(`${MULTI}links:\n  - {a: "web:p0", b: "api:p0"}\n`, /link 1: web is on host a and api on b: a veth pair stays on one host/);
    bad('name: x\nnodes:\n  a: {}\nsteps:\n  - name: s\n    do: [{heal: true}]\n', /step "s": heal needs a multi-host lab/);
  });
});
