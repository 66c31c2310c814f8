// drivers/overlay/cluster.ts against the in-memory ClusterStore (store/memorycluster.ts): node identity claims, a watch that goes silent
// while etcd still takes writes, and doctor's FDB/neighbour check against the mirror.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Cluster, nodeIdOf } from '../../drivers/overlay/cluster.js';
import { Controller } from '../../controller/index.js';
import { MemoryClusterStore } from '../../store/memorycluster.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem } from '../../system/fake/index.js';

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  for (const end = Date.now() + ms; !(await cond()); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) assert.fail(`${what} did not happen`);
};

describe('cluster node identity', () => {
  test('the node ID is made once and kept in the local store', async () => {
    const store = new MemoryStore();
    const id = await nodeIdOf(store);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(await nodeIdOf(store), id);
  });

  test("a live host's node ID on another address, or its address under another ID, is refused naming it; its own restart is not", async () => {
    const kv = new MemoryClusterStore();
    const a = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 2, 'vm');
    await a.claim();
    const clone = new Cluster(kv, '10.0.0.2', silentLogger, 'aaaa', 1, 'vm');
    await assert.rejects(
      clone.claim(),
      (e: unknown) =>
        e instanceof NetloomError && e.code === 'NL_NODE_CONFLICT' && /node id aaaa is already claimed by live host "vm" \(10\.0\.0\.1\)/.test(e.message),
    );
    const thief = new Cluster(kv, '10.0.0.1', silentLogger, 'bbbb', 1, 'other');
    await assert.rejects(thief.claim(), /advertise address 10\.0\.0\.1 is already claimed by live host "vm" \(node id aaaa\)/);
    await new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 2, 'vm').claim();
    assert.deepEqual(kv.data.get('ov/host/aaaa')?.value, { vtep: '10.0.0.1', name: 'vm' });
  });
});

describe('cluster lease', () => {
  test('a write that meets an expired lease registers the host again under a new one and succeeds', async () => {
    const kv = new MemoryClusterStore();
    const cl = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 30);
    await cl.claim();
    const old = kv.data.get('ov/host/aaaa')?.lease;
    assert.ok(old, 'registered under a lease');
    await kv.expire(old);
    assert.equal(kv.data.get('ov/host/aaaa'), undefined, 'the expiry took the host key');
    const ip = await cl.allocate('n1', '10.60.0.0/24', '10.60.0.1', 'ep1');
    assert.equal(ip, '10.60.0.2');
    const now = kv.data.get('ov/host/aaaa');
    assert.ok(now && now.lease !== old, 'the host is registered again under a new lease');
    assert.equal(kv.data.get('ov/alloc/n1/10.60.0.2')?.lease, now.lease, 'the address is under the new lease');
    await cl.close();
  });
});

describe('cluster watch heartbeat', () => {
  test('a watch that goes silent while etcd takes writes is noticed and resynced; a live one never is', async () => {
    const kv = new MemoryClusterStore();
    let applies = 0;
    const cl = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 2);
    await cl.start({ serial: (fn) => fn(), changed: async () => void applies++ });
    await new Promise((r) => setTimeout(r, 3000)); // heartbeats come back through the watch
    assert.equal(cl.stalls, 0);
    kv.silent = true;
    await kv.txn([], [{ op: 'put', key: 'ov/net/n1', value: { id: 'n1', name: 'late', subnet: '10.9.0.0/24', gateway: '10.9.0.1', vni: 4096, created: '' } }]);
    assert.equal(cl.networks().length, 0, 'the silent watch did not deliver it');
    await until('a resync after the silent watch', () => cl.networks().length === 1, 20_000);
    assert.ok(cl.stalls >= 1);
    assert.ok(applies >= 2, 'the fresh read was applied');
    await cl.close();
  });
});

describe('doctor: FDB and neighbour entries against the cluster mirror', () => {
  test('a deleted FDB entry and a stray neighbour entry are listed; doctor --fix programs the mirror again', async () => {
    const kv = new MemoryClusterStore();
    const sys = createFakeSystem();
    const cluster = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 30);
    const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger, overlayHost: { vtep: '10.0.0.1', port: 4789, underlayMtu: 1500, cluster } });
    await ctl.start();
    const n = await ctl.createNetwork({ name: 'ov', driver: 'overlay', ipam: [{ subnet: '10.60.0.0/24' }] });
    await kv.txn(
      [],
      [
        {
          op: 'put',
          key: `ov/ep/${n.id}/ep2`,
          value: { id: 'ep2', network: n.id, host: 'bbbb', vtep: '10.0.0.2', ip: '10.60.0.7/24', mac: '02:42:0a:3c:00:07', name: 'far', aliases: [] },
        },
      ],
    );
    const vx = `nlx-${n.id.slice(0, 11)}`;
    await until('the remote endpoint programmed', async () => (await sys.host.neighbours(vx, true)).length > 0, 5000);
    assert.deepEqual((await ctl.doctor()).findings, []);
    await sys.host.delNeighbour({ link: vx, mac: '02:42:0a:3c:00:07', ip: '10.0.0.2', fdb: true });
    await sys.host.addNeighbour({ link: vx, mac: '02:42:0a:3c:00:99', ip: '10.60.0.99', fdb: false });
    const found = (await ctl.doctor()).findings.map((f) => `${f.kind} ${f.object}: ${f.problem}`);
    assert.deepEqual(found, [
      `peer fdb 02:42:0a:3c:00:07 dst 10.0.0.2 dev ${vx} (network ov): missing: the cluster has this endpoint`,
      `peer neigh 10.60.0.99 lladdr 02:42:0a:3c:00:99 dev ${vx} (network ov): not in the cluster mirror`,
    ]);
    const fix = await ctl.doctorFix();
    assert.deepEqual(fix.after, []);
    await ctl.close();
  });
});
