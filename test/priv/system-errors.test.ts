// The real system layer fails with the same typed errors as system/fake (errno, step, object):
// each refusal is made once against the kernel, in namespaces this test made, and once against
// the fake, and the two are compared field by field.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemCause } from '../../common/errors.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';
import { openHandle } from '../../system/index.js';
import { IpNetns } from '../../system/netns.js';
import type { NetHandle, Namespaces } from '../../system/types.js';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

const shape = (err: unknown): { errno?: string; step?: string; object?: string } => {
  const s = systemCause(err);
  return { errno: s?.errno, step: s?.step, object: s?.object };
};

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );

describe('real and fake system failures carry the same errno, step and object (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let sb: string;
  let real: { host: NetHandle; netns: Namespaces };
  let fake: { sys: FakeSystem; host: NetHandle };
  before(async () => {
    h = await TestHost.create();
    sb = h.sb('web');
    real = { host: openHandle({ kind: 'named', name: h.ns }), netns: new IpNetns() };
    await real.netns.add(sb);
    const sys = createFakeSystem();
    await sys.netns.add(h.ns);
    await sys.netns.add(sb);
    fake = { sys, host: await sys.open({ kind: 'named', name: h.ns }) };
  });
  after(async () => {
    real?.host.close();
    await h?.cleanup();
  });

  const both = async (what: (host: NetHandle, netns: Namespaces) => Promise<unknown>): Promise<[unknown, unknown]> => [
    shape(await failure(what(real.host, real.netns))),
    shape(await failure(what(fake.host, fake.sys.netns))),
  ];

  it('a veth whose peer name is taken in the sandbox: EEXIST, create veth, the host end in its namespace', async () => {
    const veth = (host: NetHandle) => host.addVeth({ hostName: 'nlvdeadbeef01', peerName: 'lo', peerNs: { kind: 'named', name: sb }, alias: 'netloom:test' });
    const [r, f] = await both(veth);
    assert.deepEqual(r, { errno: 'EEXIST', step: 'create veth', object: `nlvdeadbeef01 in netns ${h.ns}` });
    assert.deepEqual(f, r);
  });

  it('an address on a link that is not there: ENODEV, add address, the address, link and namespace', async () => {
    const [r, f] = await both((host) => host.addAddr('nlvnosuch0', '10.77.0.1/24'));
    assert.deepEqual(r, { errno: 'ENODEV', step: 'add address', object: `10.77.0.1/24 on nlvnosuch0 in netns ${h.ns}` });
    assert.deepEqual(f, r);
  });

  it('a namespace name that is taken: EEXIST from ip netns add and from an alias', async () => {
    const [r, f] = await both((_h, netns) => netns.add(sb));
    assert.deepEqual(r, { errno: 'EEXIST', step: 'create netns', object: `netns ${sb}` });
    assert.deepEqual(f, r);
    const [ra, fa] = await both((_h, netns) => netns.alias(sb, { kind: 'self' }));
    assert.deepEqual(ra, { errno: 'EEXIST', step: 'create netns', object: `netns ${sb}` });
    assert.deepEqual(fa, ra);
  });

  it('deleting what is gone succeeds in both (the idempotent delete tests the errno)', async () => {
    for (const host of [real.host, fake.host]) {
      await host.delLink('nlvnosuch0');
      await host.delAddr('nlvnosuch0', '10.77.0.1/24');
      await host.delRoute({ dst: '10.78.0.0/24', family: 4 });
    }
  });
});
