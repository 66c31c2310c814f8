// The controller when things go wrong: kernel failures mid-operation, kill -9 between store
// writes, restarts, orphan links, and IPAM under random churn. Over system/fake and MemoryStore.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { key, type EndpointRecord } from '../../controller/records.js';
import { generatedBridgeName } from '../../drivers/bridge/options.js';
import { hostVethName } from '../../drivers/driver.js';
import { ipamKey } from '../../ipam/store.js';
import { MemoryStore } from '../../store/memory.js';
import { put, type Compare, type TxnOp, type TxnOptions } from '../../store/types.js';
import { CrashStore } from '../helpers/crashstore.js';
import { start, type World } from '../helpers/world.js';
import type { FakeSnapshot } from '../../system/fake/index.js';

/** Networks front (10.1.0.0/24) and back (10.2.0.0/24), sandbox web on front; then a restart.
 *  Restart rebuilds the chains sorted by creation time, which has millisecond resolution: networks
 *  made within one millisecond (as here) come back ordered by id. The order across networks does
 *  not matter (every rule names its bridge), so tests compare states after the same restart. */
async function fixture(): Promise<World> {
  const w = await start();
  await w.ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
  await w.ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
  await w.ctl.createSandbox({ name: 'web', network: 'front' });
  return start(w.store, w.sys);
}

/** The store minus IPAM rotation cursors: they move on by design even when a connect is undone. */
async function everything(w: World): Promise<{ kernel: FakeSnapshot; store: unknown[] }> {
  const store = (await w.store.list('')).filter((e) => !e.key.startsWith('cursor/')).map((e) => [e.key, e.value, e.version]);
  return { kernel: w.sys.snapshot(), store };
}

const ops: [string, (ctl: Controller) => Promise<unknown>][] = [
  ['connect', (ctl) => ctl.connect('back', 'web', { aliases: ['www'] })],
  ['network create', (ctl) => ctl.createNetwork({ name: 'extra', ipam: [{ subnet: '10.4.0.0/24' }] })],
  ['sandbox create', (ctl) => ctl.createSandbox({ name: 'db', network: 'back' })],
  [
    'sandbox create with docker run flags',
    (ctl) =>
      ctl.createSandbox({
        name: 'db',
        hostname: 'db1',
        domainname: 'example.com',
        extraHosts: ['gw:host-gateway'],
        macAddress: '02:42:0a:00:00:99',
        expose: ['80', '53/udp'],
        publishAll: true,
      }),
  ],
];

/** Late failures the after-sweep leaves out: iptables-restore is one transaction (iptables-nft),
 *  so it fails before it applies anything. */
const notSweptLate = (op: string, method: string): boolean => op === 'network create' && method === 'restore';

describe('controller: a kernel failure anywhere in an operation rolls it back completely', () => {
  test('connect whose addAddr fails leaves kernel and store as before', async () => {
    const w = await fixture();
    const before = await everything(w);
    w.sys.failNext('addAddr');
    await assert.rejects(w.ctl.connect('back', 'web'), /^NetloomError: connect sandbox "web" to network "back": addAddr .*injected/);
    assert.deepEqual(await everything(w), before);
  });

  test('network create whose iptables-restore fails leaves kernel and store as before', async () => {
    const w = await fixture();
    const before = await everything(w);
    w.sys.failNext('restore');
    await assert.rejects(w.ctl.createNetwork({ name: 'extra' }), /create network "extra": restore ipv4: injected/);
    assert.deepEqual(await everything(w), before);
  });

  for (const [name, op] of ops) {
    for (const after of [false, true]) {
      const how = after ? 'after it did its work' : 'before it does anything';
      test(`${name}: failing each of its system calls in turn, ${how}, changes nothing and leaks no handle`, async () => {
        const probe = await fixture();
        const from = probe.sys.calls.length;
        await op(probe.ctl);
        const calls = probe.sys.calls.slice(from);
        assert.ok(calls.length >= 4, calls.map((c) => c.method).join(' '));
        for (const [i, call] of calls.entries()) {
          if (after && notSweptLate(name, call.method)) continue;
          const skip = calls.slice(0, i).filter((c) => c.method === call.method).length;
          const w = await fixture();
          const before = await everything(w);
          if (after) w.sys.failAfter(call.method, undefined, skip);
          else w.sys.failNext(call.method, undefined, skip);
          await assert.rejects(op(w.ctl), `failing ${call.method} ${call.detail}`);
          assert.deepEqual(await everything(w), before, `after failing ${call.method} ${call.detail}`);
          assert.equal(w.sys.openHandles, 0);
        }
      });
    }
  }

  test('network create whose addBridge fails after making the bridge (tag or up failed) leaves no bridge behind', async () => {
    const w = await fixture();
    const before = await everything(w);
    w.sys.failAfter('addBridge');
    await assert.rejects(w.ctl.createNetwork({ name: 'extra' }), /addBridge/);
    assert.deepEqual(await everything(w), before);
  });

  test('a failed rm leaves the network "deleting"; the next start finishes it', async () => {
    const w = await fixture();
    const before = await everything(w);
    await w.ctl.createNetwork({ name: 'extra', ipam: [{ subnet: '10.4.0.0/24' }] });
    const bridge = generatedBridgeName(w.ctl.inspectNetwork('extra').Id);
    w.sys.failNext('delLink');
    await assert.rejects(w.ctl.removeNetwork('extra'), /delLink/);
    assert.ok(await w.sys.host.link(bridge));
    assert.throws(() => w.ctl.inspectNetwork('extra'), /network extra not found/);
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.finished, ['network extra']);
    assert.equal(await w.sys.host.link(bridge), undefined);
    assert.deepEqual(await everything(after), before);
  });
});

