// Sandbox modes: none, host, container:<name>; the default bridge network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, sandboxAddrs, skipUnlessRoot } from '../helpers/host.js';

const linkNames = async (h: TestHost, ns: string): Promise<string[]> =>
  (JSON.parse((await h.inSandbox(ns, 'ip', '-j', 'link')).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();

describe('sandbox modes (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  before(async () => {
    h = await TestHost.create();
    await h.start();
  });
  after(async () => h?.cleanup());

  it('a sandbox without --network joins the default bridge network (netloom0, 172.17.0.0/16)', async () => {
    const s = h.sb('dflt');
    await h.ok('sandbox', 'create', s);
    assert.deepEqual((await sandboxAddrs(s)).eth0, ['172.17.0.2/16']);
    assert.ok(await h.ping(s, '172.17.0.1'));
    const net = await h.inspect('bridge');
    assert.equal(net.Options['com.docker.network.bridge.name'], 'netloom0');
    assert.deepEqual(net.IPAM.Config[0], { Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' });
    assert.equal(Object.values(net.Containers)[0].Name, s);
  });

  it('none has only lo, up', async () => {
    const s = h.sb('none');
    await h.ok('sandbox', 'create', '--network', 'none', s);
    assert.deepEqual(await linkNames(h, s), ['lo']);
    assert.ok(await h.ping(s, '127.0.0.1'));
  });

  it('host shares the daemon namespace: it sees the host bridge', async () => {
    const s = h.sb('host');
    await h.ok('sandbox', 'create', '--network', 'host', s);
    const names = await linkNames(h, s);
    assert.ok(names.includes('netloom0'), `host mode sees netloom0, got ${names.join(',')}`);
    const cannot = await h.cli('network', 'connect', 'bridge', s);
    assert.notEqual(cannot.exitCode, 0);
    assert.match(cannot.stderr, /host network/);
  });

  it("container:<x> sees x's interfaces and addresses and has no endpoint of its own", async () => {
    await h.ok('network', 'create', '--subnet', '10.41.0.0/24', 'shared');
    const [x, y] = [h.sb('x'), h.sb('y')];
    await h.ok('sandbox', 'create', '--network', 'shared', x);
    await h.ok('sandbox', 'create', '--network', `container:${x}`, y);
    assert.deepEqual(await sandboxAddrs(y), await sandboxAddrs(x));
    assert.deepEqual((await sandboxAddrs(y)).eth0, ['10.41.0.2/24']);
    assert.equal(Object.keys((await h.inspect('shared')).Containers).length, 1);
    const inY = JSON.parse(await h.ok('sandbox', 'inspect', y)) as { NetworkMode: string }[];
    assert.equal(inY[0].NetworkMode, `container:${x}`);
  });

  it('network ls filters like docker network ls -f', async () => {
    const names = async (...f: string[]): Promise<string[]> =>
      (JSON.parse(await h.ok('network', 'ls', '--format', 'json', ...f.flatMap((x) => ['-f', x]))) as { Name: string }[]).map((n) => n.Name);
    assert.deepEqual(await names('driver=null'), ['none']);
    assert.deepEqual(await names('driver=host'), ['host']);
    assert.ok((await names('name=bri')).includes('bridge'));
    const bad = await h.cli('network', 'ls', '-f', 'driver');
    assert.notEqual(bad.exitCode, 0);
    assert.match(bad.stderr, /invalid --filter "driver"/);
  });

  it('sandbox rm removes the namespace and its veth pair', async () => {
    const before = await h.kernel();
    const s = h.sb('tmp');
    await h.ok('sandbox', 'create', s);
    await h.ok('sandbox', 'rm', s);
    assert.deepEqual(await h.kernel(), before);
  });
});
