// The contract of system/types.ts, run against system/fake: what the controller tests rely on
// the fake to do the way the kernel does. Written against the System interface only (plus
// failNext/snapshot where the test is about the fake itself).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFakeSystem } from '../../system/fake/index.js';
import type { NetHandle } from '../../system/types.js';
import type { SystemError } from '../../common/errors.js';

const alias = 'netloom:test:ep:0';
const base = '*filter\n:NL-A - [0:0]\n:NL-B - [0:0]\n-A NL-A -j NL-B\nCOMMIT\n*nat\n:NL-P - [0:0]\nCOMMIT\n';

async function withSandbox(name = 'sb1') {
  const sys = createFakeSystem();
  await sys.netns.add(name);
  const sb = await sys.open({ kind: 'named', name });
  return { sys, sb };
}

const names = async (h: NetHandle): Promise<string[]> => (await h.links()).map((l) => l.name).sort();

describe('fake system: ensure semantics', () => {
  test('adding what exists succeeds and leaves one copy; deleting what is gone succeeds', async () => {
    const sys = createFakeSystem();
    await sys.host.addBridge('br0', { alias });
    await sys.host.addBridge('br0', { alias });
    await sys.host.addAddr('br0', '10.9.0.1/24');
    await sys.host.addAddr('br0', '10.9.0.1/24');
    await sys.host.addRoute({ dst: '10.8.0.0/16', gateway: '10.9.0.254', family: 4 });
    await sys.host.addRoute({ dst: '10.8.0.0/16', gateway: '10.9.0.254', family: 4 });
    assert.deepEqual(await sys.host.addrs('br0'), [{ link: 'br0', cidr: '10.9.0.1/24' }]);
    assert.equal((await sys.host.routes()).filter((r) => r.dst === '10.8.0.0/16').length, 1);
    await sys.host.delLink('br0');
    await sys.host.delLink('br0');
    await sys.host.delAddr('br0', '10.9.0.1/24');
    await sys.host.delRoute({ dst: '10.8.0.0/16', family: 4 });
    await sys.netns.del('nosuch');
    await sys.firewall.deleteRule(4, 'filter', 'FORWARD', ['-j', 'ACCEPT']);
    assert.equal(await sys.host.link('br0'), undefined);
    assert.ok(!(await sys.host.routes()).some((r) => r.link === 'br0' || r.dst === '10.8.0.0/16'));
  });

  test('addBridge refuses a name taken by a link that is not a bridge', async () => {
    const sys = createFakeSystem();
    await assert.rejects(sys.host.addBridge('eth0', { alias }), /eth0.*not a bridge/);
  });

  test('an address brings its connected route once the link is up, and takes it along when deleted', async () => {
    const { sys, sb } = await withSandbox();
    await sys.host.addVeth({ hostName: 'v1', peerName: 'eth0', peerNs: { kind: 'named', name: 'sb1' }, alias });
    await sb.addAddr('eth0', '10.5.0.2/24');
    assert.deepEqual(await sb.routes(), [], 'the sandbox end starts down');
    await assert.rejects(sb.addRoute({ dst: 'default', gateway: '10.5.0.1', link: 'eth0', family: 4 }), /ENETUNREACH/);
    await sb.setUp('eth0');
    await sb.addRoute({ dst: 'default', gateway: '10.5.0.1', link: 'eth0', family: 4 });
    assert.deepEqual(
      (await sb.routes()).sort((a, b) => a.dst.localeCompare(b.dst)),
      [
        { dst: '10.5.0.0/24', link: 'eth0', family: 4 },
        { dst: 'default', gateway: '10.5.0.1', link: 'eth0', family: 4 },
      ],
    );
    await sb.delAddr('eth0', '10.5.0.2/24');
    assert.deepEqual(
      (await sb.routes()).map((r) => r.dst),
      ['default'],
    );
    sb.close();
  });
});