/** Runs `op` on a controller whose store dies at transaction k; returns the world after a restart,
 *  or undefined when the operation finished before reaching transaction k. */
async function crashAt(op: (ctl: Controller) => Promise<unknown>, k: number, mode: 'before' | 'after') {
  const w = await fixture();
  const before = await everything(w);
  const crash = new CrashStore(w.store, k, mode);
  const doomed = new Controller({ store: crash, sys: w.sys, log: silentLogger });
  await doomed.start(); // all records are ready: start writes nothing
  const outcome = await Promise.race([op(doomed).then(() => 'done'), crash.crashed.then(() => 'crashed')]);
  if (outcome === 'done') return undefined;
  return { before, after: await start(w.store, w.sys) };
}

/** Every transaction a store is asked for: its keys (sorted) and whether it is flushed. */
class RecordingStore extends MemoryStore {
  readonly txns: { keys: string[]; sync: boolean }[] = [];
  override async txn(c: readonly Compare[], o: readonly TxnOp[], opts?: TxnOptions): Promise<boolean> {
    this.txns.push({ keys: o.map((x) => x.key.split('/')[0]).sort(), sync: opts?.sync ?? true });
    return super.txn(c, o, opts);
  }
}

describe('controller: one flushed write per create and connect', () => {
  test('the "creating" mark (with the pool, or the address and the rotation cursor it moves) unflushed, "ready" flushed', async () => {
    const store = new RecordingStore();
    const w = await start(store);
    await w.ctl.createSandbox({ name: 'web', network: 'none' });
    store.txns.length = 0;
    await w.ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
    assert.deepEqual(store.txns, [
      { keys: ['net', 'netname', 'pool'], sync: false },
      { keys: ['net'], sync: true },
    ]);
    store.txns.length = 0;
    await w.ctl.createSandbox({ name: 'db', network: 'front' });
    await w.ctl.disconnect('front', 'db');
    store.txns.length = 0;
    await w.ctl.connect('front', 'db');
    assert.deepEqual(store.txns, [
      { keys: ['alloc', 'cursor', 'ep'], sync: false },
      { keys: ['ep'], sync: true },
    ]);
  });
});

describe('controller: a crash between store writes is resolved by the next start', () => {
  for (const [name, op] of ops) {
    test(`${name} killed at any store write is rolled back, or complete when the last write landed`, async () => {
      let writes = 0;
      for (let k = 1; ; k++) {
        const r = await crashAt(op, k, 'before');
        if (!r) break;
        writes = k;
        assert.deepEqual(r.after.report.errors, []);
        assert.deepEqual(await everything(r.after), r.before, `crash before write ${k}`);
        assert.equal(r.after.report.rolledBack.length > 0, k > 1, `crash before write ${k}: ${JSON.stringify(r.after.report)}`);
      }
      assert.ok(writes >= 2);
      for (let k = 1; k <= writes; k++) {
        const r = (await crashAt(op, k, 'after'))!;
        assert.deepEqual(r.after.report.errors, []);
        if (k < writes) assert.deepEqual(await everything(r.after), r.before, `crash after write ${k}`);
        else assert.notDeepEqual(await everything(r.after), r.before, 'the last write makes the operation complete');
      }
    });
  }

  test('start rolls back an endpoint left "creating" and removes links tagged by this instance that no record explains', async () => {
    const w = await fixture();
    const before = await everything(w);
    const inst = w.ctl.instanceId;
    const back = w.ctl.inspectNetwork('back').Id;
    const id = 'e'.repeat(64);
    const ep: EndpointRecord = {
      id,
      network: back,
      sandbox: w.ctl.sandboxView('web').Id,
      ifname: 'eth1',
      mac: '02:42:0a:02:00:02',
      ipv4: { ip: '10.2.0.2', prefix: 24 },
      aliases: [],
      defaultRoute: false,
      created: new Date().toISOString(),
      state: 'creating',
    };
    await w.store.txn([], [put(key.ep(id), ep), put(ipamKey.alloc(`${back}:4`, '10.2.0.2'), { pool: `${back}:4`, ip: '10.2.0.2', owner: id })]);
    const tag = (kind: string, x: string) => `netloom:${inst}:${kind}:${x.slice(0, 12)}`;
    const peerNs = { kind: 'named', name: 'web' } as const;
    await w.sys.host.addVeth({ hostName: hostVethName(id), peerName: 'eth1', peerNs, master: generatedBridgeName(back), alias: tag('ep', id) });
    await w.sys.host.addVeth({ hostName: 'nlvf00f00f00', peerName: 'eth9', peerNs, alias: tag('ep', 'f'.repeat(64)) });
    await w.sys.host.addBridge('nlb-00000000000', { alias: tag('net', '0'.repeat(64)) });
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.rolledBack, ['endpoint web/eth1']);
    assert.deepEqual(after.report.orphansRemoved.sort(), ['link nlb-00000000000', 'link nlvf00f00f00']);
    assert.deepEqual(await everything(after), before);
  });

  test("links without this instance's tag are never touched by reconcile", async () => {
    const w = await fixture();
    await w.sys.netns.add('ext');
    const peerNs = { kind: 'named', name: 'ext' } as const;
    await w.sys.host.addBridge('br-admin', { alias: 'made by the admin' });
    await w.sys.host.addVeth({ hostName: 'nlv0123456789', peerName: 'e0', peerNs, alias: '' });
    await w.sys.host.addVeth({ hostName: 'nlvabcdefabcd', peerName: 'e1', peerNs, alias: 'netloom:0ther1st:ep:abcdefabcdef' });
    const before = await everything(w);
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.orphansRemoved, []);
    assert.deepEqual(await everything(after), before);
  });
});

