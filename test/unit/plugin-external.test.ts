// The controller's operations for what a container engine manages (controller/reserved.ts,
// controller/external.ts), called directly as plugin/ calls them, over system/fake and
// MemoryStore: the whole lifecycle, the record protocol under a crash at every store write, and a
// record in the shape main wrote before engine attachments.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { key, type EndpointRecord } from '../../controller/records.js';
import { hostVethName } from '../../drivers/driver.js';
import { MemoryStore } from '../../store/memory.js';
import { del, put } from '../../store/types.js';
import { formatIfAddr } from '../../common/cidr.js';
import { CrashStore } from '../helpers/crashstore.js';
import { start, type World } from '../helpers/world.js';

const hex = (): string => randomBytes(32).toString('hex');

/** What the engine's `docker network create --subnet 10.96.0.0/24` amounts to. */
async function engineNetwork(ctl: Controller, subnet = '10.96.0.0/24') {
  const pool = await ctl.external.reservePool({ family: 4, subnet });
  const id = hex();
  const n = await ctl.external.createNetwork({
    id,
    name: `docker-${id.slice(0, 12)}`,
    driver: 'bridge',
    internal: false,
    enableIPv6: false,
    options: {},
    ipv4: [{ subnet: pool.subnet, gateway: pool.gateway, auxAddresses: {} }],
    ipv6: [],
  });
  return { id: n.id, poolId: pool.id };
}

async function engineEndpoint(ctl: Controller, net: { id: string; poolId: string }, publish: string[] = []) {
  const ipv4 = await ctl.external.reserveAddress(net.poolId);
  const id = hex();
  const { endpoint } = await ctl.external.createEndpoint({
    networkId: net.id,
    endpointId: id,
    label: `docker-${id.slice(0, 12)}`,
    ipv4,
    ipv6: '',
    mac: '',
    publish,
  });
  return endpoint;
}

const veth = (w: World, ep: string) => w.sys.snapshot().namespaces.self.links.find((l) => l.name === hostVethName(ep));
const dump = async (store: MemoryStore) => (await store.list('')).filter((e) => !e.key.startsWith('cursor/')).map((e) => [e.key, e.value]);

