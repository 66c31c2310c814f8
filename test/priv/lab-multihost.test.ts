// A multi-host lab's daemon settings, iptables steps and published ports, for real: two hosts
// (each its own namespace and netloomd on an underlay with etcd). The lab's daemon: settings go to
// every host and a host's own override them (proved by the firewall guard: off lab-wide, on for
// host a only); an iptables flush acts in the named host's namespace only; a published port
// answers from its own host, from the other host over the underlay and from a node there, a
// loopback binding only on its own host; and a node on a host's default bridge does not reach
// an overlay node on that host. The suite checks this namespace is as before.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipUnlessRoot } from '../helpers/host.js';
import { lab, machine } from '../helpers/lab.js';

const LAB = `name: mhports
daemon: {firewall-check: "0"}
hosts:
  a: {daemon: {firewall-check: "1"}}
  b: {}
networks:
  multi: {driver: overlay, subnet: 10.61.0.0/24}
nodes:
  web: {host: a, ports: ["8080:80", "127.0.0.1:9090:90"], serve: [tcp/80, tcp/90]}
  api: {host: b, ports: ["8081:80"], serve: [tcp/80]}
  ov: {host: a, networks: {multi: {ip: 10.61.0.10}}}
  ov2: {host: b, networks: {multi: {ip: 10.61.0.20}}}
expect:
  reach:
    - {probe: icmp, nodes: [web, ov, ov2], allow: ["ov<->ov2"]}
  ports:
    - {from: host, to: "web:80", open: true}
    - {from: host, host: b, to: "web:80", open: true}
    - {from: host, to: "api:80", open: true}
    - {from: api, to: "web:80", open: true}
    - {from: host, to: "web:90", open: true}
    - {from: host, host: b, to: "web:90", open: false}
steps:
  - name: nat flushed on a, its guard on
    do: [{iptables: flush, table: nat, host: a}]
    within: 10s
    expect: {ports: [{from: host, host: b, to: "web:80", open: true}, {from: host, host: a, to: "api:80", open: true}]}
  - name: nat flushed on b, its guard off
    do: [{iptables: flush, table: nat, host: b}, {wait: 3s}]
    within: 1s
    expect: {ports: [{from: host, host: a, to: "api:80", open: true}, {from: host, host: b, to: "web:80", open: true}]}
  - name: nat flushed everywhere
    do: [{iptables: flush, table: nat}]
    within: 10s
    expect: {ports: [{from: host, host: b, to: "web:80", open: true}, {from: host, host: a, to: "api:80", open: false}]}
`;

