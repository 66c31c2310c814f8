// A multi-host lab's daemon settings (the lab's on every host, a host's own over them, the
// cluster keys the lab's alone), iptables steps per host, port expectations' `host:` and where a
// published port is probed from (lab/ports.ts). Bad input: one line at FILE:LINE:COL naming it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { describeAction, requirementsOf } from '../../lab/model.js';
import { bindingTargets } from '../../lab/ports.js';
import { LabFileError, parseLab } from '../../lab/topology.js';
import type { Binding } from '../../lab/facts.js';

const MH = `name: mh
daemon: {icc: false, cluster-ttl: "5"}
hosts:
  a: {daemon: {cluster-ttl: "3", mtu: 1400}}
  b: {}
networks:
  multi: {driver: overlay, subnet: 10.60.0.0/24}
nodes:
  web: {host: a, ports: ["8080:80"], serve: [tcp/80]}
  api: {host: b, networks: [multi]}
expect:
  ports:
    - {from: host, to: "web:80", open: true}
    - {from: host, host: b, to: "web:80", open: true}
steps:
  - name: flush
    do: [{iptables: flush, table: nat, host: b}, {iptables: flush}]
`;

const bad = (text: string, re: RegExp): void =>
  assert.throws(
    () => parseLab(text, 'm.loom.yaml'),
    (e: unknown) => e instanceof LabFileError && re.test(e.message) && !e.message.includes('\n'),
  );

