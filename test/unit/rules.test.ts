// drivers/bridge/rules.ts: the complete ruleset of one network per option combination, compared
// with test/golden/bridge-<combo>.rules. Regenerate on purpose: NETLOOM_UPDATE_GOLDEN=1.
// The goldens are also fed to the fake's iptables-restore, so they are valid restore input.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { JUMPS, networkRules, renderAdd, renderAll, renderDel, type BridgeRuleInput } from '../../drivers/bridge/rules.js';
import { createFakeSystem } from '../../system/fake/index.js';

// Tests run from the repository root (npm test, make test-unit); goldens live in the source tree.
const GOLDEN = join(process.cwd(), 'test', 'golden');
const update = process.env.NETLOOM_UPDATE_GOLDEN === '1';

const net = (over: Partial<BridgeRuleInput> = {}): BridgeRuleInput => ({
  bridge: 'nlb-0123456789a',
  subnet: '10.31.0.0/24',
  internal: false,
  icc: true,
  masquerade: true,
  ...over,
});

const combos: Record<string, BridgeRuleInput> = {
  plain: net(),
  internal: net({ internal: true }),
  'icc-off': net({ icc: false }),
  'masquerade-off': net({ masquerade: false }),
  'internal-icc-off': net({ internal: true, icc: false }),
};

describe('bridge rules: golden files', () => {
  for (const [combo, input] of Object.entries(combos)) {
    test(`${combo} renders exactly test/golden/bridge-${combo}.rules`, () => {
      const text = renderAll(networkRules(input));
      const file = join(GOLDEN, `bridge-${combo}.rules`);
      if (update) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, text);
      }
      assert.ok(existsSync(file), `${file} is missing: run the tests with NETLOOM_UPDATE_GOLDEN=1 to write it`);
      assert.equal(text, readFileSync(file, 'utf8'), `${combo} differs from ${file}; if intended, regenerate with NETLOOM_UPDATE_GOLDEN=1`);
    });
  }
});

describe('bridge rules: semantics', () => {
  const specs = (input: BridgeRuleInput) => networkRules(input).map((r) => `${r.table} ${r.chain} ${r.spec.join(' ')}`);

  test('internal networks neither forward out nor masquerade, and accept no established traffic in', () => {
    const rules = specs(net({ internal: true }));
    assert.ok(rules.includes('filter NETLOOM-FORWARD -i nlb-0123456789a ! -o nlb-0123456789a -j DROP'));
    assert.ok(!rules.some((r) => r.includes('MASQUERADE') || r.includes('ESTABLISHED')));
  });

  test('icc off drops bridge-to-itself traffic; masquerade off leaves nat empty', () => {
    assert.ok(specs(net({ icc: false })).includes('filter NETLOOM-FORWARD -i nlb-0123456789a -o nlb-0123456789a -j DROP'));
    assert.ok(!specs(net({ masquerade: false })).some((r) => r.startsWith('nat ')));
  });

  test('the last forward rule of a network drops new connections from outside', () => {
    const fwd = specs(net()).filter((r) => r.startsWith('filter NETLOOM-FORWARD'));
    assert.equal(fwd.at(-1), 'filter NETLOOM-FORWARD -o nlb-0123456789a ! -i nlb-0123456789a -j DROP');
  });

  test('jumps lead from the built-in chains into netloom\'s', () => {
    assert.deepEqual(JUMPS.map((j) => `${j.table} ${j.chain} -> ${j.target}`), [
      'filter FORWARD -> NETLOOM-FORWARD',
      'nat POSTROUTING -> NETLOOM-POSTROUTING',
    ]);
  });
});

describe('bridge rules: through iptables-restore (system/fake)', () => {
  for (const [combo, input] of Object.entries(combos)) {
    test(`${combo}: renderAll loads, renderAdd appends, renderDel removes exactly what renderAdd added`, async () => {
      const sys = createFakeSystem();
      const rules = networkRules(input);
      await sys.firewall.restore(4, renderAll(rules));
      const full = sys.snapshot().firewall;
      await sys.firewall.restore(4, renderAll([]));
      const empty = sys.snapshot().firewall;
      await sys.firewall.restore(4, renderAdd(rules));
      assert.deepEqual(sys.snapshot().firewall, full, 'renderAll([]) + renderAdd(rules) equals renderAll(rules)');
      await sys.firewall.restore(4, renderDel(rules));
      assert.deepEqual(sys.snapshot().firewall, empty);
      await assert.rejects(sys.firewall.restore(4, renderDel(rules)), /line \d+ failed/, 'a second delete fails as a whole');
      assert.deepEqual(sys.snapshot().firewall, empty);
    });
  }

  test('renderAll replaces netloom\'s chains and nothing else', async () => {
    const sys = createFakeSystem();
    await sys.firewall.restore(4, '*filter\n-A FORWARD -i docker0 -j ACCEPT\nCOMMIT\n');
    await sys.firewall.restore(4, renderAll(networkRules(net())));
    await sys.firewall.restore(4, renderAll(networkRules(net({ bridge: 'br-other', subnet: '10.32.0.0/24' }))));
    const fw = sys.snapshot().firewall.ipv4;
    assert.deepEqual(fw.filter.FORWARD.rules, ['-i docker0 -j ACCEPT']);
    assert.ok(!JSON.stringify(fw).includes('nlb-0123456789a'));
  });
});
