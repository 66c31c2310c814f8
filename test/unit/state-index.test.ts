// State.endpointsOf answers from per-network and per-sandbox indexes; after any sequence of
// commits (put, move between networks/sandboxes, delete, reload) it equals a scan of every
// endpoint, in interface order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { key, type EndpointRecord } from '../../controller/records.js';
import { State } from '../../controller/state.js';
import { del, put } from '../../store/types.js';
import { MemoryStore } from '../../store/memory.js';

const NETS = ['n1', 'n2', 'n3'];
const SBS = ['s1', 's2', 's3', 's4'];

function ep(id: string, network: string, sandbox: string, ifname: string): EndpointRecord {
  return { id, network, sandbox, ifname, mac: '02:42:0a:00:00:02', aliases: [], defaultRoute: false, created: '2026-01-01T00:00:00.000Z', state: 'ready' };
}

function scan(s: State, f: { network?: string; sandbox?: string }): string[] {
  const natural = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
  return [...s.endpoints.values()]
    .filter((e) => (f.network === undefined || e.network === f.network) && (f.sandbox === undefined || e.sandbox === f.sandbox))
    .sort((a, b) => natural(a.ifname, b.ifname))
    .map((e) => e.ifname);
}

function assertSame(s: State): void {
  const filters = [
    {},
    ...NETS.map((network) => ({ network })),
    ...SBS.map((sandbox) => ({ sandbox })),
    ...NETS.flatMap((network) => SBS.map((sandbox) => ({ network, sandbox }))),
  ];
  for (const f of filters)
    assert.deepEqual(
      s.endpointsOf(f).map((e) => e.ifname),
      scan(s, f),
      JSON.stringify(f),
    );
  for (const f of filters) for (const e of s.endpointsOf(f)) assert.equal(s.endpoints.get(e.id), e);
}

test('endpointsOf equals a scan after puts, moves, deletes and a reload', async () => {
  const op = fc.record({
    id: fc.integer({ min: 0, max: 11 }),
    net: fc.constantFrom(...NETS),
    sb: fc.constantFrom(...SBS),
    n: fc.integer({ min: 0, max: 12 }),
    del: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
      const store = new MemoryStore();
      const s = new State(store);
      for (const o of ops) {
        const id = `ep${o.id}`;
        await s.commit([o.del ? del(key.ep(id)) : put(key.ep(id), ep(id, o.net, o.sb, `eth${o.n}`))]);
        assertSame(s);
      }
      const again = new State(store);
      await again.load();
      assertSame(again);
      const ids = (x: State): string[] =>
        x
          .endpointsOf({})
          .map((e) => e.id)
          .sort();
      assert.deepEqual(ids(again), ids(s));
    }),
    { numRuns: 200 },
  );
});

test('interface order is natural: eth2 before eth10', async () => {
  const s = new State(new MemoryStore());
  await s.commit(['eth10', 'eth2', 'eth1'].map((n, i) => put(key.ep(`e${i}`), ep(`e${i}`, 'n1', 's1', n))));
  assert.deepEqual(
    s.endpointsOf({ network: 'n1' }).map((e) => e.ifname),
    ['eth1', 'eth2', 'eth10'],
  );
});
