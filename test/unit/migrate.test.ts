// Records written by main before typed records (format 1: "ip/prefix" strings, endpoints naming
// their sandbox) load, are migrated once, and show exactly as before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { RECORD_FORMAT, migrateEndpoint, type EndpointRecordV1 } from '../../controller/migrate.js';
import { key, type EndpointRecord, type SandboxRecord } from '../../controller/records.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

const web: SandboxRecord = { id: 'a'.repeat(64), name: 'web', mode: { kind: 'own' }, created: '2026-01-01T00:00:00.000Z', state: 'ready' };
const v1: EndpointRecordV1 = {
  id: 'e'.repeat(64),
  network: 'n'.repeat(64),
  sandbox: 'web',
  ifname: 'eth0',
  mac: '02:42:0a:01:00:02',
  ipv4: '10.1.0.2/24',
  ipv6: 'fd00:1::2/64',
  aliases: ['www'],
  defaultRoute: true,
  created: '2026-01-01T00:00:00.000Z',
  state: 'ready',
};

/** Every network and sandbox as the API shows them, in id order (a restart lists in store order). */
const viewsOf = (ctl: Controller): unknown => ({
  networks: ctl.listNetworks().sort((a, b) => a.Id.localeCompare(b.Id)),
  sandboxes: ctl.listSandboxes().sort((a, b) => a.Id.localeCompare(b.Id)),
});

describe('record migration', () => {
  test('format 1 endpoints get {ip, prefix} addresses and their sandbox id; format 2 ones are kept', () => {
    const byName = new Map([[web.name, web]]);
    const v2 = migrateEndpoint(v1, byName);
    assert.deepEqual(v2, { ...v1, sandbox: web.id, ipv4: { ip: '10.1.0.2', prefix: 24 }, ipv6: { ip: 'fd00:1::2', prefix: 64 } });
    assert.deepEqual(migrateEndpoint(v2, byName), v2, 'migrating twice changes nothing');
    const { ipv4: _4, ipv6: _6, ...bare } = v1;
    assert.deepEqual(
      migrateEndpoint({ ...bare, sandbox: 'docker-0123456789ab' }, byName),
      { ...bare, sandbox: 'docker-0123456789ab' },
      'a Docker endpoint (no sandbox record, no address) keeps its docker-<id> name',
    );
  });

  /** A store as main writes it: made by today's controller, then its endpoints turned back into format 1. */
  async function mainStore(): Promise<{ store: MemoryStore; sys: FakeSystem; views: unknown }> {
    const store = new MemoryStore();
    const sys = createFakeSystem();
    const ctl = new Controller({ store, sys, log: silentLogger });
    await ctl.start();
    await ctl.createNetwork({ name: 'front', enableIPv6: true, ipam: [{ subnet: '10.1.0.0/24' }, { subnet: 'fd00:1::/64' }] });
    await ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
    await ctl.createSandbox({ name: 'web', network: 'front' });
    await ctl.connect('back', 'web', { aliases: ['api'] });
    await ctl.createSandbox({ name: 'db', network: 'back' });
    const views = viewsOf(ctl);
    await ctl.close();
    const names = new Map((await store.list<SandboxRecord>('sb/')).map((e) => [e.value.id, e.value.name]));
    const text = (a?: { ip: string; prefix: number }) => (a ? { v: `${a.ip}/${a.prefix}` } : undefined);
    const eps = (await store.list<EndpointRecord>('ep/')).map((e) => {
      const { ipv4, ipv6, ...rest } = e.value;
      const old: EndpointRecordV1 = {
        ...rest,
        sandbox: names.get(rest.sandbox)!,
        ...(ipv4 ? { ipv4: text(ipv4)!.v } : {}),
        ...(ipv6 ? { ipv6: text(ipv6)!.v } : {}),
      };
      return { op: 'put' as const, key: key.ep(old.id), value: old };
    });
    await store.txn([], [...eps, { op: 'del', key: key.recordFormat }]);
    return { store, sys, views };
  }

  test('a restart on a format-1 store migrates every endpoint once, and inspect shows the same', async () => {
    const { store, sys, views } = await mainStore();
    assert.equal(typeof (await store.list<EndpointRecordV1>('ep/'))[0]?.value.ipv4, 'string', 'the fixture is format 1');
    const ctl = new Controller({ store, sys, log: silentLogger });
    await ctl.start();
    assert.deepEqual(viewsOf(ctl), views);
    assert.equal((await store.get(key.recordFormat))?.value, RECORD_FORMAT);
    const sbIds = new Set((await store.list<SandboxRecord>('sb/')).map((e) => e.value.id));
    const eps = (await store.list<EndpointRecord>('ep/')).map((e) => e.value);
    assert.equal(eps.length, 3);
    for (const ep of eps) {
      assert.ok(sbIds.has(ep.sandbox), `endpoint ${ep.id} refers to its sandbox by id`);
      assert.equal(typeof ep.ipv4?.prefix, 'number');
    }
    await ctl.close();
    const before = await store.list('');
    const again = new Controller({ store, sys, log: silentLogger });
    await again.start();
    assert.deepEqual(await store.list(''), before, 'a second start writes nothing');
    await again.close();
  });
});
