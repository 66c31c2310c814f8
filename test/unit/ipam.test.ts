import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { contains, formatIPv4, formatIPv6, parseIPv6 } from '../../common/cidr.js';
import { type ErrorKind, NetloomError } from '../../common/errors.js';
import { IPAM_ERROR_CODES, Ipam, type PoolRecord, type PoolRequest } from '../../ipam/index.js';

const KIND: Readonly<Record<string, ErrorKind>> = {
  NL_IPAM_POOL_EXISTS: 'conflict',
  NL_IPAM_POOL_OVERLAP: 'forbidden',
  NL_IPAM_ADDR_IN_USE: 'conflict',
  NL_IPAM_ADDR_RESERVED: 'conflict',
  NL_IPAM_NO_DEFAULT_POOL: 'unavailable',
  NL_IPAM_EXHAUSTED: 'unavailable',
  NL_IPAM_POOL_NOT_FOUND: 'notFound',
};

/** Asserts the code, its kind, and the house style of the message: one lower-case line, no period. */
function rejects(fn: () => unknown, code: string, message?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NetloomError, `expected ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok((IPAM_ERROR_CODES as readonly string[]).includes(code));
  assert.equal(caught.kind, KIND[code] ?? 'invalid');
  assert.match(caught.message, /^[a-z][^\n]*[^.]$/);
  if (message !== undefined) assert.equal(caught.message, message);
}

const req = (over: Partial<PoolRequest> = {}): PoolRequest => ({ id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, ...over });

function withPool(over: Partial<PoolRequest> = {}): Ipam {
  const ipam = new Ipam();
  ipam.addPool(ipam.planPool(req(over)));
  return ipam;
}

function take(ipam: Ipam, owner: string, ip?: string, pool = 'n1:4'): string {
  const chosen = ipam.planAddress(pool, owner, ip);
  ipam.allocate(pool, chosen, owner);
  return chosen;
}

function cursors(ipam: Ipam): Record<string, string> {
  return Object.fromEntries(
    ipam.pools().flatMap((p) => {
      const c = ipam.cursor(p.id);
      return c === undefined ? [] : [[p.id, c]];
    }),
  );
}

const snapshot = (ipam: Ipam): string => JSON.stringify({ pools: ipam.pools(), allocations: ipam.allocations(), cursors: cursors(ipam) });

describe('planPool', () => {
  test('planPool picks Docker default subnets in order, skipping pools in use and avoided routes', () => {
    const ipam = new Ipam();
    const first = ipam.planPool(req());
    assert.deepEqual(first, {
      id: 'n1:4',
      owner: 'n1',
      ownerName: 'front',
      family: 4,
      subnet: '172.17.0.0/16',
      gateway: '172.17.0.1',
      userGateway: false,
      aux: {},
      userSubnet: false,
    });
    ipam.addPool(first);
    const avoid = ['172.18.3.7/24', '0.0.0.0/0', 'fd00::/8', '172.19.0.1'];
    assert.equal(ipam.planPool(req({ id: 'n2:4' }), avoid).subnet, '172.20.0.0/16');
    rejects(() => ipam.planPool(req({ id: 'n2:4' }), ['nonsense']), 'NL_IPAM_INVALID_CIDR');
  });

  test('the constructor rejects default pools that cannot be cut as configured', () => {
    rejects(
      () => new Ipam({ defaults4: [{ base: '10.0.0.0/8', size: 4 }] }),
      'NL_IPAM_PREFIX_TOO_LONG',
      'default pool 10.0.0.0/8 has size 4: expected a prefix from 8 to 30',
    );
    rejects(() => new Ipam({ defaults6: [{ base: '10.0.0.0/8', size: 16 }] }), 'NL_IPAM_FAMILY_MISMATCH');
    rejects(() => new Ipam({ defaults4: [{ base: '10.0.0/8', size: 16 }] }), 'NL_IPAM_INVALID_CIDR');
  });

  test('planPool moves on to 192.168.0.0/16 as /20s once 172.17-31 are taken, then gives up naming what it tried', () => {
    const ipam = new Ipam();
    for (let i = 0; i < 15; i++) ipam.addPool(ipam.planPool(req({ id: `n${i}` })));
    assert.equal(ipam.planPool(req({ id: 'x' })).subnet, '192.168.0.0/20');
    assert.equal(ipam.planPool(req({ id: 'x' }), ['192.168.0.0/19']).subnet, '192.168.32.0/20');
    const tiny = new Ipam({ defaults4: [{ base: '10.9.0.0/24', size: 25 }] });
    tiny.addPool(tiny.planPool(req({ id: 'a' })));
    tiny.addPool(tiny.planPool(req({ id: 'b' })));
    rejects(
      () => tiny.planPool(req({ id: 'c' })),
      'NL_IPAM_NO_DEFAULT_POOL',
      'no default IPv4 pool left for network "front": tried 10.9.0.0/24 as /25; ' + 'each subnet overlaps an existing network or a host route, pass --subnet',
    );
  });

  test('planPool picks IPv6 /64s from fd6e:6c6f:6f6d::/48', () => {
    const ipam = new Ipam();
    ipam.addPool(ipam.planPool(req({ id: 'a:6', family: 6 })));
    const next = ipam.planPool(req({ id: 'b:6', family: 6 }));
    assert.equal(ipam.pool('a:6')?.subnet, 'fd6e:6c6f:6f6d::/64');
    assert.equal(next.subnet, 'fd6e:6c6f:6f6d:1::/64');
    assert.equal(next.gateway, 'fd6e:6c6f:6f6d:1::1');
  });

  test('planPool canonicalises a user subnet with host bits set and keeps the user gateway', () => {
    const rec = new Ipam().planPool(req({ subnet: '10.1.0.5/24', ipRange: '10.1.0.130/25', gateway: '10.1.0.254', auxAddresses: { r: '10.1.0.3' } }));
    assert.deepEqual(rec, {
      id: 'n1:4',
      owner: 'n1',
      ownerName: 'front',
      family: 4,
      subnet: '10.1.0.0/24',
      ipRange: '10.1.0.128/25',
      gateway: '10.1.0.254',
      userGateway: true,
      aux: { r: '10.1.0.3' },
      userSubnet: true,
    });
  });

  test('planPool rejects bad subnets, gateways, ranges and aux addresses with messages naming them', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    const bad = (over: Partial<PoolRequest>, code: string, message?: string): void =>
      rejects(() => ipam.planPool(req({ id: 'n2:4', ownerName: 'back', ...over })), code, message);
    bad({ subnet: '10.94.999.0/24' }, 'NL_IPAM_INVALID_CIDR', 'invalid subnet "10.94.999.0/24": expected an IPv4 or IPv6 CIDR such as 10.1.0.0/24');
    bad({ subnet: '10.2.0.0' }, 'NL_IPAM_INVALID_CIDR');
    bad({ subnet: '10.2.0.0/33' }, 'NL_IPAM_INVALID_CIDR');
    bad({ subnet: '10.1.0.0/16' }, 'NL_IPAM_POOL_OVERLAP', 'subnet 10.1.0.0/16 overlaps network "front" (10.1.0.0/24)');
    bad({ subnet: '10.2.0.0/31' }, 'NL_IPAM_PREFIX_TOO_LONG');
    bad({ family: 6, subnet: 'fd00::/127' }, 'NL_IPAM_PREFIX_TOO_LONG');
    bad({ subnet: 'fd00::/64' }, 'NL_IPAM_FAMILY_MISMATCH');
    bad({ subnet: '10.2.0.0/24', gateway: '10.3.0.1' }, 'NL_IPAM_GATEWAY_OUTSIDE', 'gateway 10.3.0.1 is outside subnet 10.2.0.0/24');
    bad({ subnet: '10.2.0.0/24', gateway: '10.2.0.255' }, 'NL_IPAM_INVALID_ADDRESS');
    bad({ subnet: '10.2.0.0/24', gateway: '10.2.0.1/24' }, 'NL_IPAM_INVALID_ADDRESS');
    bad({ subnet: '10.2.0.0/24', ipRange: '10.2.1.0/25' }, 'NL_IPAM_RANGE_OUTSIDE');
    bad({ subnet: '10.2.0.0/24', ipRange: '10.2.0.0/23' }, 'NL_IPAM_RANGE_OUTSIDE');
    bad({ subnet: '10.2.0.0/24', auxAddresses: { a: '10.9.0.1' } }, 'NL_IPAM_AUX_OUTSIDE');
    bad({ subnet: '10.2.0.0/24', auxAddresses: { a: '10.2.0.1' } }, 'NL_IPAM_AUX_CONFLICT');
    bad({ subnet: '10.2.0.0/24', auxAddresses: { a: '10.2.0.9', b: '10.2.0.9' } }, 'NL_IPAM_AUX_CONFLICT');
    bad({ gateway: '10.2.0.1' }, 'NL_IPAM_GATEWAY_OUTSIDE');
    rejects(() => ipam.planPool(req({ id: 'n1:4', subnet: '10.5.0.0/24' })), 'NL_IPAM_POOL_EXISTS');
  });

  test('planPool lets a user subnet overlap a host route that a default pick must avoid', () => {
    assert.equal(new Ipam().planPool(req({ subnet: '192.168.1.0/24' }), ['192.168.1.0/24']).subnet, '192.168.1.0/24');
  });

  test('addPool re-checks the record it is given and rejects an overlap', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    const forged: PoolRecord = { ...new Ipam().planPool(req({ id: 'n2:4', subnet: '10.1.0.0/25' })), ownerName: 'back' };
    rejects(() => ipam.addPool(forged), 'NL_IPAM_POOL_OVERLAP');
    rejects(() => ipam.addPool({ ...forged, subnet: '10.2.0.0/24', gateway: '10.1.0.1' }), 'NL_IPAM_GATEWAY_OUTSIDE');
    assert.equal(ipam.pools().length, 1);
  });
});

describe('addresses', () => {
  test('planAddress hands out the first free host after the gateway, inside ip-range when given', () => {
    assert.equal(take(withPool({ subnet: '10.1.0.0/24' }), 'a'), '10.1.0.2');
    const ranged = withPool({ subnet: '10.1.0.0/24', ipRange: '10.1.0.128/30' });
    const got = ['a', 'b', 'c', 'd'].map((o) => take(ranged, o));
    assert.deepEqual(got, ['10.1.0.128', '10.1.0.129', '10.1.0.130', '10.1.0.131']);
    rejects(() => ranged.planAddress('n1:4', 'e'), 'NL_IPAM_EXHAUSTED', 'no free address left in 10.1.0.128/30 (network "front")');
    assert.equal(take(ranged, 'e', '10.1.0.7'), '10.1.0.7'); // a static address may sit outside the range
  });

  test('planAddress rejects a static IP outside the subnet, reserved or in use, and changes nothing', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24', auxAddresses: { router: '10.1.0.9' } });
    take(ipam, 'ep1', '10.1.0.5');
    const before = snapshot(ipam);
    const bad = (ip: string, code: string, message?: string): void => rejects(() => ipam.planAddress('n1:4', 'x', ip), code, message);
    bad('10.9.0.5', 'NL_IPAM_ADDR_OUTSIDE', 'address 10.9.0.5 is outside subnet 10.1.0.0/24 of network "front"');
    bad('10.1.0.5', 'NL_IPAM_ADDR_IN_USE', 'address 10.1.0.5 is already in use by ep1 in network "front"');
    for (const ip of ['10.1.0.0', '10.1.0.1', '10.1.0.9', '10.1.0.255']) bad(ip, 'NL_IPAM_ADDR_RESERVED');
    bad(
      '10.1.0.9',
      'NL_IPAM_ADDR_RESERVED',
      'address 10.1.0.9 is reserved as the aux address "router" of network "front": pick another address in 10.1.0.0/24',
    );
    bad('10.1.0.256', 'NL_IPAM_INVALID_ADDRESS', 'invalid address "10.1.0.256" for network "front": expected an IPv4 address in 10.1.0.0/24');
    bad('fd00::1', 'NL_IPAM_FAMILY_MISMATCH');
    rejects(() => ipam.planAddress('nope', 'x'), 'NL_IPAM_POOL_NOT_FOUND');
    assert.equal(snapshot(ipam), before);
  });

  test('allocate refuses a second holder instead of handing out a duplicate', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    ipam.allocate('n1:4', '10.1.0.5', 'ep1');
    rejects(() => ipam.allocate('n1:4', '10.1.0.5', 'ep2'), 'NL_IPAM_ADDR_IN_USE');
    assert.equal(ipam.holder('n1:4', '10.1.0.5'), 'ep1');
    assert.deepEqual(ipam.allocations(), [{ pool: 'n1:4', ip: '10.1.0.5', owner: 'ep1' }]);
  });

  test('release is idempotent and rotation does not hand a just-released address straight back', () => {
    const ipam = withPool({ subnet: '10.1.0.0/29' }); // hosts .2-.6 after the gateway
    assert.deepEqual(
      ['a', 'b', 'c'].map((o) => take(ipam, o)),
      ['10.1.0.2', '10.1.0.3', '10.1.0.4'],
    );
    ipam.release('n1:4', '10.1.0.4');
    ipam.release('n1:4', '10.1.0.4');
    ipam.release('missing', '10.1.0.4');
    assert.equal(take(ipam, 'd'), '10.1.0.5');
    ipam.release('n1:4', '10.1.0.3');
    assert.deepEqual([take(ipam, 'e'), take(ipam, 'f')], ['10.1.0.6', '10.1.0.3']); // wraps past the end
  });

  test('a static allocation does not move the rotation cursor', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    take(ipam, 'a');
    take(ipam, 'b', '10.1.0.200');
    assert.equal(take(ipam, 'c'), '10.1.0.3');
    assert.equal(ipam.cursor('n1:4'), '10.1.0.3');
  });

  test('IPv6 pools reserve the subnet-router anycast address and exhaust a /126', () => {
    const ipam = withPool({ id: 'n1:6', family: 6, subnet: 'fd00:1::/126' });
    rejects(() => ipam.planAddress('n1:6', 'x', 'fd00:1::'), 'NL_IPAM_ADDR_RESERVED');
    assert.deepEqual([take(ipam, 'a', undefined, 'n1:6'), take(ipam, 'b', undefined, 'n1:6')], ['fd00:1::2', 'fd00:1::3']);
    rejects(() => ipam.planAddress('n1:6', 'c'), 'NL_IPAM_EXHAUSTED');
    assert.equal(ipam.findPoolFor('fd00:1::3')?.id, 'n1:6');
  });

  test('removePool drops its allocations, frees its subnet and is idempotent', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    take(ipam, 'a');
    ipam.removePool('n1:4');
    ipam.removePool('n1:4');
    assert.deepEqual([ipam.pools(), ipam.allocations(), ipam.findPoolFor('10.1.0.2')], [[], [], undefined]);
    ipam.addPool(ipam.planPool(req({ subnet: '10.1.0.0/16' })));
  });

  test('load restores pools, allocations and cursors, or throws and keeps the previous state', () => {
    const ipam = withPool({ subnet: '10.1.0.0/24' });
    ['a', 'b', 'c'].forEach((o) => take(ipam, o));
    ipam.release('n1:4', '10.1.0.4');
    const saved = JSON.parse(snapshot(ipam)) as { pools: PoolRecord[]; allocations: []; cursors: Record<string, string> };
    const restored = new Ipam();
    restored.load(saved.pools, saved.allocations, { ...saved.cursors, gone: '10.9.9.9' });
    assert.equal(snapshot(restored), snapshot(ipam));
    assert.equal(take(restored, 'd'), take(ipam, 'd'));
    const before = snapshot(restored);
    rejects(() => restored.load(saved.pools, [...saved.allocations, { pool: 'n1:4', ip: '10.1.0.2', owner: 'z' }]), 'NL_IPAM_ADDR_IN_USE');
    assert.equal(snapshot(restored), before);
    assert.throws(() => {
      (restored.pools()[0] as { subnet: string }).subnet = '0.0.0.0/0';
    }, TypeError);
  });
});

describe('properties', () => {
  type Op = { kind: 'dyn' } | { kind: 'static'; offset: number } | { kind: 'release'; pick: number };
  type Outcome = { got?: string; released?: string; err?: string };
  interface Setup {
    readonly req: PoolRequest;
    readonly size: number;
    readonly at: (offset: number) => string;
  }

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Op>({ kind: 'dyn' }) },
    { weight: 1, arbitrary: fc.nat({ max: 80 }).map((offset): Op => ({ kind: 'static', offset })) },
    { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
  );
  const opsArb = fc.array(opArb, { maxLength: 60 });

  /** Small pools (8-64 addresses) so exhaustion and wrap-around happen; random range, gateway and aux. */
  const setupArb: fc.Arbitrary<Setup> = fc
    .record({
      family: fc.constantFrom<4 | 6>(4, 6),
      hostBits: fc.integer({ min: 3, max: 6 }),
      range: fc.option(fc.tuple(fc.nat(), fc.nat())), // [log2 of its size, which slot]
      gw: fc.option(fc.nat()),
      aux: fc.uniqueArray(fc.nat(), { maxLength: 2 }),
    })
    .map(({ family, hostBits, range, gw, aux }) => {
      const size = 2 ** hostBits;
      const at = family === 4 ? (o: number) => formatIPv4(0x0a010000 + o) : (o: number) => formatIPv6(parseIPv6('fd00:1::')! + BigInt(o));
      const hosts = family === 4 ? size - 2 : size - 1;
      const gateway = gw === null ? 1 : 1 + (gw % hosts);
      const auxOffsets = [...new Set(aux.map((a) => 1 + (a % hosts)))].filter((o) => o !== gateway);
      const rangeBits = range === null ? hostBits : range[0] % (hostBits + 1);
      const rangeStart = range === null ? 0 : (range[1] % 2 ** (hostBits - rangeBits)) * 2 ** rangeBits;
      const bits = family === 4 ? 32 : 128;
      const request = req({
        id: 'p',
        family,
        subnet: `${at(0)}/${bits - hostBits}`,
        ...(range === null ? {} : { ipRange: `${at(rangeStart)}/${bits - rangeBits}` }),
        ...(gw === null ? {} : { gateway: at(gateway) }),
        auxAddresses: Object.fromEntries(auxOffsets.map((o, i) => [`aux${i}`, at(o)])),
      });
      return { req: request, size, at };
    });

  function apply(ipam: Ipam, setup: Setup, op: Op, n: number): Outcome {
    try {
      if (op.kind === 'release') {
        const all = ipam.allocations('p');
        if (all.length === 0) return {};
        const ip = all[op.pick % all.length]!.ip;
        ipam.release('p', ip);
        return { released: ip };
      }
      return { got: take(ipam, `ep${n}`, op.kind === 'static' ? setup.at(op.offset) : undefined, 'p') };
    } catch (e) {
      if (e instanceof NetloomError) return { err: e.code };
      throw e;
    }
  }

  function start(setup: Setup): [Ipam, PoolRecord, Set<string>] {
    const ipam = new Ipam();
    const rec = ipam.planPool(setup.req);
    ipam.addPool(rec);
    const edges = rec.family === 4 ? [setup.at(0), setup.at(setup.size - 1)] : [setup.at(0)];
    return [ipam, rec, new Set([...edges, rec.gateway, ...Object.values(rec.aux)])];
  }

  /** Brute force: addresses of the dynamic range that are neither reserved nor held. */
  function freeInRange(ipam: Ipam, setup: Setup, rec: PoolRecord, reserved: Set<string>): string[] {
    const all = Array.from({ length: setup.size }, (_, o) => setup.at(o));
    return all.filter((ip) => contains(rec.ipRange ?? rec.subnet, ip) && !reserved.has(ip) && ipam.holder('p', ip) === undefined);
  }

  const allowed: Readonly<Record<Op['kind'], readonly string[]>> = {
    dyn: ['NL_IPAM_EXHAUSTED'],
    static: ['NL_IPAM_ADDR_IN_USE', 'NL_IPAM_ADDR_RESERVED', 'NL_IPAM_ADDR_OUTSIDE'],
    release: [],
  };

  test('random allocate/release/static sequences never yield a duplicate, an outside or a reserved address', () => {
    fc.assert(
      fc.property(setupArb, opsArb, (setup, ops) => {
        const [ipam, rec, reserved] = start(setup);
        const model = new Map<string, string>();
        ops.forEach((op, n) => {
          const out = apply(ipam, setup, op, n);
          if (out.got !== undefined) {
            assert.ok(!model.has(out.got), `duplicate ${out.got}`);
            model.set(out.got, `ep${n}`);
            if (op.kind === 'dyn') assert.ok(contains(rec.ipRange ?? rec.subnet, out.got));
          }
          if (out.released !== undefined) model.delete(out.released);
          if (out.err !== undefined) assert.ok(allowed[op.kind].includes(out.err), out.err);
          if (out.err === 'NL_IPAM_EXHAUSTED') assert.deepEqual(freeInRange(ipam, setup, rec, reserved), []);
          const all = ipam.allocations();
          assert.deepEqual(new Map(all.map((a) => [a.ip, a.owner])), model);
          for (const a of all) assert.ok(contains(rec.subnet, a.ip) && !reserved.has(a.ip), a.ip);
        });
      }),
    );
  });

  test('load of the persisted state, round-tripped through JSON, behaves identically afterwards', () => {
    fc.assert(
      fc.property(setupArb, opsArb, opsArb, (setup, before, after) => {
        const [ipam] = start(setup);
        before.forEach((op, n) => apply(ipam, setup, op, n));
        const saved = JSON.parse(snapshot(ipam)) as { pools: PoolRecord[]; allocations: []; cursors: Record<string, string> };
        const restarted = new Ipam();
        restarted.load(saved.pools, saved.allocations, saved.cursors);
        assert.equal(snapshot(restarted), snapshot(ipam));
        after.forEach((op, i) => assert.deepEqual(apply(restarted, setup, op, 100 + i), apply(ipam, setup, op, 100 + i)));
        assert.equal(snapshot(restarted), snapshot(ipam));
      }),
    );
  });

  test('a just-released address is not the next one returned unless it is the only free one', () => {
    fc.assert(
      fc.property(setupArb, opsArb, fc.nat(), (setup, ops, pick) => {
        const [ipam, rec, reserved] = start(setup);
        ops.forEach((op, n) => apply(ipam, setup, op, n));
        const all = ipam.allocations();
        if (all.length === 0) return;
        const released = all[pick % all.length]!.ip;
        ipam.release('p', released);
        const next = apply(ipam, setup, { kind: 'dyn' }, 999).got;
        if (freeInRange(ipam, setup, rec, reserved).length + (next === undefined ? 0 : 1) > 1) assert.notEqual(next, released);
      }),
    );
  });

  test('planPool overlap detection agrees with a brute-force check on small random subnets', () => {
    const small = fc.tuple(fc.nat({ max: 255 }), fc.integer({ min: 24, max: 30 }));
    fc.assert(
      fc.property(small, small, ([a, pa], [b, pb]) => {
        const ipam = withPool({ subnet: `10.0.0.${a}/${pa}` });
        const first = ipam.pools()[0]!.subnet;
        const second = `10.0.0.${b - (b % 2 ** (32 - pb))}/${pb}`;
        const brute = Array.from({ length: 256 }, (_, i) => `10.0.0.${i}`).some((ip) => contains(first, ip) && contains(second, ip));
        let code: string | undefined;
        try {
          ipam.planPool(req({ id: 'q', subnet: second }));
        } catch (e) {
          code = (e as NetloomError).code;
        }
        assert.equal(code, brute ? 'NL_IPAM_POOL_OVERLAP' : undefined, `${first} ${second}`);
      }),
    );
  });

  test('planPool and planAddress never change state, whether they succeed or throw', () => {
    const probe = fc.oneof(
      fc
        .record({
          subnet: fc.constantFrom(undefined, '10.1.0.0/24', '10.94.999.0/24', '10.0.0.0/8', 'fd00:1::/64', '10.7.0.0/31'),
          gateway: fc.constantFrom(undefined, '10.1.0.1', 'x'),
          id: fc.constantFrom('p', 'q'),
          family: fc.constantFrom<4 | 6>(4, 6),
        })
        .map((r) => (ipam: Ipam) => ipam.planPool(req(r), ['172.17.0.0/16'])),
      fc.option(fc.nat({ max: 80 })).map((o) => (ipam: Ipam, setup: Setup) => ipam.planAddress('p', 'x', o === null ? undefined : setup.at(o))),
      fc.constantFrom('10.1.0.999', 'nope', '::').map((ip) => (ipam: Ipam) => ipam.planAddress('p', 'x', ip)),
    );
    fc.assert(
      fc.property(setupArb, opsArb, fc.array(probe, { maxLength: 10 }), (setup, ops, probes) => {
        const [ipam] = start(setup);
        ops.forEach((op, n) => apply(ipam, setup, op, n));
        for (const p of probes) {
          const before = snapshot(ipam);
          try {
            p(ipam, setup);
          } catch (e) {
            assert.ok(e instanceof NetloomError);
          }
          assert.equal(snapshot(ipam), before);
        }
      }),
    );
  });
});
