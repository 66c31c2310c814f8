// Overlay pieces that need no kernel or etcd: --cluster-store parsing, the driver's options, and
// overlay networks on one host (no cluster store) over system/fake.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { compareLines } from '../../controller/firewall.js';
import { createOverlayDriver, parseOverlayOptions, VXLAN_OVERHEAD } from '../../drivers/overlay/index.js';
import { UNORDERED_CHAINS } from '../../drivers/bridge/rules.js';
import { MISPLACED_JUMP, overlayJumpFix, overlayNetworkRules, overlayOwnLines, renderOverlayAll } from '../../drivers/overlay/rules.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterStore } from '../../store/etcd.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem } from '../../system/fake/index.js';

describe('--cluster-store', () => {
  test('etcd://host:port, several endpoints, IPv6 in brackets', () => {
    assert.deepEqual(parseClusterStore('etcd://10.99.0.1:2379'), [{ host: '10.99.0.1', port: 2379 }]);
    assert.deepEqual(parseClusterStore('etcd://a:1,b:2,[fd00::1]:2379'), [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
      { host: 'fd00::1', port: 2379 },
    ]);
  });
  for (const bad of ['http://10.0.0.1:2379', 'etcd://10.0.0.1', 'etcd://10.0.0.1:0', 'etcd://:2379', 'etcd://a:70000', '']) {
    test(`"${bad}" is refused naming it`, () => {
      assert.throws(
        () => parseClusterStore(bad),
        (e: unknown) => e instanceof NetloomError && e.code === 'NL_BAD_CLUSTER_STORE' && e.message.includes(`"${bad}"`),
      );
    });
  }
});

describe('overlay options', () => {
  const net = { id: '0123456789abcdef', name: 'ov', internal: false };
  const host = { port: 4789, underlayMtu: 1500 };
  test("MTU is the underlay's minus 50 unless given; names fit in 15 characters", () => {
    const c = parseOverlayOptions({ 'com.docker.network.driver.overlay.vxlanid_list': '4096' }, net, host);
    assert.equal(c.mtu, 1500 - VXLAN_OVERHEAD);
    assert.equal(parseOverlayOptions({}, net, { port: 4789, underlayMtu: 9000 }).mtu, 1450, 'never above a normal sandbox MTU by default');
    assert.equal(parseOverlayOptions({ 'com.docker.network.driver.mtu': '1400' }, net, host).mtu, 1400);
    assert.deepEqual(
      [c.bridgeName, c.vxlanName, c.vni, createOverlayDriver(() => host).caps.defaultRoute],
      ['nlo-0123456789a', 'nlx-0123456789a', 4096, false],
    );
  });
  test('bad VNI, bad MTU and unknown options are refused naming them', () => {
    assert.throws(() => parseOverlayOptions({ 'com.docker.network.driver.overlay.vxlanid_list': '0' }, net, host), /invalid VNI "0"/);
    assert.throws(() => parseOverlayOptions({ 'com.docker.network.driver.overlay.vxlanid_list': '16777216' }, net, host), /invalid VNI "16777216"/);
    assert.throws(() => parseOverlayOptions({ 'com.docker.network.driver.mtu': 'big' }, net, host), /invalid MTU "big"/);
    assert.throws(
      () => parseOverlayOptions({ 'com.docker.network.bridge.name': 'x' }, net, host),
      /unknown option "com\.docker\.network\.bridge\.name" for driver overlay/,
    );
  });
});

