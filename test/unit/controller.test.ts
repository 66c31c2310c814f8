// The controller over system/fake and MemoryStore, built the way daemon/main.ts builds it: the
// happy path and rejected input. Failures, crashes, restarts and orphans: controller-recovery.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { MemoryStore } from '../../store/memory.js';
import type { Store } from '../../store/types.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

interface World {
  store: MemoryStore;
  sys: FakeSystem;
  ctl: Controller;
}

async function start(store = new MemoryStore(), sys = createFakeSystem()): Promise<World> {
  const ctl = new Controller({ store, sys, log: silentLogger });
  await ctl.start();
  return { store, sys, ctl };
}

/** A world with network front (10.1.0.0/24), network back (10.2.0.0/24) and sandbox web on front. */
async function fixture(): Promise<World> {
  const w = await start();
  await w.ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
  await w.ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
  await w.ctl.createSandbox({ name: 'web', network: 'front' });
  return w;
}

/** The store without the IPAM rotation cursors, which move on by design even when a connect is
 *  undone (a just-released address is handed out again last). */
async function dump(store: Store, withCursors = false): Promise<unknown[]> {
  return (await store.list('')).filter((e) => withCursors || !e.key.startsWith('cursor/')).map((e) => [e.key, e.value, e.version]);
}

async function everything(w: World, withCursors = false): Promise<unknown> {
  return { kernel: w.sys.snapshot(), store: await dump(w.store, withCursors) };
}

/** Asserts a NetloomError of `code` whose one-line message names every `mention`, and no change at all. */
async function rejectsUnchanged(w: World, run: () => Promise<unknown>, code: string, ...mention: string[]): Promise<void> {
  const before = await everything(w, true);
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof NetloomError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, /^[a-z-][^\n]*[^.]$/);
    for (const m of mention) assert.ok(e.message.includes(m), `"${e.message}" should name ${m}`);
    return true;
  });
  assert.deepEqual(await everything(w, true), before);
}

describe('controller: start and the happy path', () => {
  test("start creates the predefined bridge, host and none networks and netloom's chains with their jumps", async () => {
    const { ctl, sys } = await start();
    assert.deepEqual(
      ctl
        .listNetworks()
        .map((n) => [n.Name, n.Driver])
        .sort(),
      [
        ['bridge', 'bridge'],
        ['host', 'host'],
        ['none', 'null'],
      ],
    );
    const s = sys.snapshot();
    assert.deepEqual(
      s.namespaces.self.addrs.find((a) => a.link === 'netloom0'),
      { link: 'netloom0', cidr: '172.17.0.1/16' },
    );
    assert.deepEqual(s.firewall.ipv4.filter.FORWARD.rules, ['-j NETLOOM-USER', '-j NETLOOM-OVERLAY', '-j NETLOOM-FORWARD']);
    assert.deepEqual(s.firewall.ipv4.nat.POSTROUTING.rules, ['-j NETLOOM-POSTROUTING']);
    for (const c of ['NETLOOM-FORWARD', 'NETLOOM-ISOLATION-1', 'NETLOOM-ISOLATION-2']) assert.ok(s.firewall.ipv4.filter[c], c);
    assert.ok(s.firewall.ipv4.nat['NETLOOM-POSTROUTING'].rules.includes('-s 172.17.0.0/16 ! -o netloom0 -j MASQUERADE'));
    assert.equal(s.sysctls['net.ipv4.ip_forward'], '1');
  });

  test('connect names interfaces in connection order, derives the MAC from IPv4 and routes via the first non-internal network', async () => {
    const { ctl, sys } = await start();
    await ctl.createNetwork({ name: 'inner', internal: true, ipam: [{ subnet: '10.3.0.0/24' }] });
    await ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
    await ctl.createSandbox({ name: 'web', network: 'inner' });
    await ctl.connect('front', 'web');
    await ctl.createSandbox({ name: 'db', network: 'front' });
    const nets = ctl.sandboxView('web').Networks;
    assert.deepEqual([nets.inner.Interface, nets.inner.IPv4Address, nets.inner.MacAddress], ['eth0', '10.3.0.2/24', '02:42:0a:03:00:02']);
    assert.deepEqual([nets.front.Interface, nets.front.IPv4Address, nets.front.MacAddress], ['eth1', '10.1.0.2/24', '02:42:0a:01:00:02']);
    assert.equal(ctl.sandboxView('db').Networks.front.IPv4Address, '10.1.0.3/24');
    const web = sys.snapshot().namespaces.web;
    assert.deepEqual(
      web.routes.filter((r) => r.dst === 'default'),
      [{ dst: 'default', gateway: '10.1.0.1', link: 'eth1', family: 4 }],
    );
    assert.deepEqual(
      web.links.map((l) => [l.name, l.mac, l.up]),
      [
        ['eth0', '02:42:0a:03:00:02', true],
        ['eth1', '02:42:0a:01:00:02', true],
        ['lo', '00:00:00:00:00:00', true],
      ],
    );
    const front = ctl.inspectNetwork('front');
    assert.deepEqual(
      Object.values(front.Containers)
        .map((c) => c.Name)
        .sort(),
      ['db', 'web'],
    );
  });

  test('disconnect and rm undo exactly what connect and create did', async () => {
    const w = await start();
    const before = await everything(w);
    await w.ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
    await w.ctl.createSandbox({ name: 'web', network: 'none' });
    const withSandbox = await everything(w);
    await w.ctl.createSandbox({ name: 'api', network: 'front' });
    await w.ctl.removeSandbox('api');
    assert.deepEqual(await everything(w), withSandbox);
    await w.ctl.removeSandbox('web');
    await w.ctl.removeNetwork('front');
    assert.deepEqual(await everything(w), before);
  });
});