describe('multi-host labs: daemon settings, iptables steps, port expectations', () => {
  test("the lab's daemon settings go to every host, a host's own over them; daemon is what all share", () => {
    const lab = parseLab(MH, 'm.loom.yaml');
    assert.deepEqual(lab.hostDaemon, { a: { icc: false, 'cluster-ttl': '3', mtu: 1400 }, b: { icc: false, 'cluster-ttl': '5' } });
    assert.deepEqual(lab.daemon, { icc: false });
    assert.equal(lab.networks.find((n) => n.key === 'bridge')!.icc, false);
    assert.ok(requirementsOf(lab).includes('daemon'));
    // Only a host's own settings: still a lab with daemon settings.
    const own = parseLab(MH.replace('daemon: {icc: false, cluster-ttl: "5"}\n', ''), 'm.loom.yaml');
    assert.deepEqual(own.daemon, {});
    assert.deepEqual(own.hostDaemon, { a: { 'cluster-ttl': '3', mtu: 1400 }, b: {} });
    assert.ok(requirementsOf(own).includes('daemon'));
    // A single-host lab: the file's, and no hosts.
    const single = parseLab('name: s\ndaemon: {mtu: 1400}\nnodes:\n  a: {}\n', 's.loom.yaml');
    assert.deepEqual([single.daemon, single.hostDaemon], [{ mtu: 1400 }, {}]);
  });

  test('iptables steps name a host (every host by default); port expectations from: host name one', () => {
    const lab = parseLab(MH, 'm.loom.yaml');
    assert.deepEqual(lab.steps[0].actions.map(describeAction), ['iptables flush nat on b', 'iptables flush filter']);
    assert.deepEqual(
      lab.expect.ports.map((p) => p.host),
      [undefined, 'b'],
    );
  });

  test('the cluster keys the lab sets, and unknown hosts, are errors at FILE:LINE:COL naming them', () => {
    for (const k of ['cluster-store', 'advertise-addr', 'node-name']) {
      bad(
        MH.replace('daemon: {icc: false,', `daemon: {${k}: x, icc: false,`),
        new RegExp(`^m\\.loom\\.yaml:2:\\d+: daemon key "${k}" is set by the lab itself on every host`),
      );
      bad(MH.replace('a: {daemon: {', `a: {daemon: {${k}: x, `), new RegExp(`^m\\.loom\\.yaml:4:\\d+: daemon key "${k}" is set by the lab itself`));
    }
    bad(MH.replace('host: b}, {iptables', 'host: z}, {iptables'), /^m\.loom\.yaml:17:\d+: step "flush": no host "z" \(hosts: a, b\)$/);
    bad(MH.replace('{from: host, host: b,', '{from: host, host: q,'), /^m\.loom\.yaml:14:\d+: no host "q" \(hosts: a, b\)$/);
    bad(
      MH.replace('{from: host, host: b,', '{from: api, host: b,'),
      /^m\.loom\.yaml:14:\d+: host "b" is for from: host \(a node's probe runs in that node, on its own host\)$/,
    );
    bad(
      MH.replace('api: {host: b, networks: [multi]}', 'api: {host: b, networks: [multi, bridge], ports: ["80"]}'),
      /^m\.loom\.yaml:10:\d+: node api: published ports go with its first network, multi, an overlay network, which publishes nothing .*: list bridge first$/,
    );
    assert.equal(
      parseLab(MH.replace('api: {host: b, networks: [multi]}', 'api: {host: b, networks: [bridge, multi], ports: ["80"]}'), 'm.loom.yaml').nodes[1].ports
        .length,
      1,
    );
    bad(MH.replace('  b: {}\n', '  b: {mtu: 1400}\n'), /^m\.loom\.yaml:5:\d+: unknown key "mtu" in hosts\.b$/);
    const single = 'name: s\nnodes:\n  a: {ports: ["80"]}\nexpect:\n  ports: [{from: host, host: a, to: "a:80", open: true}]\n';
    bad(single, /^m\.loom\.yaml:5:\d+: no host "a" \(a single-host lab: drop host\)$/);
    bad('name: s\nnodes:\n  a: {}\nsteps:\n  - name: f\n    do: [{iptables: flush, host: a}]\n', /step "f": no host "a" \(a single-host lab\)$/);
  });
});

describe('where a published port is probed from (lab/ports.ts)', () => {
  const b = (hostIP: string, hostPort: number, containerPort: number, count = 1, proto = 'tcp'): Binding => ({ proto, hostIP, hostPort, containerPort, count });
  const remote = { kind: 'remote', host: 'a', hostAddress: '10.250.0.11' } as const;

  test('on its own host: the binding address, loopback for all; elsewhere: the underlay address, no loopback', () => {
    const all = [b('', 8080, 80), b('127.0.0.1', 9090, 80), b('10.250.0.11', 7070, 80), b('0.0.0.0', 6000, 70, 20), b('', 8080, 80, 1, 'udp')];
    assert.deepEqual(bindingTargets(all, 80, 'tcp', { kind: 'local' }), {
      published: true,
      targets: ['127.0.0.1:8080', '127.0.0.1:9090', '10.250.0.11:7070', '127.0.0.1:6010'],
      unreachable: [],
    });
    assert.deepEqual(bindingTargets(all, 80, 'tcp', remote), {
      published: true,
      targets: ['10.250.0.11:8080', '10.250.0.11:7070', '10.250.0.11:6010'],
      unreachable: ['127.0.0.1:9090'],
    });
    assert.deepEqual(bindingTargets(all, 81, 'tcp', remote), { published: true, targets: ['10.250.0.11:6011'], unreachable: [] });
    assert.deepEqual(bindingTargets(all, 443, 'tcp', remote), { published: false, targets: [], unreachable: [] });
  });

  test('property: every covering binding is tried locally; remotely each is tried or named unreachable, never both', () => {
    const binding = fc.record({
      proto: fc.constantFrom('tcp', 'udp'),
      hostIP: fc.constantFrom('', '0.0.0.0', '127.0.0.1', '127.0.0.2', '10.250.0.11'),
      hostPort: fc.integer({ min: 1, max: 60000 }),
      containerPort: fc.integer({ min: 1, max: 100 }),
      count: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(binding, { maxLength: 6 }), fc.integer({ min: 1, max: 110 }), fc.constantFrom('tcp', 'udp'), (bs, port, proto) => {
        const covering = bs.filter((x) => x.proto === proto && port >= x.containerPort && port < x.containerPort + x.count).length;
        const local = bindingTargets(bs, port, proto, { kind: 'local' });
        const far = bindingTargets(bs, port, proto, remote);
        assert.equal(local.targets.length, covering);
        assert.equal(local.published, covering > 0);
        assert.equal(far.targets.length + far.unreachable.length, covering);
        assert.ok(far.targets.every((t) => !t.startsWith('127.')));
        assert.ok(far.unreachable.every((t) => t.startsWith('127.')));
      }),
    );
  });
});
