// ipam/request.ts on its own: a pool request becomes a record, or an error naming the bad value.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatIPv4, toCidr } from '../../common/cidr.js';
import { NetloomError } from '../../common/errors.js';
import { DEFAULT_POOLS4 } from '../../ipam/defaults.js';
import { type PoolInUse, edges, planRecord, requestOf } from '../../ipam/request.js';
import type { PoolRecord, PoolRequest } from '../../ipam/types.js';

const req = (over: Partial<PoolRequest> = {}): PoolRequest => ({ id: 'n1:4', owner: 'n1', ownerName: 'front', family: 4, ...over });
const none = new Map<string, PoolInUse>();
const plan = (over: Partial<PoolRequest>, inUse = none, avoid: string[] = []): PoolRecord => planRecord(req(over), inUse, DEFAULT_POOLS4, avoid);
const inUse = (...recs: PoolRecord[]): Map<string, PoolInUse> => new Map(recs.map((rec) => [rec.id, { rec, subnet: toCidr(rec.subnet) }]));

function rejects(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof NetloomError && e.code === code && e.message === message);
}

describe('pool requests', () => {
  test('a user subnet is canonicalised; the gateway defaults to its first host; user flags are kept', () => {
    assert.deepEqual(plan({ subnet: '10.1.2.3/24', ipRange: '10.1.2.128/25', auxAddresses: { r: '10.1.2.9' } }), {
      id: 'n1:4',
      owner: 'n1',
      ownerName: 'front',
      family: 4,
      subnet: '10.1.2.0/24',
      ipRange: '10.1.2.128/25',
      gateway: '10.1.2.1',
      userGateway: false,
      aux: { r: '10.1.2.9' },
      userSubnet: true,
    });
    assert.equal(plan({ subnet: '10.1.2.0/24', gateway: '10.1.2.254' }).userGateway, true);
  });

  test('a default pick skips the pools in use and the avoided routes', () => {
    const first = plan({});
    assert.equal(first.subnet, '172.17.0.0/16');
    assert.equal(plan({ id: 'n2:4' }, inUse(first), ['172.18.5.0/24']).subnet, '172.19.0.0/16');
  });

  test('bad requests are refused naming the value and what would be valid', () => {
    rejects(() => plan({ subnet: '10.1.0.0/24', ipRange: '10.2.0.0/25' }), 'NL_IPAM_RANGE_OUTSIDE', 'ip-range 10.2.0.0/25 is outside subnet 10.1.0.0/24');
    rejects(
      () => plan({ subnet: '10.1.0.0/24', gateway: '10.1.0.255' }),
      'NL_IPAM_INVALID_ADDRESS',
      'gateway 10.1.0.255 is the broadcast address of 10.1.0.0/24: expected a host address such as 10.1.0.1',
    );
    rejects(
      () => plan({ subnet: '10.1.0.0/24', auxAddresses: { a: '10.1.0.1' } }),
      'NL_IPAM_AUX_CONFLICT',
      'aux address "a"=10.1.0.1 is already the gateway of subnet 10.1.0.0/24: pick another address',
    );
    rejects(() => plan({ subnet: 'fd00::/64' }), 'NL_IPAM_FAMILY_MISMATCH', 'subnet fd00::/64 is IPv6 but network "front" asks for an IPv4 pool');
    rejects(
      () => plan({ subnet: '10.1.0.0/31' }),
      'NL_IPAM_PREFIX_TOO_LONG',
      'subnet 10.1.0.0/31 is too small for network "front": expected an IPv4 prefix of /30 or shorter',
    );
    rejects(
      () => plan({ gateway: '10.1.0.1' }),
      'NL_IPAM_GATEWAY_OUTSIDE',
      'gateway 10.1.0.1 needs --subnet: a default subnet is only picked when no gateway, ip-range or aux address is given',
    );
    const front = plan({ subnet: '10.1.0.0/16' });
    rejects(
      () => plan({ id: 'n2:4', ownerName: 'back', subnet: '10.1.4.0/24' }, inUse(front)),
      'NL_IPAM_POOL_OVERLAP',
      'subnet 10.1.4.0/24 overlaps network "front" (10.1.0.0/16)',
    );
    rejects(() => plan({}, inUse(front)), 'NL_IPAM_POOL_EXISTS', 'pool "n1:4" of network "front" already exists');
  });

  test('edges names the addresses no host may have', () => {
    assert.deepEqual(
      [...edges(toCidr('10.1.0.0/24'))],
      [
        ['10.1.0.0', 'network address'],
        ['10.1.0.255', 'broadcast address'],
      ],
    );
    assert.deepEqual([...edges(toCidr('fd00::/64'))], [['fd00::', 'subnet-router anycast address']]);
  });

  test('re-planning the request of a record gives the record back (what load relies on)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 30 }), fc.nat(), fc.nat(), fc.boolean(), (prefix, base, g, userGw) => {
        const size = 2 ** (32 - prefix);
        const net = (0x0a000000 + (base % 2 ** (prefix - 8)) * size) >>> 0;
        const gateway = userGw ? formatIPv4(net + 1 + (g % (size - 2))) : undefined;
        const rec = plan({ subnet: `${formatIPv4(net)}/${prefix}`, gateway });
        assert.deepEqual({ ...planRecord(requestOf(rec), none, DEFAULT_POOLS4), userGateway: rec.userGateway }, rec);
      }),
    );
  });
});