describe('netloom lab: a multi-host lab with daemon settings, iptables steps and published ports', { skip: skipUnlessRoot }, () => {
  let dir: string;
  let before0: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netloom-lab-multihost-'));
    before0 = await machine();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('ports from each host and over the underlay; a flush on one host only; the guard as each host is set', async () => {
    const f = join(dir, 'mh.loom.yaml');
    writeFileSync(f, LAB);
    const r = await lab('run', f, '--json', join(dir, 'mh.json'));
    // Step 2 must not hold: b's guard is off (the lab-wide setting), so its flushed DNAT stays gone.
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    // Top level: every expectation as expected.
    assert.match(out, /reach icmp: 6 correct, 0 wrong/);
    assert.match(out, /^ports: 6 correct, 0 wrong$/m);
    const json = JSON.parse(readFileSync(join(dir, 'mh.json'), 'utf8')) as {
      suites: { kind: string; name: string; cases: { name: string; status: string; message?: string }[]; step?: { healedMs?: number } }[];
    };
    const ports = json.suites.find((s) => s.kind === 'ports')!;
    assert.deepEqual(
      ports.cases.map((c) => `${c.name} ${c.status}`),
      [
        'host a -> web:80 open pass',
        'host b -> web:80 open pass',
        'host b -> api:80 open pass',
        'api -> web:80 open pass',
        'host a -> web:90 open pass',
        'host b -> web:90 closed pass',
      ],
    );
    // Step 1: a's nat flushed, a's guard (its own setting, 1 s) restores it; b's rules untouched
    // (b's guard is off: had they been flushed too, api would stay closed).
    assert.match(out, /^step 1 nat flushed on a, its guard on: held after [\d.]+ s \(within 10s\)$/m);
    // Step 2: b's nat flushed; 3 s later (beyond the default guard's 2 s) still gone: b runs with
    // the lab-wide firewall-check 0.
    assert.match(out, /^step 2 nat flushed on b, its guard off: did not hold within 1s$/m);
    const step2 = json.suites.filter((s) => s.step)[1];
    const byName = Object.fromEntries(step2.cases.map((c) => [c.name, c]));
    assert.equal(byName['do iptables flush nat on b'].status, 'pass');
    assert.equal(byName['ports: host a -> api:80 open'].status, 'fail');
    assert.match(byName['ports: host a -> api:80 open'].message ?? '', /^closed \(tried 10\.250\.0\.12:8081\)/);
    assert.equal(byName['ports: host b -> web:80 open'].status, 'pass');
    // Step 3: without host:, every host's nat; a's heals again.
    assert.match(out, /^step 3 nat flushed everywhere: held after [\d.]+ s \(within 10s\)$/m);
    const step3 = json.suites.filter((s) => s.step)[2];
    assert.ok(
      step3.cases.some((c) => c.name === 'do iptables flush nat (on a, b)' && c.status === 'pass'),
      JSON.stringify(step3.cases),
    );
    assert.match(out, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });

  test('a loopback binding is out of reach from another host, and says so', async () => {
    const f = join(dir, 'loop.loom.yaml');
    writeFileSync(
      f,
      LAB.replace('name: mhports', 'name: mhloop')
        .replace('{from: host, host: b, to: "web:90", open: false}', '{from: host, host: b, to: "web:90", open: true}')
        .replace(/\nsteps:[\s\S]*$/, '\n'),
    );
    const r = await lab('run', f);
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /X ports host b -> web:90 open: closed: 127\.0\.0\.1:9090 is loopback on host a, out of reach from host b/);
    assert.match(r.stdout, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });

  test('bad host names and cluster keys are refused at FILE:LINE:COL (exit 2), nothing made', async () => {
    const cases: [string, RegExp][] = [
      [
        LAB.replace('{iptables: flush, table: nat, host: a}', '{iptables: flush, table: nat, host: z}'),
        /:\d+:\d+: step "nat flushed on a, its guard on": no host "z" \(hosts: a, b\)/,
      ],
      [
        LAB.replace('a: {daemon: {firewall-check: "1"}}', 'a: {daemon: {advertise-addr: 10.9.9.9}}'),
        /:4:\d+: daemon key "advertise-addr" is set by the lab itself on every host/,
      ],
      [
        LAB.replace(
          '{from: host, host: b, to: "web:80", open: true}\n    - {from: host, to: "api:80"',
          '{from: host, host: q, to: "web:80", open: true}\n    - {from: host, to: "api:80"',
        ),
        /no host "q" \(hosts: a, b\)/,
      ],
    ];
    for (const [text, want] of cases) {
      const f = join(dir, 'bad.loom.yaml');
      writeFileSync(f, text);
      for (const verb of ['validate', 'up']) {
        const r = await lab(verb, f);
        assert.equal(r.exitCode, 2, `${verb}: ${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, want);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      assert.equal(await machine(), before0);
    }
  });

  test("a setting a host's netloomd refuses fails up at once (exit 3) naming the host and the value; down leaves nothing", async () => {
    const f = join(dir, 'refused.loom.yaml');
    writeFileSync(f, LAB.replace('name: mhports', 'name: mhrefused').replace('  b: {}\n', '  b: {daemon: {mtu: "abc"}}\n'));
    const r = await lab('run', f);
    assert.equal(r.exitCode, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /host b: its netloomd refused its settings: netloomd: invalid --mtu "abc": expected an integer from 68 to 65535/);
    assert.match(r.stdout, /: down, nothing of it left/);
    assert.equal(await machine(), before0);
  });

  test('--host stays refused for a multi-host lab (exit 3), nothing made', async () => {
    const f = join(dir, 'mh.loom.yaml');
    writeFileSync(f, LAB);
    const r = await lab('up', f, '--host');
    assert.equal(r.exitCode, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /a multi-host lab makes its own hosts: drop --host/);
    assert.equal(await machine(), before0);
  });
});
