// Bridge networks on a real kernel: each test gets a fresh host namespace with its own netloomd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, sandboxAddrs, skipUnlessRoot } from '../helpers/host.js';

describe('bridge driver (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  before(async () => {
    h = await TestHost.create();
    await h.start();
  });
  after(async () => h?.cleanup());

  it('two sandboxes on one bridge network ping each other and the gateway', async () => {
    await h.ok('network', 'create', '--subnet', '10.31.0.0/24', '--gateway', '10.31.0.1', 'front');
    const [a, b] = [h.sb('web'), h.sb('api')];
    await h.ok('sandbox', 'create', '--network', 'front', a);
    await h.ok('sandbox', 'create', '--network', 'front', '--ip', '10.31.0.50', b);
    assert.deepEqual((await sandboxAddrs(a)).eth0, ['10.31.0.2/24']);
    assert.deepEqual((await sandboxAddrs(b)).eth0, ['10.31.0.50/24']);
    assert.ok(await h.ping(a, '10.31.0.50'), 'web reaches api');
    assert.ok(await h.ping(b, '10.31.0.2'), 'api reaches web');
    assert.ok(await h.ping(a, '10.31.0.1'), 'web reaches the gateway');
    const net = await h.inspect('front');
    const names = Object.values(net.Containers)
      .map((c) => `${c.Name} ${c.IPv4Address} ${c.MacAddress}`)
      .sort();
    assert.deepEqual(names, [`${b} 10.31.0.50/24 02:42:0a:1f:00:32`, `${a} 10.31.0.2/24 02:42:0a:1f:00:02`].sort());
    const route = (await h.inSandbox(a, 'ip', 'route', 'show', 'default')).stdout.trim();
    assert.match(route, /^default via 10\.31\.0\.1 dev eth0/);
  });

  it('sandboxes on two different bridge networks cannot reach each other', async () => {
    await h.ok('network', 'create', '--subnet', '10.32.0.0/24', 'iso-a');
    await h.ok('network', 'create', '--subnet', '10.33.0.0/24', 'iso-b');
    const [a, b] = [h.sb('isoa'), h.sb('isob')];
    await h.ok('sandbox', 'create', '--network', 'iso-a', a);
    await h.ok('sandbox', 'create', '--network', 'iso-b', b);
    assert.ok(await h.ping(a, '10.32.0.1'), 'own gateway answers');
    assert.equal(await h.ping(a, '10.33.0.2'), false, 'iso-a must not reach iso-b');
    assert.equal(await h.ping(b, '10.32.0.2'), false, 'iso-b must not reach iso-a');
  });

  it('an internal network has no route out and no NAT', async () => {
    await h.ok('network', 'create', '--internal', '--subnet', '10.34.0.0/24', 'inner');
    await h.ok('network', 'create', '--subnet', '10.35.0.0/24', 'outer');
    const [i, o] = [h.sb('inner'), h.sb('outer')];
    await h.ok('sandbox', 'create', '--network', 'inner', i);
    await h.ok('sandbox', 'create', '--network', 'outer', o);
    assert.equal((await h.inSandbox(i, 'ip', 'route', 'show', 'default')).stdout.trim(), '', 'no default route');
    assert.equal(await h.ping(i, '10.35.0.2'), false, 'no way to another network');
    assert.ok(await h.ping(i, '10.34.0.1'), 'the gateway on the bridge still answers');
    const nat = (await h.inHost('iptables-save', '-t', 'nat')).stdout;
    assert.match(nat, /-A NETLOOM-POSTROUTING -s 10\.35\.0\.0\/24 ! -o \S+ -j MASQUERADE/);
    assert.doesNotMatch(nat, /10\.34\.0\.0\/24/);
  });

  it('a sandbox on two networks has eth0 and eth1 with both addresses; disconnect removes eth1', async () => {
    await h.ok('network', 'create', '--subnet', '10.36.0.0/24', 'one');
    await h.ok('network', 'create', '--subnet', '10.37.0.0/24', 'two');
    const s = h.sb('multi');
    await h.ok('sandbox', 'create', '--network', 'one', s);
    await h.ok('network', 'connect', '--alias', 'db', 'two', s);
    const addrs = await sandboxAddrs(s);
    assert.deepEqual(addrs.eth0, ['10.36.0.2/24']);
    assert.deepEqual(addrs.eth1, ['10.37.0.2/24']);
    assert.match((await h.inSandbox(s, 'ip', 'route', 'show', 'default')).stdout, /via 10\.36\.0\.1 dev eth0/);
    await h.ok('network', 'disconnect', 'two', s);
    const after = await sandboxAddrs(s);
    assert.equal(after.eth1, undefined, 'eth1 is gone');
    assert.deepEqual(after.eth0, ['10.36.0.2/24']);
    assert.deepEqual(Object.keys((await h.inspect('two')).Containers), []);
    await h.ok('network', 'connect', 'two', s);
    await h.ok('network', 'disconnect', 'one', s);
    assert.match(
      (await h.inSandbox(s, 'ip', 'route', 'show', 'default')).stdout,
      /via 10\.37\.0\.1 dev eth\d/,
      'the default route moved to the remaining network',
    );
  });

  it('with ICC off, sandboxes on the network cannot talk but reach the gateway', async () => {
    await h.ok('network', 'create', '--subnet', '10.38.0.0/24', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc');
    const [a, b] = [h.sb('icca'), h.sb('iccb')];
    await h.ok('sandbox', 'create', '--network', 'noicc', a);
    await h.ok('sandbox', 'create', '--network', 'noicc', b);
    assert.ok(await h.ping(a, '10.38.0.1'));
    assert.equal(await h.ping(a, '10.38.0.3'), false);
  });

  it('applies the MTU option to the bridge and to both veth ends, and names the bridge as asked', async () => {
    await h.ok(
      'network',
      'create',
      '--subnet',
      '10.39.0.0/24',
      '-o',
      'com.docker.network.driver.mtu=1400',
      '-o',
      'com.docker.network.bridge.name=nltmtu0',
      'mtu',
    );
    const s = h.sb('mtu');
    await h.ok('sandbox', 'create', '--network', 'mtu', s);
    const inside = JSON.parse((await h.inSandbox(s, 'ip', '-j', 'link', 'show', 'eth0')).stdout) as { mtu: number }[];
    assert.equal(inside[0].mtu, 1400);
    const br = JSON.parse((await h.inHost('ip', '-j', 'link', 'show', 'nltmtu0')).stdout) as { mtu: number }[];
    assert.equal(br[0].mtu, 1400);
  });

  it('an IPv6-enabled network gives both families and sandboxes reach each other over IPv6', async () => {
    await h.ok('network', 'create', '--ipv6', '--subnet', '10.42.0.0/24', '--subnet', 'fd00:42::/64', 'dual');
    const [a, b] = [h.sb('v6a'), h.sb('v6b')];
    await h.ok('sandbox', 'create', '--network', 'dual', a);
    await h.ok('sandbox', 'create', '--network', 'dual', '--ip6', 'fd00:42::99', b);
    assert.deepEqual((await sandboxAddrs(a)).eth0, ['10.42.0.2/24', 'fd00:42::2/64']);
    assert.deepEqual((await sandboxAddrs(b)).eth0, ['10.42.0.3/24', 'fd00:42::99/64']);
    assert.equal((await h.inSandbox(a, 'ping', '-6', '-c1', '-W2', 'fd00:42::99')).exitCode, 0);
    assert.equal((await h.inSandbox(a, 'ping', '-6', '-c1', '-W2', 'fd00:42::1')).exitCode, 0, 'the IPv6 gateway answers');
    assert.match((await h.inSandbox(a, 'ip', '-6', 'route', 'show', 'default')).stdout, /via fd00:42::1 dev eth0/);
    const c = Object.values((await h.inspect('dual')).Containers).find((x) => x.Name === b);
    assert.equal(c?.IPv6Address, 'fd00:42::99/64');
  });

  it('removing a network removes its bridge and every rule it added', async () => {
    const before = await h.kernel();
    await h.ok('network', 'create', '--subnet', '10.40.0.0/24', '-o', 'com.docker.network.bridge.name=nltgone0', 'gone');
    const s = h.sb('gone');
    await h.ok('sandbox', 'create', '--network', 'gone', s);
    await h.ok('sandbox', 'rm', s);
    await h.ok('network', 'rm', 'gone');
    assert.deepEqual(await h.kernel(), before);
  });
});