describe('fake system: namespaces and veth pairs', () => {
  test('deleting either end of a veth pair deletes both, with their addresses and routes', async () => {
    const { sys, sb } = await withSandbox();
    const spec = { hostName: 'nlv1', peerName: 'eth0', peerNs: { kind: 'named', name: 'sb1' } as const, alias };
    await sys.host.addVeth(spec);
    await sb.addAddr('eth0', '10.1.0.2/24');
    await sb.setUp('eth0');
    await sb.delLink('eth0');
    assert.equal(await sys.host.link('nlv1'), undefined);
    assert.deepEqual(await names(sb), ['lo']);
    assert.deepEqual(await sb.routes(), []);
    await sys.host.addVeth(spec);
    await sys.host.delLink('nlv1');
    assert.deepEqual(await names(sb), ['lo']);
  });

  test('a veth whose peer name is taken in the other namespace is not created at all', async () => {
    const { sys } = await withSandbox();
    await sys.host.addVeth({ hostName: 'a', peerName: 'eth0', peerNs: { kind: 'named', name: 'sb1' }, alias });
    await assert.rejects(sys.host.addVeth({ hostName: 'b', peerName: 'eth0', peerNs: { kind: 'named', name: 'sb1' }, alias }), /EEXIST/);
    assert.equal(await sys.host.link('b'), undefined);
  });

  test('a namespace lives while any name is left; when it dies its veths take their host ends along', async () => {
    const { sys, sb } = await withSandbox();
    await sys.netns.alias('other', { kind: 'named', name: 'sb1' });
    await sys.host.addVeth({ hostName: 'nlv1', peerName: 'eth0', peerNs: { kind: 'named', name: 'other' }, alias });
    assert.deepEqual(await names(sb), ['eth0', 'lo'], 'an alias names the same namespace');
    await sys.netns.del('sb1');
    assert.ok(await sys.host.link('nlv1'));
    assert.deepEqual(await sys.netns.list(), ['other']);
    await sys.netns.del('other');
    assert.equal(await sys.host.link('nlv1'), undefined);
    await assert.rejects(sb.links(), /gone/);
    await assert.rejects(sys.open({ kind: 'named', name: 'sb1' }), /\/run\/netns\/sb1 is not there/);
  });

  test("self is reachable as self, by pid and by path; other processes' namespaces are not there", async () => {
    const sys = createFakeSystem();
    for (const ref of [{ kind: 'pid', pid: process.pid } as const, { kind: 'path', path: '/proc/self/ns/net' } as const]) {
      const h = await sys.open(ref);
      assert.ok(await h.link('eth0'));
      h.close();
    }
    await assert.rejects(sys.open({ kind: 'pid', pid: 1 }), /\/proc\/1\/ns\/net is not there/);
  });

  test('add refuses an existing name; an alias of self never destroys the host', async () => {
    const sys = createFakeSystem();
    await sys.netns.add('x');
    await assert.rejects(sys.netns.add('x'), /File exists/);
    await sys.netns.alias('h', { kind: 'self' });
    await sys.netns.del('h');
    assert.ok(await sys.host.link('eth0'));
  });

  test('a name ip netns would refuse is refused with EINVAL, naming it, and nothing is made (as by system/netns.ts)', async () => {
    const sys = createFakeSystem();
    const before = sys.snapshot();
    for (const bad of ['', '.', '..', 'a/b', 'nul\0', 'é'.repeat(128)]) {
      for (const attempt of [sys.netns.add(bad), sys.netns.alias(bad, { kind: 'self' })]) {
        const err = await attempt.then(
          () => assert.fail(`expected ${JSON.stringify(bad)} to be refused`),
          (e: unknown) => e as SystemError,
        );
        assert.equal(err.errno, 'EINVAL');
        assert.ok(err.message.startsWith(`invalid network namespace name "${bad}": `), err.message);
      }
    }
    assert.deepEqual(sys.snapshot(), before);
    await sys.netns.add('x'.repeat(255));
    assert.deepEqual(await sys.netns.list(), ['x'.repeat(255)]);
  });

  test('add with loUp gives the namespace what setUp of lo gives it', async () => {
    const sys = createFakeSystem();
    await sys.netns.add('a', { loUp: true });
    await sys.netns.add('b');
    const b = await sys.open({ kind: 'named', name: 'b' });
    await b.setUp('lo');
    b.close();
    const { namespaces } = sys.snapshot();
    assert.equal(namespaces.a.links[0].up, true);
    assert.deepEqual({ ...namespaces.a, names: [] }, { ...namespaces.b, names: [] });
  });

  test('open() handles are counted until closed, and a closed handle refuses work', async () => {
    const { sys, sb } = await withSandbox();
    assert.equal(sys.openHandles, 1);
    sb.close();
    assert.equal(sys.openHandles, 0);
    await assert.rejects(sb.links(), /closed/);
  });
});

