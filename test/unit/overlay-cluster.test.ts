// The overlay cluster's own logic (drivers/overlay/cluster.ts, pick.ts) on the in-memory
// ClusterStore: two hosts claiming the same address or VNI at once, a dead host's lease running
// out, a watch that misses a window and resyncs, and this host's records put back after its own
// lease was lost. Last, the controller's side with a made-up multi-host driver: it names none.
import { loadDriver } from '../../drivers/handle.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { contains } from '../../common/cidr.js';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { Cluster } from '../../drivers/overlay/cluster.js';
import { FIRST_VNI, pickAddress, pickVni } from '../../drivers/overlay/pick.js';
import type { ClusterDriver, ClusterEndpoint, ClusterNetwork, ClusterEvents, ClusterMember, Driver, LocalEndpoint } from '../../drivers/driver.js';
import { defaultDrivers } from '../../drivers/registry.js';
import type { PoolRecord } from '../../ipam/types.js';
import { MemoryClusterStore } from '../../store/memorycluster.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem } from '../../system/fake/index.js';

const SUBNET = '10.60.0.0/24';
const GW = '10.60.0.1';
const pool = (subnet: string, gateway: string): PoolRecord => ({
  id: 'p',
  owner: 'n',
  ownerName: 'n',
  family: 4,
  subnet,
  gateway,
  userGateway: false,
  aux: {},
  userSubnet: true,
});
const code = (c: string) => (e: unknown) => e instanceof NetloomError && e.code === c;
const until = async (what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  for (const end = Date.now() + ms; !(await cond()); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) assert.fail(`${what} did not happen`);
};
const noop = { serial: <T>(fn: () => Promise<T>) => fn(), changed: async () => undefined };

/** Two hosts on one store, registered (not started unless a test starts them). */
async function twoHosts(kv: MemoryClusterStore, ttl = 30): Promise<[Cluster, Cluster]> {
  const a = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', ttl, 'a');
  const b = new Cluster(kv, '10.0.0.2', silentLogger, 'bbbb', ttl, 'b');
  await a.claim();
  await b.claim();
  return [a, b];
}

/** An endpoint `host` has taken an address for and announced. */
async function endpointOn(cl: Cluster, network: string, id: string, name: string): Promise<LocalEndpoint> {
  const ip = await cl.allocate(network, SUBNET, GW, id);
  const ep: LocalEndpoint = { id, network, sandbox: name, ipv4: `${ip}/24`, mac: '02:42:0a:3c:00:09', aliases: [] };
  await cl.publish(ep);
  return ep;
}

