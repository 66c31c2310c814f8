// drivers/bridge/rules.ts: the complete ruleset of one network per option combination, compared
// with test/golden/bridge-<combo>.rules. Regenerate on purpose: NETLOOM_UPDATE_GOLDEN=1.
// The goldens are also fed to the fake's iptables-restore, so they are valid restore input.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  JUMPS,
  expectedLines,
  linkRules,
  networkRules,
  ownLines,
  publishRules,
  renderAdd,
  renderAll,
  renderDel,
  type BridgeRuleInput,
  type Rule,
} from '../../drivers/bridge/rules.js';
import type { PortBinding } from '../../common/ports.js';
import { createFakeSystem } from '../../system/fake/index.js';

// Tests run from the repository root (npm test, make test-unit); goldens live in the source tree.
const GOLDEN = join(process.cwd(), 'test', 'golden');
const update = process.env.NETLOOM_UPDATE_GOLDEN === '1';

const net = (over: Partial<BridgeRuleInput> = {}): BridgeRuleInput => ({
  bridge: 'nlb-0123456789a',
  family: 4,
  subnet: '10.31.0.0/24',
  internal: false,
  icc: true,
  masquerade: true,
  ...over,
});

const b = (over: Partial<PortBinding> = {}): PortBinding => ({ proto: 'tcp', hostIP: '', hostPort: 8080, containerPort: 80, count: 1, ...over });
const published = (bindings: PortBinding[], family: 4 | 6 = 4, address = family === 4 ? '10.31.0.2' : 'fd00:31::2') =>
  publishRules({ bridge: 'nlb-0123456789a', family, address, bindings });

/** One network's rules, plus the port rules of one endpoint on it. */
const combos: Record<string, Rule[]> = {
  plain: networkRules(net()),
  internal: networkRules(net({ internal: true })),
  'icc-off': networkRules(net({ icc: false })),
  'masquerade-off': networkRules(net({ masquerade: false })),
  'internal-icc-off': networkRules(net({ internal: true, icc: false })),
  'publish-tcp-udp': [...networkRules(net()), ...published([b(), b({ proto: 'udp', hostPort: 5353, containerPort: 53 })])],
  'publish-host-ip': [...networkRules(net()), ...published([b({ hostIP: '127.0.0.1' }), b({ hostIP: '192.0.2.10', hostPort: 8443, containerPort: 443 })])],
  'publish-range-same': [...networkRules(net()), ...published([b({ hostPort: 20000, containerPort: 20000, count: 1000 })])],
  'publish-range-shifted': [...networkRules(net()), ...published([b({ hostPort: 9000, containerPort: 80, count: 3 })])],
  'publish-icc-off-masquerade-off': [...networkRules(net({ icc: false, masquerade: false })), ...published([b()])],
  'link-icc-off': [
    ...networkRules(net({ icc: false })),
    ...linkRules({
      bridge: 'nlb-0123456789a',
      from: '10.31.0.3',
      to: '10.31.0.2',
      ports: [
        { proto: 'tcp', port: 80, end: 80 },
        { proto: 'udp', port: 7000, end: 7010 },
      ],
    }),
    ...linkRules({ bridge: 'nlb-0123456789a', from: '10.31.0.4', to: '10.31.0.2', ports: [] }),
  ],
  'publish-ipv6': [
    ...networkRules(net({ family: 6, subnet: 'fd00:31::/64' })),
    ...published([b(), b({ hostIP: '2001:db8::1', hostPort: 8443, containerPort: 443 })], 6),
  ],
};