describe('fake system: firewall', () => {
  test('iptables-restore applies a batch; declaring a user chain flushes it, a built-in one keeps its rules', async () => {
    const sys = createFakeSystem();
    await sys.firewall.restore(4, base);
    await sys.firewall.ensureJump(4, 'filter', 'FORWARD', 'NL-A');
    await sys.firewall.ensureJump(4, 'filter', 'FORWARD', 'NL-A');
    await sys.firewall.restore(4, '*filter\n:FORWARD DROP [0:0]\n:NL-A - [0:0]\n-A NL-A -i br0 -j ACCEPT\nCOMMIT\n');
    assert.equal(
      await sys.firewall.save(4, 'filter'),
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:NL-A - [0:0]\n:NL-B - [0:0]\n' +
        '-A FORWARD -j NL-A\n-A NL-A -i br0 -j ACCEPT\nCOMMIT\n',
    );
  });

  test('a batch with one bad line changes nothing in any table', async () => {
    const sys = createFakeSystem();
    await sys.firewall.restore(4, base);
    const before = sys.snapshot().firewall;
    const bad = [
      '*nat\n-A NL-P -s 10.0.0.0/8 -j MASQUERADE\nCOMMIT\n*filter\n-D NL-A -i nosuch -j DROP\nCOMMIT\n',
      '*filter\n-A NL-A -j DROP\n-A NL-NEW -j DROP\nCOMMIT\n',
      '*filter\n-A NL-A -j NL-NOWHERE\nCOMMIT\n',
      '*filter\n-A NL-A -j DROP\n',
      '-A NL-A -j DROP\n',
    ];
    for (const text of bad) {
      await assert.rejects(sys.firewall.restore(4, text), /iptables-restore: (line \d+ failed|COMMIT expected)/, text);
      assert.deepEqual(sys.snapshot().firewall, before, text);
    }
  });

  test('ensureJump needs the target chain; deleteRule removes every copy of a rule', async () => {
    const sys = createFakeSystem();
    await assert.rejects(sys.firewall.ensureJump(4, 'nat', 'POSTROUTING', 'NL-P'), /NL-P/);
    await sys.firewall.restore(6, `${base}*filter\n-A NL-B -j DROP\n-A NL-B -j DROP\nCOMMIT\n`);
    await sys.firewall.deleteRule(6, 'filter', 'NL-B', ['-j', 'DROP']);
    assert.deepEqual(sys.snapshot().firewall.ipv6.filter['NL-B'].rules, []);
  });
});

describe('fake system: fault injection', () => {
  test('failNext throws once, on the chosen call, and changes nothing', async () => {
    const sys = createFakeSystem();
    const before = sys.snapshot();
    sys.failNext('addBridge');
    await assert.rejects(sys.host.addBridge('br0', { alias }), /injected failure/);
    assert.deepEqual(sys.snapshot(), before);
    sys.failNext('netns.add', new Error('boom'), 1);
    await sys.netns.add('a');
    await assert.rejects(sys.netns.add('b'), /^Error: boom$/);
    await sys.netns.add('b');
    sys.failNext('restore');
    await assert.rejects(sys.firewall.restore(4, base), /restore/);
    assert.deepEqual(sys.snapshot().firewall, before.firewall);
    assert.deepEqual(
      sys.calls.slice(0, 2).map((c) => c.method),
      ['addBridge', 'netns.add'],
    );
  });

  test('failAfter lets the call do its work, then throws', async () => {
    const sys = createFakeSystem();
    sys.failAfter('addBridge');
    await assert.rejects(sys.host.addBridge('br0', { alias }), /injected failure/);
    assert.equal((await sys.host.link('br0'))?.kind, 'bridge');
    sys.failAfter('open');
    await assert.rejects(sys.open({ kind: 'self' }));
    assert.equal(sys.openHandles, 0, 'a handle never handed out is not counted');
  });
});
