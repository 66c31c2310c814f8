// Restarts and crashes: state survives, and a kill -9 at any step leaks nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, sandboxAddrs, skipUnlessRoot } from '../helpers/host.js';

async function instanceTag(h: TestHost): Promise<string> {
  const out = (await h.inHost('ip', '-d', 'link', 'show', 'netloom0')).stdout;
  const m = /alias (netloom:[0-9a-f]+:)/.exec(out);
  assert.ok(m, `netloom0 carries the instance tag: ${out}`);
  return m[1];
}

describe('restart and crash safety (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let a: string;
  let b: string;
  before(async () => {
    h = await TestHost.create();
    await h.start();
    [a, b] = [h.sb('a'), h.sb('b')];
    await h.ok('network', 'create', '--subnet', '10.70.0.0/24', 'front');
    await h.ok('network', 'create', '--subnet', '10.71.0.0/24', 'back');
    await h.ok('sandbox', 'create', '--network', 'front', a);
    await h.ok('sandbox', 'create', '--network', 'back', b);
  });
  after(async () => h?.cleanup());

  const state = (): Promise<unknown> => h.everything('front', 'back');

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a restart after ${signal} keeps networks, endpoints, addresses and connectivity`, async () => {
      const before = await state();
      await h.stop(signal);
      await h.start();
      assert.deepEqual(await state(), before);
      assert.ok(await h.ping(a, '10.70.0.1'));
    });
  }

  it('a restart recreates kernel state that went missing while the daemon was down', async () => {
    const before = await state();
    await h.stop();
    const veth = (await h.kernel()).links.find((l) => l.startsWith('nlv'));
    assert.ok(veth);
    await h.inHost('ip', 'link', 'del', veth);
    await h.inHost('ip', 'link', 'del', 'netloom0');
    // A bridge that still has ports: its veths survive, detached, and must be re-attached.
    for (const br of (await h.kernel()).links.filter((l) => l.startsWith('nlb-'))) await h.inHost('ip', 'link', 'del', br);
    await h.inHost('iptables', '-w', '-F', 'NETLOOM-FORWARD');
    await h.start();
    assert.deepEqual(await state(), before);
    assert.ok(await h.ping(a, '10.70.0.1'));
  });

  it("a restart removes links tagged as its own that no record explains, and nobody else's", async () => {
    const before = await state();
    const tag = await instanceTag(h);
    await h.stop();
    await h.inHost('ip', 'link', 'add', 'nlvdeadbeef00', 'type', 'veth', 'peer', 'name', 'nlvdeadbeef01');
    await h.inHost('ip', 'link', 'set', 'nlvdeadbeef00', 'alias', `${tag}ep:deadbeef0000`);
    await h.inHost('ip', 'link', 'add', 'foreign0', 'type', 'veth', 'peer', 'name', 'foreign1');
    await h.start();
    const links = (await h.kernel()).links;
    assert.ok(!links.includes('nlvdeadbeef00') && !links.includes('nlvdeadbeef01'), 'the orphan pair is gone');
    assert.ok(links.includes('foreign0'), 'an untagged link is left alone');
    await h.inHost('ip', 'link', 'del', 'foreign0');
    assert.deepEqual(await state(), before);
  });

  const crashes: [string, string, (s: string) => string[]][] = [
    ['connect:recorded', 'connect', (s) => ['network', 'connect', 'front', s]],
    ['join:veth', 'connect', (s) => ['network', 'connect', 'front', s]],
    ['connect:joined', 'connect', (s) => ['network', 'connect', 'front', s]],
    ['create:recorded', 'network create', () => ['network', 'create', '--subnet', '10.72.0.0/24', 'crashnet']],
    ['create:bridge', 'network create', () => ['network', 'create', '--subnet', '10.72.0.0/24', 'crashnet']],
    ['create:applied', 'network create', () => ['network', 'create', '--subnet', '10.72.0.0/24', 'crashnet']],
    ['sandbox:recorded', 'sandbox create', () => ['sandbox', 'create', '--network', 'none', h.sb('crashsb')]],
    ['sandbox:netns', 'sandbox create', () => ['sandbox', 'create', '--network', 'none', h.sb('crashsb')]],
  ];
  for (const [fp, what, args] of crashes) {
    it(`kill -9 during ${what} at ${fp}, then restart: no half object, nothing leaked`, async () => {
      const before = await state();
      await h.stop();
      await h.start({ NETLOOM_FAILPOINT: fp });
      const r = await h.cli(...args(b));
      assert.notEqual(r.exitCode, 0, 'the request dies with the daemon');
      await h.waitExit();
      await h.start();
      assert.deepEqual(await state(), before);
    });
  }

  for (const fp of ['disconnect:marked', 'disconnect:left']) {
    it(`kill -9 during disconnect at ${fp}, then restart: the endpoint is fully gone`, async () => {
      const before = await state();
      await h.ok('network', 'connect', 'front', b);
      await h.stop();
      await h.start({ NETLOOM_FAILPOINT: fp });
      assert.notEqual((await h.cli('network', 'disconnect', 'front', b)).exitCode, 0);
      await h.waitExit();
      await h.start();
      assert.deepEqual(await state(), before);
    });
  }

  it('kill -9 at random moments of connect never leaves a half endpoint', async () => {
    for (let i = 0; i < 6; i++) {
      const pending = h.cli('network', 'connect', 'front', b);
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 60)));
      await h.stop('SIGKILL');
      await pending;
      await h.start();
      const inspected = Object.values((await h.inspect('front')).Containers).filter((c) => c.Name === b);
      const addrs = await sandboxAddrs(b);
      const vethCount = (await h.kernel()).links.filter((l) => l.startsWith('nlv')).length;
      const endpoints = Object.keys((await h.inspect('front')).Containers).length + Object.keys((await h.inspect('back')).Containers).length;
      assert.equal(vethCount, endpoints, 'one host veth per endpoint, no more');
      if (inspected.length) {
        assert.deepEqual(addrs.eth1, [inspected[0].IPv4Address], 'a recorded endpoint is fully plumbed');
        await h.ok('network', 'disconnect', 'front', b);
      } else {
        assert.equal(addrs.eth1, undefined, 'an unrecorded endpoint left no interface');
      }
    }
  });
});
