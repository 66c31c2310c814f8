// The reach probe's waves (lab/waves.ts): the neighbour entries one wave of sources makes never
// exceed the budget (unless a single source does, alone), every source is probed exactly once and
// in order, and a source's entries are one on each side of each on-link pair and of its gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { entriesOf, nextWave, QUIET_MS, quietAfter, seedable, waveBudget, waveOrder, type WaveSource } from '../../lab/waves.js';

/** `n` nodes on `nets` /24 networks (node i on network i % nets), each probing all the others. */
function star(n: number, nets: number): WaveSource[] {
  const addr = (i: number): string => `10.${i % nets}.0.${10 + i}`;
  return Array.from({ length: n }, (_, i) => ({
    key: `s${i}`,
    ns: `lab-s${i}`,
    ifaces: [{ address: `${addr(i)}/24`, gateway: `10.${i % nets}.0.1` }],
    targets: Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== i)
      .map((j) => ({ address: addr(j), ns: `lab-s${j}` })),
  }));
}

test('a source makes an entry on each side of each on-link pair and of its gateway, none for routed targets', () => {
  const [s0] = star(4, 2); // s0 and s2 share 10.0.0.0/24; s1 and s3 are on 10.1.0.0/24
  assert.deepEqual(entriesOf(s0).sort(), ['@gw|10.0.0.10', 'lab-s0|10.0.0.1', 'lab-s0|10.0.0.12', 'lab-s2|10.0.0.10']);
});

test('waves: every source once, in order, each wave of two or more within the budget', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 400 }), (n, nets, budget) => {
      let rest = waveOrder(star(n, nets));
      const seen: string[] = [];
      const order = rest.map((s) => s.key);
      while (rest.length) {
        const take = nextWave(rest, budget);
        assert.ok(take >= 1 && take <= rest.length);
        const wave = rest.slice(0, take);
        const entries = new Set(wave.flatMap(entriesOf));
        if (take > 1) assert.ok(entries.size <= budget, `${entries.size} entries > budget ${budget}`);
        // The wave is as large as fits: one more source would overflow it.
        if (take < rest.length) assert.ok(new Set([...entries, ...entriesOf(rest[take])]).size > budget);
        seen.push(...wave.map((s) => s.key));
        rest = rest.slice(take);
      }
      assert.deepEqual(seen, order);
      assert.deepEqual(
        [...seen].sort(),
        star(n, nets)
          .map((s) => s.key)
          .sort(),
      );
    }),
  );
});

test('the 100-node bench shape (5 networks of 20) needs more entries than the default limit holds, so it takes several waves', () => {
  const all = waveOrder(star(100, 5));
  assert.ok(new Set(all.flatMap(entriesOf)).size > 1024);
  // Whole networks first: the first wave is made of network 10.0.0.0/24's nodes.
  const first = all.slice(0, nextWave(all, waveBudget(1024, 0)));
  assert.ok(first.length >= 20);
  assert.ok(first.slice(0, 20).every((s) => s.ifaces[0].address.startsWith('10.0.0.')));
  assert.equal(waveBudget(1024, 0), 1024 - 128);
  assert.equal(waveBudget(1024, 1000), 64);
});

test('seeded entries take no room: with every entry inside the nodes seeded, the 100-node bench shape is one wave', () => {
  const all = waveOrder(star(100, 5));
  const seeded = new Set(seedable(all.flatMap(entriesOf)));
  // Only the gateway side (in the lab's host namespace) is left to count: one entry per source.
  assert.ok([...seeded].every((e) => !e.startsWith('@')));
  assert.equal(nextWave(all, waveBudget(1024, 0), seeded), 100);
  assert.equal(new Set(all.flatMap(entriesOf).filter((e) => !seeded.has(e))).size, 100);
});

test('waves with seeds: a wave of two or more never needs more unseeded entries than the budget', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 200 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (n, nets, budget, share) => {
        const all = waveOrder(star(n, nets));
        const seeds = seedable([...new Set(all.flatMap(entriesOf))]);
        const seeded = new Set(seeds.slice(0, Math.floor(seeds.length * share)));
        let rest = all;
        while (rest.length) {
          const take = nextWave(rest, budget, seeded);
          const need = new Set(
            rest
              .slice(0, take)
              .flatMap(entriesOf)
              .filter((e) => !seeded.has(e)),
          );
          if (take > 1) assert.ok(need.size <= budget);
          rest = rest.slice(take);
        }
      },
    ),
  );
});

test('a wave stops listening QUIET_MS after the expected answers, plus four times the worst declared delay and jitter; never early with a rate limit', () => {
  assert.equal(quietAfter([]), QUIET_MS);
  assert.equal(quietAfter([{ loss: '1%', direction: 'both' }]), QUIET_MS);
  assert.equal(quietAfter([{ delay: '20ms', jitter: '2ms', direction: 'both' }, { delay: '5ms' }]), QUIET_MS + 88);
  assert.equal(quietAfter([{ delay: '1s' }]), QUIET_MS + 4000);
  assert.equal(quietAfter([{ delay: '5ms' }, { rate: '10mbit', direction: 'a-to-b' }]), undefined);
});