describe('overlay cluster: concurrent claims', () => {
  test('two hosts asking for the same address at once: exactly one gets it, the other is told it is taken', async () => {
    const kv = new MemoryClusterStore();
    const [a, b] = await twoHosts(kv);
    const r = await Promise.allSettled([a.allocate('n1', SUBNET, GW, 'ea', '10.60.0.5'), b.allocate('n1', SUBNET, GW, 'eb', '10.60.0.5')]);
    const won = r.filter((x) => x.status === 'fulfilled');
    const lost = r.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(code('NL_IPAM_ADDR_IN_USE')(lost[0].reason), String(lost[0].reason));
    const holder = kv.data.get('ov/alloc/n1/10.60.0.5')?.value as { host: string };
    assert.equal(holder.host, r[0].status === 'fulfilled' ? 'aaaa' : 'bbbb');
    await Promise.all([a.close(), b.close()]);
  });

  test('two hosts allocating at once never get the same address (the losing transaction retries)', async () => {
    const kv = new MemoryClusterStore();
    const [a, b] = await twoHosts(kv);
    const ips = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).allocate('n1', SUBNET, GW, `e${i}`)));
    assert.equal(new Set(ips).size, 12, `distinct: ${ips.join(' ')}`);
    assert.ok(!ips.includes(GW));
    assert.equal((await kv.listAt('ov/alloc/n1/')).entries.length, 12);
    await Promise.all([a.close(), b.close()]);
  });

  test('two hosts defining networks with the same VNI, or the same name, at once: exactly one wins', async () => {
    const kv = new MemoryClusterStore();
    const [a, b] = await twoHosts(kv);
    const vni = await Promise.allSettled([
      a.define({ id: 'n1', name: 'red', created: '' }, pool('10.1.0.0/24', '10.1.0.1'), 5000, undefined),
      b.define({ id: 'n2', name: 'blue', created: '' }, pool('10.2.0.0/24', '10.2.0.1'), 5000, undefined),
    ]);
    assert.deepEqual(vni.map((x) => x.status).sort(), ['fulfilled', 'rejected']);
    assert.ok(code('NL_VNI_IN_USE')(vni.find((x): x is PromiseRejectedResult => x.status === 'rejected')?.reason));
    const name = await Promise.allSettled([
      a.define({ id: 'n3', name: 'green', created: '' }, pool('10.3.0.0/24', '10.3.0.1'), undefined, undefined),
      b.define({ id: 'n4', name: 'green', created: '' }, pool('10.4.0.0/24', '10.4.0.1'), undefined, undefined),
    ]);
    assert.deepEqual(name.map((x) => x.status).sort(), ['fulfilled', 'rejected']);
    assert.ok(code('NL_NETWORK_EXISTS')(name.find((x): x is PromiseRejectedResult => x.status === 'rejected')?.reason));
    const vnis = (await kv.listAt<{ vni: number }>('ov/net/')).entries.map((e) => e.value.vni);
    assert.equal(new Set(vnis).size, vnis.length, `one network per VNI: ${vnis.join(' ')}`);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('overlay cluster: lease expiry', () => {
  test("a dead host's lease running out takes its endpoints from every other host's peers and DNS", async () => {
    const kv = new MemoryClusterStore();
    const sys = createFakeSystem();
    const a = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 30, 'a');
    const ctl = new Controller({
      store: new MemoryStore(),
      sys,
      log: silentLogger,
      overlayHost: { vtep: '10.0.0.1', port: 4789, underlayMtu: 1500, cluster: a },
    });
    await ctl.start();
    const n = await ctl.createNetwork({ name: 'ov', driver: 'overlay', ipam: [{ subnet: SUBNET }] });
    const b = new Cluster(kv, '10.0.0.2', silentLogger, 'bbbb', 30, 'b');
    await b.claim();
    await endpointOn(b, n.id, 'ebbbbbbbbbbbbbbb', 'far');
    const vx = `nlx-${n.id.slice(0, 11)}`;
    await until('the remote endpoint programmed', async () => (await sys.host.neighbours(vx, true)).length === 1, 5000);
    assert.deepEqual(Object.keys(ctl.inspectNetwork('ov').RemoteEndpoints ?? {}), ['ebbbbbbbbbbbbbbb']);
    await b.close(); // dead: nothing renews its lease any more
    await kv.expire(kv.leaseOf('ov/host/bbbb')!);
    await until(
      "the dead host's endpoint unprogrammed",
      async () => (await sys.host.neighbours(vx, true)).length === 0 && (await sys.host.neighbours(vx, false)).length === 0,
      5000,
    );
    assert.deepEqual(
      a.endpoints(n.id).map((e) => e.host),
      [],
    );
    assert.deepEqual(
      a.hosts().map((h) => h.id),
      ['aaaa'],
    );
    assert.deepEqual(ctl.inspectNetwork('ov').RemoteEndpoints, {});
    assert.equal((await kv.listAt(`ov/alloc/${n.id}/`)).entries.length, 0, 'its address is free again');
    await ctl.close();
  });
});

describe('overlay cluster: watch resync', () => {
  test('a watch that breaks after missing a window: the fresh read gives exactly the peers the store has', async () => {
    const kv = new MemoryClusterStore();
    const [a, b] = await twoHosts(kv);
    let changes = 0;
    await a.start({ serial: (fn) => fn(), changed: async () => void changes++ });
    const gone = await endpointOn(b, 'n1', 'e1', 'one');
    await until('the first endpoint seen', () => a.endpoints('n1').length === 1, 5000);
    kv.silent = true; // the window a's watch misses
    await b.withdraw(gone);
    await endpointOn(b, 'n1', 'e2', 'two');
    await endpointOn(b, 'n1', 'e3', 'three');
    assert.deepEqual(
      a.endpoints('n1').map((e) => e.id),
      ['e1'],
      'nothing of the window arrived',
    );
    const before = changes;
    kv.silent = false;
    kv.breakWatches();
    await until('the resync', () => a.endpoints('n1').length === 2, 5000);
    assert.deepEqual(
      a
        .endpoints('n1')
        .map((e) => e.id)
        .sort(),
      ['e2', 'e3'],
    );
    assert.ok(changes > before, 'the controller was told');
    assert.equal(kv.watching, 1, 'watching again');
    await endpointOn(b, 'n1', 'e4', 'four');
    await until('a later change through the new watch', () => a.endpoints('n1').length === 3, 5000);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('overlay cluster: address re-registration after lease loss', () => {
  test("this host's lease lost: its endpoint and address are put back under a new lease by the keepalive", async () => {
    const kv = new MemoryClusterStore();
    const a = new Cluster(kv, '10.0.0.1', silentLogger, 'aaaa', 2, 'a');
    await a.start(noop);
    const ep = await endpointOn(a, 'n1', 'e1', 'web');
    const ip = ep.ipv4!.split('/')[0];
    const old = kv.leaseOf('ov/host/aaaa')!;
    await kv.expire(old);
    assert.equal(kv.data.get(`ov/ep/n1/e1`), undefined, 'the expiry took the endpoint');
    await until('the endpoint registered again', () => kv.data.has('ov/ep/n1/e1'), 5000);
    const now = kv.leaseOf('ov/host/aaaa');
    assert.ok(now && now !== old);
    assert.equal(kv.leaseOf('ov/ep/n1/e1'), now);
    assert.equal(kv.leaseOf(`ov/alloc/n1/${ip}`), now);
    assert.deepEqual(kv.data.get(`ov/alloc/n1/${ip}`)?.value, { host: 'aaaa', ep: 'e1' });
    await a.close();
  });

  test('an address another host took while this one was away is not taken back: its record stays out', async () => {
    const kv = new MemoryClusterStore();
    const [a, b] = await twoHosts(kv);
    const ep = await endpointOn(a, 'n1', 'e1', 'web');
    const ip = ep.ipv4!.split('/')[0];
    const old = kv.leaseOf('ov/host/aaaa')!;
    await kv.expire(old);
    assert.equal(await b.allocate('n1', SUBNET, GW, 'e9', ip), ip, 'free while a was away');
    // a's next write meets the lost lease and registers again, its endpoint included.
    await a.allocate('n1', SUBNET, GW, 'e2');
    assert.ok(kv.leaseOf('ov/host/aaaa') !== old, 'a is registered again');
    assert.deepEqual(kv.data.get(`ov/alloc/n1/${ip}`)?.value, { host: 'bbbb', ep: 'e9' });
    assert.equal(kv.data.get('ov/ep/n1/e1'), undefined, 'a does not announce an address it no longer holds');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('overlay picks (pure)', () => {
  test('VNI: the wanted one when free (else refused naming the holder), the first free from 4096 otherwise', () => {
    assert.equal(pickVni(new Map(), undefined), FIRST_VNI);
    assert.equal(
      pickVni(
        new Map([
          [4096, 'a'],
          [4097, undefined],
        ]),
        undefined,
      ),
      4098,
    );
    assert.equal(pickVni(new Map([[4096, 'a']]), 7), 7);
    assert.throws(() => pickVni(new Map([[7, 'red']]), 7), /VNI 7 is already used by overlay network "red"/);
    assert.throws(() => pickVni(new Map([[7, undefined]]), 7), /VNI 7 is already used by another overlay network/);
  });

  test('address: inside the subnet, never the gateway or a taken one, the lowest free; a wanted one is checked', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { maxLength: 252 }), (ks) => {
        const taken = new Set(ks.map((k) => `10.60.0.${k}`));
        const ip = pickAddress(SUBNET, GW, taken);
        assert.ok(contains(SUBNET, ip) && ip !== GW && !taken.has(ip));
        const lowest = Array.from({ length: 254 }, (_, i) => `10.60.0.${i + 1}`).find((x) => x !== GW && !taken.has(x));
        assert.equal(ip, lowest);
      }),
    );
    assert.throws(() => pickAddress(SUBNET, GW, new Set(), '10.61.0.5'), code('NL_IPAM_ADDR_OUTSIDE'));
    assert.throws(() => pickAddress(SUBNET, GW, new Set(), GW), code('NL_IPAM_ADDR_IN_USE'));
    assert.throws(() => pickAddress('10.60.0.0/30', '10.60.0.1', new Set(['10.60.0.2'])), code('NL_IPAM_EXHAUSTED'));
  });
});

describe('controller: any driver with a cluster member, not just the overlay', () => {
  test('a made-up "mesh" driver gets its networks mirrored, its addresses from the cluster, its peers, inspect view, prune and remove hooks', async () => {
    const calls: string[] = [];
    const peers: unknown[] = [];
    let events: ClusterEvents | undefined;
    const defs: ClusterNetwork[] = [{ id: 'f'.repeat(64), name: 'shared', subnet: '10.70.0.0/24', gateway: '10.70.0.1', options: { 'mesh.id': '7' } }];
    const remote: ClusterEndpoint = {
      id: 'r1',
      name: 'far',
      ip: '10.70.0.9/24',
      mac: '02:42:0a:46:00:09',
      aliases: [],
      hostId: 'h2',
      hostName: 'two',
      vtep: '192.0.2.2',
    };
    const member: ClusterMember = {
      hostId: 'h1',
      // As the overlay's Cluster does: a first read, then the controller is told.
      start: async (ev) => {
        events = ev;
        await ev.serial(() => ev.changed());
      },
      close: async () => void calls.push('close'),
      allocate: async (net, ep, wanted) => (calls.push(`allocate ${net.name} ${wanted ?? '-'}`), '10.70.0.33'),
      release: async () => undefined,
      announce: async (ep) => void calls.push(`announce ${ep.sandbox} ${ep.ipv4}`),
      withdraw: async (ep) => void calls.push(`withdraw ${ep.sandbox}`),
      undefine: async (net, force) => {
        calls.push(`undefine ${net.name}${force ? ' force' : ''}`);
        defs.splice(
          defs.findIndex((d) => d.id === net.id),
          1,
        );
      },
      syncLocal: async (eps) => void calls.push(`sync ${eps.map((e) => e.sandbox).join(',')}`),
      networks: () => defs,
      endpoints: (id) => (id === 'f'.repeat(64) ? [remote] : []),
      hosts: () => [
        { id: 'h1', name: 'one', address: '192.0.2.1' },
        { id: 'h2', name: 'two', address: '192.0.2.2' },
      ],
    };
    const cluster: ClusterDriver = {
      defineNetwork: async (net, pools, options, others) => {
        const fixed = { ...options, 'mesh.id': String(others.length + 100) };
        defs.push({ id: net.id, name: net.name, subnet: pools[0].subnet, gateway: pools[0].gateway, options: fixed });
        return fixed;
      },
      clusterMember: () => member,
    };
    const mesh: Driver<Record<string, string>> = {
      name: 'mesh',
      caps: { scope: 'global', usesIpam: true, dns: true, publish: false, defaultRoute: false },
      options: { parse: (o) => ({ ...o }) },
      peers: { set: async (_env, net, _c, p) => void peers.push([net.name, ...p]), check: async () => [] },
      cluster,
    };
    const drivers = new Map([...defaultDrivers(), ['mesh', loadDriver(mesh)]]);
    const ctl = new Controller({ store: new MemoryStore(), sys: createFakeSystem(), log: silentLogger, drivers });
    await ctl.start();
    assert.ok(events, "the member was started with the controller's events");
    assert.equal(ctl.inspectNetwork('shared').Driver, 'mesh', "the cluster's network is mirrored");
    assert.deepEqual(peers, [['shared', { ip: '10.70.0.9', mac: remote.mac, vtep: '192.0.2.2' }]]);
    const own = await ctl.createNetwork({ name: 'mine', driver: 'mesh', ipam: [{ subnet: '10.71.0.0/24' }] });
    assert.equal(own.options['mesh.id'], '101', 'defineNetwork fixed the option, seeing the other mesh network');
    await ctl.createSandbox({ name: 'web', network: 'shared' });
    const v = ctl.inspectNetwork('shared');
    assert.deepEqual(v.Peers?.map((p) => p.Name).sort(), ['one', 'two']);
    assert.deepEqual(Object.keys(v.RemoteEndpoints ?? {}), ['r1']);
    assert.deepEqual(await ctl.pruneNetworks(), [], 'cluster networks are not pruned');
    await events!.serial(() => events!.changed());
    await ctl.removeSandbox('web');
    await ctl.removeNetwork('mine');
    await ctl.close();
    assert.deepEqual(calls, ['sync ', 'allocate shared -', 'announce web 10.70.0.33/24', 'sync web', 'withdraw web', 'undefine mine', 'close']);
  });
});
