// ipam/store.ts: the IPAM's store writes keep the keys and values netloom has always written, and
// what main persisted loads unchanged.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ipam, joinOps, type IpamOps } from '../../ipam/index.js';
import { MemoryStore } from '../../store/memory.js';

const commit = (store: MemoryStore, w: IpamOps): Promise<boolean> => store.txn(w.compares, w.ops);
const dump = async (store: MemoryStore): Promise<[string, unknown][]> => (await store.list('')).map((e) => [e.key, e.value]);

/** Exactly what main's controller wrote for a network with one connected endpoint. */
const MAIN_STATE: [string, unknown][] = [
  ['alloc/n1:4/10.1.0.2', { pool: 'n1:4', ip: '10.1.0.2', owner: 'ep1' }],
  ['cursor/n1:4', '10.1.0.2'],
  [
    'pool/n1:4',
    { id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, subnet: '10.1.0.0/24', gateway: '10.1.0.1', userGateway: false, aux: {}, userSubnet: true },
  ],
];

async function restoredMain(): Promise<[MemoryStore, Ipam]> {
  const store = new MemoryStore();
  await store.txn(
    [],
    MAIN_STATE.map(([key, value]) => ({ op: 'put', key, value })),
  );
  const ipam = new Ipam();
  await ipam.restore(store);
  return [store, ipam];
}

describe('ipam persistence', () => {
  test('plan, commit the ops, then apply: the store holds the keys and values main writes', async () => {
    const store = new MemoryStore();
    const ipam = new Ipam();
    const rec = ipam.planPool({ id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, subnet: '10.1.0.0/24' });
    assert.equal(await commit(store, ipam.addPoolOps(rec)), true);
    ipam.addPool(rec);
    const ip = ipam.planAddress('n1:4', 'ep1');
    assert.equal(await commit(store, ipam.allocateOps('n1:4', ip, 'ep1')), true);
    ipam.allocate('n1:4', ip, 'ep1');
    assert.equal(await commit(store, ipam.cursorOps(['n1:4', 'n1:4', 'gone'])), true);
    assert.deepEqual(await dump(store), MAIN_STATE);
  });

  test('allocateCursorOps: the cursor write the allocate will make, for the same transaction (none when it does not move it)', async () => {
    const ipam = new Ipam();
    const rec = ipam.planPool({ id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, subnet: '10.1.0.0/24' });
    ipam.addPool(rec);
    const ip = ipam.planAddress('n1:4', 'ep1');
    const staticIp = '10.1.0.77';
    assert.deepEqual(ipam.allocateCursorOps('n1:4', staticIp).ops, [], 'a static address off the rotation moves nothing');
    const w = ipam.allocateCursorOps('n1:4', ip);
    ipam.allocate('n1:4', ip, 'ep1');
    assert.deepEqual(w.ops, ipam.cursorOps(['n1:4']).ops, 'the same write a cursorOps after the allocate makes');
    assert.equal(ipam.cursor('n1:4'), ip);
  });

  test('state written by main restores unchanged and goes on where it stopped', async () => {
    const [store, ipam] = await restoredMain();
    assert.deepEqual(ipam.allocations(), [{ pool: 'n1:4', ip: '10.1.0.2', owner: 'ep1' }]);
    assert.equal(ipam.cursor('n1:4'), '10.1.0.2');
    assert.equal(ipam.planAddress('n1:4', 'ep2'), '10.1.0.3');
  });

  test('a second holder of an address and a second pool of one id fail the transaction and write nothing', async () => {
    const store = new MemoryStore();
    const ipam = new Ipam();
    const rec = ipam.planPool({ id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, subnet: '10.1.0.0/24' });
    const fresh = ipam.addPoolOps(rec);
    assert.equal(await commit(store, fresh), true);
    assert.equal(await commit(store, fresh), false, 'a fresh pool is an exclusive create');
    ipam.addPool(rec);
    assert.deepEqual(ipam.addPoolOps(rec).compares, [], 'rewriting a known pool (rebind, gateway move) compares nothing');
    assert.equal(await commit(store, ipam.allocateOps('n1:4', '10.1.0.7', 'a')), true);
    const before = await dump(store);
    assert.equal(await commit(store, joinOps([ipam.allocateOps('n1:4', '10.1.0.7', 'b'), ipam.cursorOps(['n1:4'])])), false);
    assert.deepEqual(await dump(store), before);
  });

  test('release and removePool ops delete what was written, leaving nothing behind', async () => {
    const [store, ipam] = await restoredMain();
    assert.equal(await commit(store, ipam.releaseOps('n1:4', '10.1.0.2')), true);
    assert.deepEqual(
      (await dump(store)).map(([k]) => k),
      ['cursor/n1:4', 'pool/n1:4'],
    );
    assert.equal(await commit(store, ipam.removePoolOps('n1:4')), true);
    assert.deepEqual(await dump(store), []);
  });
});