describe('bridge rules: golden files', () => {
  for (const [combo, rules] of Object.entries(combos)) {
    test(`${combo} renders exactly test/golden/bridge-${combo}.rules`, () => {
      const text = renderAll(rules);
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

  test('icc off drops bridge-to-itself traffic; masquerade off keeps only the published-port masquerades', () => {
    assert.ok(specs(net({ icc: false })).includes('filter NETLOOM-FORWARD -i nlb-0123456789a -o nlb-0123456789a -j DROP'));
    assert.ok(!specs(net({ masquerade: false })).some((r) => r.startsWith('nat ') && r.includes('! -o')));
  });

  test('the last forward rule of a network drops new connections from outside', () => {
    const fwd = specs(net()).filter((r) => r.startsWith('filter NETLOOM-FORWARD'));
    assert.equal(fwd.at(-1), 'filter NETLOOM-FORWARD ! -i nlb-0123456789a -o nlb-0123456789a -j DROP');
  });

  test("jumps lead from the built-in chains into netloom's", () => {
    assert.deepEqual(
      JUMPS.map((j) => `${j.table} ${j.chain} -> ${j.target}`),
      [
        'filter INPUT -> NETLOOM-INPUT',
        'filter FORWARD -> NETLOOM-USER',
        'filter FORWARD -> NETLOOM-FORWARD',
        'nat PREROUTING -> NETLOOM',
        'nat OUTPUT -> NETLOOM',
        'nat POSTROUTING -> NETLOOM-POSTROUTING',
      ],
    );
  });

  test("a published port is a DNAT for local destinations and an accept ahead of the network's drop", () => {
    const rules = published([b({ hostIP: '127.0.0.1' })]).map((r) => `${r.table} ${r.chain} ${r.spec.join(' ')}`);
    assert.deepEqual(rules, [
      'nat NETLOOM -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.31.0.2:80',
      'filter NETLOOM -d 10.31.0.2/32 ! -i nlb-0123456789a -o nlb-0123456789a -p tcp -m tcp --dport 80 -j ACCEPT',
    ]);
    const all = renderAll(networkRules(net())).split('\n');
    assert.ok(all.indexOf('-A NETLOOM-FORWARD -j NETLOOM') < all.indexOf('-A NETLOOM-FORWARD ! -i nlb-0123456789a -o nlb-0123456789a -j DROP'));
    assert.equal(
      all.find((l) => l.startsWith('-A NETLOOM ')),
      '-A NETLOOM -m addrtype ! --dst-type LOCAL -j RETURN',
      'non-local destinations leave NETLOOM at once',
    );
  });

  test('a link under ICC off: per exposed port one rule to the port and one for the replies, all ports when none is exposed, ahead of the ICC drop', () => {
    const l = (ports: { proto: 'tcp' | 'udp'; port: number; end: number }[]) =>
      linkRules({ bridge: 'br0', from: '10.31.0.3', to: '10.31.0.2', ports }).map((x) => `${x.chain} ${x.spec.join(' ')}`);
    assert.deepEqual(l([{ proto: 'tcp', port: 80, end: 80 }]), [
      'NETLOOM -s 10.31.0.3/32 -d 10.31.0.2/32 -i br0 -o br0 -p tcp -m tcp --dport 80 -j ACCEPT',
      'NETLOOM -s 10.31.0.2/32 -d 10.31.0.3/32 -i br0 -o br0 -p tcp -m tcp --sport 80 -j ACCEPT',
    ]);
    assert.deepEqual(l([]), [
      'NETLOOM -s 10.31.0.3/32 -d 10.31.0.2/32 -i br0 -o br0 -j ACCEPT',
      'NETLOOM -s 10.31.0.2/32 -d 10.31.0.3/32 -i br0 -o br0 -j ACCEPT',
    ]);
    assert.match(l([{ proto: 'udp', port: 7000, end: 7010 }])[0], /-p udp -m udp --dport 7000:7010 -j ACCEPT$/);
  });

  test('a range: one rule pair when host and container ports are equal, a pair per port when shifted', () => {
    assert.equal(published([b({ hostPort: 20000, containerPort: 20000, count: 1000 })]).length, 2);
    const shifted = published([b({ hostPort: 9000, containerPort: 80, count: 3 })]);
    assert.equal(shifted.length, 6);
    assert.ok(shifted[4].spec.join(' ').endsWith('--dport 9002 -j DNAT --to-destination 10.31.0.2:82'));
  });

  test('loopback clients and hairpin clients are masqueraded out of the bridge; internal networks get neither', () => {
    const nat = specs(net()).filter((r) => r.startsWith('nat '));
    assert.ok(nat.includes('nat NETLOOM-POSTROUTING -s 127.0.0.0/8 -o nlb-0123456789a -j MASQUERADE'));
    assert.ok(nat.includes('nat NETLOOM-POSTROUTING -s 10.31.0.0/24 -o nlb-0123456789a -m conntrack --ctstate DNAT -j MASQUERADE'));
    assert.ok(!specs(net({ family: 6, subnet: 'fd00::/64' })).some((r) => r.includes('127.0.0.0/8')));
    assert.ok(!specs(net({ internal: true })).some((r) => r.startsWith('nat ')));
  });

  test("ownLines picks netloom's jumps and chains out of a full iptables-save, NETLOOM-USER excluded", () => {
    const save = [
      '*filter',
      ':FORWARD ACCEPT [0:0]',
      ':NETLOOM-USER - [0:0]',
      '-A FORWARD -j NETLOOM-USER',
      '-A FORWARD -i docker0 -j ACCEPT',
      '-A FORWARD -j NETLOOM-FORWARD',
      '-A NETLOOM-USER -s 10.0.0.0/8 -j DROP',
      '-A NETLOOM-FORWARD -j NETLOOM-ISOLATION-1',
      'COMMIT',
    ].join('\n');
    assert.deepEqual(ownLines(save, 'filter'), ['-A FORWARD -j NETLOOM-USER', '-A FORWARD -j NETLOOM-FORWARD', '-A NETLOOM-FORWARD -j NETLOOM-ISOLATION-1']);
    assert.deepEqual(expectedLines([]).filter.slice(0, 3), ['-A INPUT -j NETLOOM-INPUT', '-A FORWARD -j NETLOOM-USER', '-A FORWARD -j NETLOOM-FORWARD']);
  });
});

describe('bridge rules: through iptables-restore (system/fake)', () => {
  for (const [combo, rules] of Object.entries(combos)) {
    test(`${combo}: renderAll loads, renderAdd appends, renderDel removes exactly what renderAdd added`, async () => {
      const sys = createFakeSystem();
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

  test("renderAll replaces netloom's chains and nothing else", async () => {
    const sys = createFakeSystem();
    await sys.firewall.restore(4, '*filter\n-A FORWARD -i docker0 -j ACCEPT\nCOMMIT\n');
    await sys.firewall.restore(4, renderAll(networkRules(net())));
    await sys.firewall.restore(4, renderAll(networkRules(net({ bridge: 'br-other', subnet: '10.32.0.0/24' }))));
    const fw = sys.snapshot().firewall.ipv4;
    assert.deepEqual(fw.filter.FORWARD.rules, ['-i docker0 -j ACCEPT']);
    assert.ok(!JSON.stringify(fw).includes('nlb-0123456789a'));
  });
});