describe('controller: engine-managed pools, networks and endpoints', () => {
  test('reserve, bind, attach, publish, detach, delete, release: each step as the engine sees it, nothing left', async () => {
    const w = await start();
    const before = [w.sys.snapshot(), await dump(w.store)];
    const net = await engineNetwork(w.ctl);
    assert.equal(w.ctl.inspectNetwork(net.id).IPAM.Driver, 'netloom', 'a reserved pool was bound');
    const ep = await engineEndpoint(w.ctl, net, ['127.0.0.1:18081:80/tcp']);
    assert.deepEqual([ep.state, ep.attachment, ep.ipv4], ['ready', { kind: 'engine', publish: ['127.0.0.1:18081:80/tcp'] }, { ip: '10.96.0.2', prefix: 24 }]);
    assert.equal(veth(w, ep.id), undefined, 'no veth before attach');
    await assert.rejects(w.ctl.external.publish(ep.id), /has not joined a sandbox yet/);

    const a = await w.ctl.external.attach(net.id, ep.id, '/var/run/docker/netns/c1');
    assert.deepEqual(a, { ifname: ep.ifname, gateway4: '10.96.0.1', gateway6: undefined, internal: false });
    const links = w.sys.snapshot().namespaces.self.links;
    assert.ok(veth(w, ep.id), 'the host end is on the bridge');
    assert.ok(
      links.some((l) => l.name === ep.ifname),
      'the container end stays in the host namespace for the engine to move',
    );
    assert.deepEqual(w.ctl.state.endpoints.get(ep.id)?.attachment, {
      kind: 'engine',
      publish: ['127.0.0.1:18081:80/tcp'],
      sandboxKey: '/var/run/docker/netns/c1',
    });

    const dnat = () => w.sys.snapshot().firewall.ipv4.nat.NETLOOM.rules.filter((r) => r.includes('DNAT'));
    await w.ctl.external.publish(ep.id);
    assert.deepEqual(dnat(), ['-d 127.0.0.1/32 -p tcp -m tcp --dport 18081 -j DNAT --to-destination 10.96.0.2:80']);
    await w.ctl.external.unpublish(ep.id);
    assert.deepEqual(dnat(), []);

    await w.ctl.external.detach(ep.id);
    assert.equal(veth(w, ep.id), undefined);
    const detached = w.ctl.external.endpoint(ep.id);
    assert.deepEqual([detached.state, detached.attachment, detached.ports], ['ready', { kind: 'engine', publish: ['127.0.0.1:18081:80/tcp'] }, undefined]);
    await w.ctl.external.deleteEndpoint(ep.id);
    assert.throws(() => w.ctl.external.endpoint(ep.id), /endpoint [0-9a-f]{64} not found/);
    await w.ctl.external.releaseAddress(net.poolId, ep.ipv4!.ip);
    await w.ctl.external.releasePool(net.poolId);
    await w.ctl.external.deleteNetwork(net.id);
    assert.deepEqual([w.sys.snapshot(), await dump(w.store)], before);
  });

  test("a reserved pool's gateway moves with its addresses kept; once a network binds the pool it is fixed", async () => {
    const w = await start();
    const pool = await w.ctl.external.reservePool({ family: 4, subnet: '10.95.0.0/24' });
    const held = await w.ctl.external.reserveAddress(pool.id, '10.95.0.7');
    assert.equal((await w.ctl.external.setPoolGateway(pool.id)).gateway, '10.95.0.1', 'no gateway asked: the pool as it is');
    const moved = await w.ctl.external.setPoolGateway(pool.id, '10.95.0.254');
    assert.deepEqual([moved.gateway, moved.userGateway], ['10.95.0.254', true]);
    await assert.rejects(w.ctl.external.reserveAddress(pool.id, '10.95.0.7'), /10\.95\.0\.7/, 'the address taken before the move is still held');
    await assert.rejects(w.ctl.external.setPoolGateway(pool.id, '10.95.0.7'), /10\.95\.0\.7/, 'a held address cannot become the gateway');
    const id = hex();
    await w.ctl.external.createNetwork({
      id,
      name: `docker-${id.slice(0, 12)}`,
      driver: 'bridge',
      internal: false,
      enableIPv6: false,
      options: {},
      ipv4: [{ subnet: '10.95.0.0/24', gateway: '10.95.0.254', auxAddresses: {} }],
      ipv6: [],
    });
    await assert.rejects(w.ctl.external.setPoolGateway(pool.id, '10.95.0.9'), /its network exists, it cannot move to 10\.95\.0\.9/);
    assert.equal(held, '10.95.0.7/24');
    await assert.rejects(w.ctl.external.setPoolGateway('dk-nosuch', '10.0.0.1'), /pool dk-nosuch not found/);
  });

  test("netloom's own networks and endpoints are not the engine's to change", async () => {
    const w = await start();
    const mine = await w.ctl.createNetwork({ name: 'mine', ipam: [{ subnet: '10.94.0.0/24' }] });
    await w.ctl.createSandbox({ name: 'web', network: 'mine' });
    const cli = [...w.ctl.state.endpoints.values()][0];
    await assert.rejects(w.ctl.external.deleteNetwork(mine.id), /was made with netloom, not through Docker/);
    await assert.rejects(
      w.ctl.external.createEndpoint({ networkId: mine.id, endpointId: hex(), label: 'x', ipv4: '10.94.0.9/24', ipv6: '', mac: '', publish: [] }),
      /was made with netloom/,
    );
    assert.throws(() => w.ctl.external.endpoint(cli.id), /not found/);
    await w.ctl.external.detach(cli.id);
    await w.ctl.external.deleteEndpoint(cli.id);
    assert.ok(veth(w, cli.id), "a sandbox's endpoint is untouched by the engine's removals");
  });
});

/** A world with an engine network and one created, unattached endpoint; then `op` on a controller
 *  whose store dies at transaction k, and a restart. */
async function crashAt(
  op: (ctl: Controller, ep: EndpointRecord, net: { id: string }) => Promise<unknown>,
  k: number,
  mode: 'before' | 'after',
  attached: boolean,
) {
  const w = await start();
  const net = await engineNetwork(w.ctl);
  const ep = await engineEndpoint(w.ctl, net);
  if (attached) await w.ctl.external.attach(net.id, ep.id, '/var/run/docker/netns/c1');
  const crash = new CrashStore(w.store, k, mode);
  const doomed = new Controller({ store: crash, sys: w.sys, log: silentLogger });
  await doomed.start();
  const outcome = await Promise.race([op(doomed, ep, net).then(() => 'done'), crash.crashed.then(() => 'crashed')]);
  if (outcome === 'done') return undefined;
  return { ep, after: await start(w.store, w.sys) };
}