describe('controller: bad input is rejected, names the bad value and changes nothing', () => {
  type Op = (w: World) => Promise<unknown>;
  const create =
    (over: object, name = 'x'): Op =>
    (w) =>
      w.ctl.createNetwork({ name, ...over });
  const opt = (key: string, value: string): Op => create({ options: { [key]: value } });
  const pool = (p: object): Op => create({ ipam: [p] });
  const cases: [string, Op, string, ...string[]][] = [
    ['an invalid CIDR', pool({ subnet: '10.1.0.0/33' }), 'NL_IPAM_INVALID_CIDR', '10.1.0.0/33'],
    ['a gateway outside the subnet', pool({ subnet: '10.5.0.0/24', gateway: '10.6.0.1' }), 'NL_IPAM_GATEWAY_OUTSIDE', '10.6.0.1', '10.5.0.0/24'],
    ['an overlapping subnet', pool({ subnet: '10.1.0.0/16' }), 'NL_IPAM_POOL_OVERLAP', '10.1.0.0/16', '"front"', '10.1.0.0/24'],
    ['a duplicate network name', create({}, 'front'), 'NL_NETWORK_EXISTS', 'front'],
    ['a predefined network name', create({}, 'bridge'), 'NL_PREDEFINED', 'bridge'],
    ['a second host network', create({ driver: 'host' }, 'h2'), 'NL_PREDEFINED', 'host'],
    ['a blank network name', create({}, '  '), 'NL_BAD_NAME', '"  "'],
    ['an unknown driver', create({ driver: 'overlay2' }), 'NL_UNKNOWN_DRIVER', '"overlay2"'],
    ['a bad inhibit_ipv4', opt('com.docker.network.bridge.inhibit_ipv4', 'maybe'), 'NL_BRIDGE_BAD_OPTION', '"maybe"'],
    ['a bad interface prefix', opt('com.docker.network.container_iface_prefix', 'way-too-long-prefix'), 'NL_BRIDGE_BAD_OPTION', '"way-too-long-prefix"'],
    ['a bad MTU', opt('com.docker.network.driver.mtu', 'abc'), 'NL_BRIDGE_BAD_OPTION', '"abc"'],
    ['a bridge name in use', opt('com.docker.network.bridge.name', 'netloom0'), 'NL_OPTION_IN_USE', 'netloom0', '"bridge"'],
    ['rm of a predefined network', (w) => w.ctl.removeNetwork('bridge'), 'NL_PREDEFINED', 'bridge'],
    ['rm of a network with live endpoints', (w) => w.ctl.removeNetwork('front'), 'NL_NETWORK_IN_USE', 'front', 'web'],
    ['a duplicate sandbox name', (w) => w.ctl.createSandbox({ name: 'web' }), 'NL_SANDBOX_EXISTS', 'web'],
    ['an unknown network', (w) => w.ctl.connect('nosuch', 'web'), 'NL_NETWORK_NOT_FOUND', 'nosuch'],
    ['an unknown sandbox', (w) => w.ctl.connect('front', 'ghost'), 'NL_SANDBOX_NOT_FOUND', 'ghost'],
    ['a second connect to the same network', (w) => w.ctl.connect('front', 'web'), 'NL_ALREADY_CONNECTED', 'web', 'front'],
    ['a static address that is the gateway', (w) => w.ctl.connect('back', 'web', { ipv4Address: '10.2.0.1' }), 'NL_IPAM_ADDR_RESERVED', '10.2.0.1'],
    [
      'a static address held by another sandbox',
      (w) => w.ctl.createSandbox({ name: 'db', network: 'front', ipv4Address: '10.1.0.2' }),
      'NL_IPAM_ADDR_IN_USE',
      '10.1.0.2',
    ],
    [
      'a static address outside the subnet',
      (w) => w.ctl.connect('back', 'web', { ipv4Address: '10.9.9.9' }),
      'NL_IPAM_ADDR_OUTSIDE',
      '10.9.9.9',
      '10.2.0.0/24',
    ],
    ['disconnect of a sandbox that is not connected', (w) => w.ctl.disconnect('back', 'web'), 'NL_NOT_CONNECTED', 'web', 'back'],
  ];
  for (const [what, run, code, ...mention] of cases) {
    test(`${what} is rejected with ${code}`, async () => {
      const w = await fixture();
      await rejectsUnchanged(w, () => run(w), code, ...mention);
    });
  }

  test('an exhausted /30 pool is rejected naming the subnet', async () => {
    const w = await fixture();
    await w.ctl.createNetwork({ name: 'tiny', ipam: [{ subnet: '10.7.0.0/30' }] });
    await w.ctl.connect('tiny', 'web');
    await rejectsUnchanged(w, () => w.ctl.createSandbox({ name: 'db', network: 'tiny' }), 'NL_IPAM_EXHAUSTED', '10.7.0.0/30', '"tiny"');
  });
});