describe('overlay on one host (no cluster store)', () => {
  test('bridge + vxlan per network, VNIs from 4096 up and never shared, sandboxes join without a default route', async () => {
    const sys = createFakeSystem();
    const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger });
    await ctl.start();
    const a = await ctl.createNetwork({ name: 'ov1', driver: 'overlay', ipam: [{ subnet: '10.60.0.0/24' }] });
    const b = await ctl.createNetwork({ name: 'ov2', driver: 'overlay', ipam: [{ subnet: '10.61.0.0/24' }] });
    assert.equal(a.options['com.docker.network.driver.overlay.vxlanid_list'], '4096');
    assert.equal(b.options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
    await assert.rejects(
      ctl.createNetwork({
        name: 'ov3',
        driver: 'overlay',
        ipam: [{ subnet: '10.62.0.0/24' }],
        options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' },
      }),
      /VNI 4097 is already used/,
    );
    const links = sys.snapshot().namespaces.self.links;
    const vx = links.find((l) => l.name === `nlx-${a.id.slice(0, 11)}`);
    assert.equal(vx?.kind, 'vxlan');
    assert.equal(vx?.master, `nlo-${a.id.slice(0, 11)}`);
    assert.equal(vx?.mtu, 1450);
    await ctl.createSandbox({ name: 'web', network: 'ov1' });
    const sb = sys.snapshot().namespaces.web;
    assert.deepEqual(
      sb.addrs.filter((x) => x.link === 'eth0').map((x) => x.cidr),
      ['10.60.0.2/24'],
    );
    assert.ok(!sb.routes.some((r) => r.dst === 'default'), 'an overlay network reaches only its members');
    assert.equal(ctl.inspectNetwork('ov1').Scope, 'global');
    await ctl.removeSandbox('web');
    await ctl.removeNetwork('ov1');
    assert.ok(!sys.snapshot().namespaces.self.links.some((l) => l.name.endsWith(a.id.slice(0, 11))));
  });
});

describe('firewall comparison', () => {
  test('missing and extra lines; order matters except among published-port rules', () => {
    const e = [
      '-A FORWARD -j NETLOOM-USER',
      '-A FORWARD -j NETLOOM-FORWARD',
      '-A NETLOOM -m addrtype ! --dst-type LOCAL -j RETURN',
      '-A NETLOOM -p tcp -m tcp --dport 1 -j DNAT --to-destination 10.0.0.2:1',
      '-A NETLOOM -p tcp -m tcp --dport 2 -j DNAT --to-destination 10.0.0.2:2',
    ];
    assert.deepEqual(compareLines(e, [e[0], e[1], e[2], e[4], e[3]], UNORDERED_CHAINS), { missing: [], extra: [], misordered: [] });
    assert.deepEqual(compareLines(e, [e[1], e[0], e[2], e[3], e[4]], UNORDERED_CHAINS).misordered, ['FORWARD']);
    assert.deepEqual(compareLines(e, [e[0], e[1], e[2], e[3], e[3]], UNORDERED_CHAINS), { missing: [e[4]], extra: [e[3]], misordered: [] });
  });
});