describe('controller: an engine operation killed between its record write and its kernel work', () => {
  test('attach: "creating" with the sandbox key, no veth yet; reconcile rolls the endpoint back like a CLI connect', async () => {
    const r = (await crashAt((ctl, ep, net) => ctl.external.attach(net.id, ep.id, '/var/run/docker/netns/c1'), 1, 'after', false))!;
    assert.deepEqual(r.after.report.errors, []);
    assert.deepEqual(r.after.report.rolledBack, [`endpoint docker-${r.ep.id.slice(0, 12)}/${r.ep.ifname}`]);
    assert.equal(r.after.ctl.state.endpoints.get(r.ep.id), undefined, 'the engine sees Join fail and deletes the endpoint next: already gone');
    assert.equal(veth(r.after, r.ep.id), undefined);
    assert.equal(await r.after.store.get(key.ep(r.ep.id)), undefined);
  });

  test('attach: killed at any write is rolled back (no veth, no record), or attached when the last write landed', async () => {
    const attach = (ctl: Controller, ep: EndpointRecord, net: { id: string }) => ctl.external.attach(net.id, ep.id, '/var/run/docker/netns/c1');
    let writes = 0;
    for (let k = 1; ; k++) {
      const r = await crashAt(attach, k, 'before', false);
      if (!r) break;
      writes = k;
      assert.deepEqual(r.after.report.errors, []);
      assert.equal(veth(r.after, r.ep.id), undefined, `crash before write ${k}`);
      if (k === 1) assert.equal(r.after.ctl.external.endpoint(r.ep.id).attachment?.sandboxKey, undefined, 'nothing written: still created, not attached');
      else assert.equal(r.after.ctl.state.endpoints.get(r.ep.id), undefined, `crash before write ${k}: rolled back`);
    }
    assert.equal(writes, 2, 'attach writes "creating", then "ready"');
    const last = (await crashAt(attach, writes, 'after', false))!;
    assert.ok(veth(last.after, last.ep.id), 'complete: reconcile keeps the veth');
    assert.equal(last.after.ctl.external.endpoint(last.ep.id).state, 'ready');
  });

  test('detach: marked "deleting", veth still there; reconcile finishes it as it finishes a CLI disconnect', async () => {
    const r = (await crashAt((ctl, ep) => ctl.external.detach(ep.id), 1, 'after', true))!;
    assert.deepEqual(r.after.report.errors, []);
    assert.deepEqual(r.after.report.finished, [`endpoint docker-${r.ep.id.slice(0, 12)}/${r.ep.ifname}`]);
    assert.equal(veth(r.after, r.ep.id), undefined);
    assert.equal(r.after.ctl.state.endpoints.get(r.ep.id), undefined);
  });

  test('create endpoint: "creating" is rolled back; the engine\'s address stays reserved until it releases it', async () => {
    const w = await start();
    const net = await engineNetwork(w.ctl);
    const ipv4 = await w.ctl.external.reserveAddress(net.poolId);
    const crash = new CrashStore(w.store, 1, 'after');
    const doomed = new Controller({ store: crash, sys: w.sys, log: silentLogger });
    await doomed.start();
    const id = hex();
    void doomed.external.createEndpoint({ networkId: net.id, endpointId: id, label: `docker-${id.slice(0, 12)}`, ipv4, ipv6: '', mac: '', publish: [] });
    await crash.crashed;
    assert.equal((await w.store.get<EndpointRecord>(key.ep(id)))?.value.state, 'creating');
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.rolledBack, [`endpoint docker-${id.slice(0, 12)}/nlc${id.slice(0, 10)}`]);
    assert.equal(after.ctl.state.endpoints.get(id), undefined);
    await assert.rejects(after.ctl.external.reserveAddress(net.poolId, ipv4.split('/')[0]), /in use|allocated|taken|held/);
  });
});

describe('controller: records main wrote before engine attachments', () => {
  test('an endpoint with `external: {sandboxKey, publish}` loads as an engine attachment and is re-plumbed', async () => {
    const w = await start();
    const net = await engineNetwork(w.ctl);
    const ep = await engineEndpoint(w.ctl, net, ['8080:80/tcp']);
    await w.ctl.external.attach(net.id, ep.id, '/var/run/docker/netns/c1');
    const links = (x: World) => x.sys.snapshot().namespaces.self.links.map((l) => [l.name, l.kind, l.master, l.alias]);
    const kernel = links(w);
    // The record exactly as main wrote it (by controller/docker.ts, before EngineAttachment): no attachment, `external` instead,
    // the address as "ip/prefix", and no record format in the store (format 1).
    const { attachment: _a, ipv4, ...rest } = w.ctl.state.endpoints.get(ep.id)!;
    const old = { ...rest, ipv4: formatIfAddr(ipv4!), external: { publish: ['8080:80/tcp'], sandboxKey: '/var/run/docker/netns/c1' } };
    await w.store.txn([], [put(key.ep(ep.id), old), del(key.recordFormat)]);
    await w.sys.host.delLink(hostVethName(ep.id));
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.errors, []);
    assert.deepEqual(after.ctl.external.endpoint(ep.id).attachment, { kind: 'engine', publish: ['8080:80/tcp'], sandboxKey: '/var/run/docker/netns/c1' });
    assert.equal('external' in after.ctl.external.endpoint(ep.id), false);
    assert.deepEqual(links(after), kernel, 'reconcile re-made the veth of the attached endpoint, both ends in the host namespace');
    const unattached = { ...old, id: hex(), ifname: 'nlc0', ipv4: '10.96.0.9/24', external: {} };
    await after.store.txn([], [put(key.ep(unattached.id), unattached), del(key.recordFormat)]);
    const again = await start(after.store, after.sys);
    assert.deepEqual(again.ctl.external.endpoint(unattached.id).attachment, { kind: 'engine' });
    assert.equal(veth(again, unattached.id), undefined, 'created but never joined: no veth');
  });
});