describe('controller: restart', () => {
  test('a second controller on the same store and kernel shows the same inspect output and changes nothing', async () => {
    const w = await fixture();
    await w.ctl.connect('back', 'web', { aliases: ['www'] });
    await w.ctl.createSandbox({ name: 'db', network: 'none' });
    // List order is not part of the API (Docker sorts on the client); compare by name.
    const byName = <T extends { Name: string }>(xs: T[]): T[] => xs.sort((a, b) => a.Name.localeCompare(b.Name));
    const views = (ctl: Controller) => ({ nets: byName(ctl.listNetworks().map((n) => ctl.inspectNetwork(n.Id))), sbs: byName(ctl.listSandboxes()) });
    const before = await everything(w);
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report, { rolledBack: [], finished: [], repaired: [], orphansRemoved: [], errors: [] });
    assert.deepEqual(views(after.ctl), views(w.ctl));
    assert.deepEqual(await everything(after), before);
  });

  test("a sandbox namespace deleted behind netloom's back is recreated with its interfaces and addresses", async () => {
    const w = await fixture();
    const addrs = w.sys.snapshot().namespaces.web.addrs;
    await w.sys.netns.del('web');
    const after = await start(w.store, w.sys);
    assert.deepEqual(after.report.repaired, ['sandbox web']);
    assert.deepEqual(w.sys.snapshot().namespaces.web.addrs, addrs);
    assert.deepEqual(after.ctl.sandboxView('web'), w.ctl.sandboxView('web'));
  });
});

describe('controller: IPAM under churn', () => {
  test('no address is ever handed out twice across random connects, disconnects and restarts', async () => {
    const op = fc.tuple(fc.constantFrom('connect', 'disconnect', 'restart'), fc.nat(3), fc.constantFrom('n0', 'n1'));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (steps) => {
        let w = await start();
        await w.ctl.createNetwork({ name: 'n0', ipam: [{ subnet: '10.5.0.0/29' }] });
        await w.ctl.createNetwork({ name: 'n1', ipam: [{ subnet: '10.6.0.0/28', ipRange: '10.6.0.8/30' }] });
        for (let i = 0; i < 4; i++) await w.ctl.createSandbox({ name: `s${i}`, network: 'bridge' });
        for (const [verb, i, net] of steps) {
          if (verb === 'restart') w = await start(w.store, w.sys);
          else {
            const run = verb === 'connect' ? w.ctl.connect(net, `s${i}`) : w.ctl.disconnect(net, `s${i}`);
            await run.catch((e: unknown) => {
              if (!(e instanceof NetloomError && ['NL_ALREADY_CONNECTED', 'NL_NOT_CONNECTED', 'NL_IPAM_EXHAUSTED'].includes(e.code))) throw e;
            });
          }
          const snap = w.sys.snapshot();
          for (const net of ['bridge', 'n0', 'n1']) {
            const ips = Object.values(w.ctl.inspectNetwork(net).Containers).map((c) => c.IPv4Address);
            assert.equal(new Set(ips).size, ips.length, `duplicate in ${net}: ${ips.join(' ')}`);
          }
          for (const sb of w.ctl.listSandboxes()) {
            const kernel = snap.namespaces[sb.Name].addrs.filter((a) => a.link !== 'lo').map((a) => `${a.link} ${a.cidr}`);
            assert.deepEqual(
              kernel.sort(),
              Object.values(sb.Networks)
                .map((e) => `${e.Interface} ${e.IPv4Address}`)
                .sort(),
            );
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