describe('controller: IPv6', () => {
  test('the first IPv6 network of a daemon that started without one is created with its ip6tables rules', async () => {
    const { ctl, sys } = await start();
    await ctl.createNetwork({ name: 'v6', enableIPv6: true, ipam: [{ subnet: '10.6.0.0/24' }, { subnet: 'fd00:6::/64' }] });
    const fw = sys.snapshot().firewall.ipv6;
    assert.ok(fw.filter['NETLOOM-FORWARD'].rules.some((r) => r.includes('-o nlb-')));
    assert.deepEqual(fw.filter.FORWARD.rules, ['-j NETLOOM-USER', '-j NETLOOM-FORWARD']);
  });
});

describe('controller: docker run flags over system/fake', () => {
  test('--hostname makes a UTS namespace, a restart remakes a lost one, rm removes it', async () => {
    const w = await start();
    await w.ctl.createSandbox({ name: 'web', hostname: 'web1', domainname: 'example.com' });
    assert.deepEqual(w.sys.utsNames.get('web'), ['web1', 'example.com']);
    await w.ctl.close();
    w.sys.utsNames.clear();
    const again = await start(w.store, w.sys);
    assert.deepEqual(w.sys.utsNames.get('web'), ['web1', 'example.com']);
    await again.ctl.removeSandbox('web');
    assert.equal(w.sys.utsNames.has('web'), false);
  });

  test('--link under ICC off: accept rules for the exposed port while both sandboxes live', async () => {
    const sys = createFakeSystem();
    const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger, defaultBridge: { icc: false, ipMasq: true, bip: '10.99.0.1/24' } });
    await ctl.start();
    await ctl.createSandbox({ name: 'db', expose: ['5432'] });
    await ctl.createSandbox({ name: 'app', links: ['db:data'] });
    const linkRules = () => sys.snapshot().firewall.ipv4.filter.NETLOOM.rules.filter((r) => r.startsWith('-s '));
    assert.deepEqual(linkRules(), [
      '-s 10.99.0.3/32 -d 10.99.0.2/32 -i netloom0 -o netloom0 -p tcp -m tcp --dport 5432 -j ACCEPT',
      '-s 10.99.0.2/32 -d 10.99.0.3/32 -i netloom0 -o netloom0 -p tcp -m tcp --sport 5432 -j ACCEPT',
    ]);
    assert.deepEqual(ctl.sandboxView('app').Links, ['db:data']);
    await ctl.removeSandbox('db');
    assert.deepEqual(linkRules(), []);
    assert.deepEqual((await ctl.doctor()).findings, []);
  });

  test('bad docker run flags are refused with nothing changed', async () => {
    const w = await fixture();
    await rejectsUnchanged(w, () => w.ctl.createSandbox({ name: 'x', links: ['nosuch'] }), 'NL_LINK_NO_SANDBOX', 'nosuch');
    await rejectsUnchanged(w, () => w.ctl.createSandbox({ name: 'x', network: 'front', links: ['web'] }), 'NL_LINK_NOT_DEFAULT_BRIDGE', 'front');
    await rejectsUnchanged(w, () => w.ctl.createSandbox({ name: 'x', extraHosts: ['x'] }), 'NL_BAD_ADD_HOST', '"x"');
    await rejectsUnchanged(w, () => w.ctl.createSandbox({ name: 'x', network: 'host', hostname: 'h' }), 'NL_BAD_NETWORK_MODE', 'host');
  });
});