describe('overlay firewall (FORWARD policy DROP hosts)', () => {
  test('two networks render exactly test/golden/overlay.rules', () => {
    const text = renderOverlayAll(
      [...overlayNetworkRules('nlo-0123456789a'), ...overlayNetworkRules('nlo-fedcba98765')],
      overlayJumpFix('-A FORWARD -j NETLOOM-USER\n-A FORWARD -j NETLOOM-FORWARD\n'),
    );
    const file = join(process.cwd(), 'test', 'golden', 'overlay.rules');
    if (process.env.NETLOOM_UPDATE_GOLDEN === '1') writeFileSync(file, text);
    assert.ok(existsSync(file), `${file} is missing: run the tests with NETLOOM_UPDATE_GOLDEN=1 to write it`);
    assert.equal(text, readFileSync(file, 'utf8'));
  });

  test("the jump goes right after the admin's NETLOOM-USER (before the bridge driver's jumps; others' rules above it stay above), first without one; a misplaced one is moved and shows in ownLines", () => {
    const save = (...fwd: string[]) => ['*filter', ':FORWARD DROP [0:0]', ...fwd.map((r) => `-A FORWARD ${r}`), 'COMMIT'].join('\n');
    assert.deepEqual(overlayJumpFix(save('-j NETLOOM-USER', '-j NETLOOM-FORWARD', '-o docker0 -j DOCKER')), ['-I FORWARD 2 -j NETLOOM-OVERLAY']);
    assert.deepEqual(overlayJumpFix(save('-j DOCKER-USER', '-j NETLOOM-USER')), ['-I FORWARD 3 -j NETLOOM-OVERLAY']);
    assert.deepEqual(
      overlayJumpFix(save('-j DOCKER-USER', '-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD')),
      [],
      'dockerd inserting its jump above later moves nothing',
    );
    assert.deepEqual(overlayJumpFix(save()), ['-I FORWARD 1 -j NETLOOM-OVERLAY']);
    assert.deepEqual(overlayJumpFix(save('-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD')), []);
    assert.deepEqual(overlayJumpFix(save('-j NETLOOM-OVERLAY', '-j NETLOOM-USER', '-j NETLOOM-FORWARD')), [
      '-D FORWARD -j NETLOOM-OVERLAY',
      '-I FORWARD 2 -j NETLOOM-OVERLAY',
    ]);
    const late = save('-j NETLOOM-USER', '-j NETLOOM-FORWARD', '-j NETLOOM-OVERLAY');
    assert.deepEqual(overlayJumpFix(late), ['-D FORWARD -j NETLOOM-OVERLAY', '-I FORWARD 2 -j NETLOOM-OVERLAY']);
    assert.deepEqual(overlayOwnLines(late, 'filter'), [MISPLACED_JUMP]);
    assert.deepEqual(overlayOwnLines(save('-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-OVERLAY'), 'filter'), [MISPLACED_JUMP, MISPLACED_JUMP]);
    assert.deepEqual(overlayOwnLines(save('-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD'), 'filter'), ['-A FORWARD -j NETLOOM-OVERLAY']);
  });

  test("an overlay network accepts its own bridge's traffic; a flushed rule is found by the guard and healed; a restart adds no copy", async () => {
    const sys = createFakeSystem();
    await sys.firewall.restore(4, '*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT\n');
    const store = new MemoryStore();
    let ctl = new Controller({ store, sys, log: silentLogger });
    await ctl.start();
    const a = await ctl.createNetwork({ name: 'ov1', driver: 'overlay', ipam: [{ subnet: '10.60.0.0/24' }] });
    const br = `nlo-${a.id.slice(0, 11)}`;
    const fw = () => sys.snapshot().firewall.ipv4.filter;
    const own = [`-i ${br} -o ${br} -j ACCEPT`, `-i ${br} -j DROP`, `-o ${br} -j DROP`];
    assert.deepEqual(fw()['NETLOOM-OVERLAY'].rules, own);
    assert.deepEqual(fw().FORWARD.rules, ['-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD', '-j DOCKER-USER']);
    assert.deepEqual(await ctl.checkFirewall(), []);
    await sys.firewall.restore(4, '*filter\n-F NETLOOM-OVERLAY\nCOMMIT\n');
    const drift = await ctl.checkFirewall();
    assert.deepEqual(
      drift.map((d) => d.missing),
      [own.map((r) => `-A NETLOOM-OVERLAY ${r}`)],
    );
    assert.deepEqual(fw()['NETLOOM-OVERLAY'].rules, own, 'healed');
    // A jump that slipped behind the bridge driver's (someone re-inserted theirs first) is seen and moved.
    await sys.firewall.restore(4, '*filter\n-D FORWARD -j NETLOOM-OVERLAY\n-A FORWARD -j NETLOOM-OVERLAY\nCOMMIT\n');
    const moved = await ctl.checkFirewall();
    assert.deepEqual(
      moved.map((d) => [d.missing, d.extra]),
      [[['-A FORWARD -j NETLOOM-OVERLAY'], [MISPLACED_JUMP]]],
    );
    assert.deepEqual(fw().FORWARD.rules, ['-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD', '-j DOCKER-USER'], 'moved back');
    assert.equal((await ctl.doctor()).findings.length, 0);
    await ctl.close();
    ctl = new Controller({ store, sys, log: silentLogger });
    await ctl.start();
    assert.deepEqual(fw()['NETLOOM-OVERLAY'].rules, own, 'one copy after a restart');
    assert.deepEqual(
      fw().FORWARD.rules,
      ['-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD', '-j DOCKER-USER'],
      "the bridge driver leaves the overlay's jump among its own",
    );
    await ctl.removeNetwork('ov1');
    assert.deepEqual(fw()['NETLOOM-OVERLAY'].rules, []);
    assert.deepEqual(await ctl.checkFirewall(), []);
    await ctl.close();
  });
});
