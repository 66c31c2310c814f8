import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import IPCIDR from 'ip-cidr';
import {
  addressOf,
  bytesToIp,
  canonicalCidr,
  contains,
  formatIfAddr,
  formatIPv4,
  formatIPv6,
  ifAddrIn,
  ipFamily,
  ipToBytes,
  macFromIPv4,
  maskToPrefix,
  nthHost,
  overlaps,
  parseCidr,
  parseIfAddr,
  parseIPv4,
  parseIPv6,
  prefixLength,
  prefixToMask,
} from '../../common/cidr.js';
import { NetloomError } from '../../common/errors.js';

const v4 = fc.integer({ min: 0, max: 0xffffffff });
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof NetloomError && e.code === code && e.kind === 'invalid');
}

describe('IPv4 addresses', () => {
  test('parseIPv4 reads dotted quads as unsigned numbers', () => {
    assert.equal(parseIPv4('0.0.0.0'), 0);
    assert.equal(parseIPv4('10.1.0.2'), 0x0a010002);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  });

  test('parseIPv4 rejects garbage, out-of-range octets and ambiguous leading zeros', () => {
    for (const bad of [
      '',
      '10.94.999.0',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.04',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1..2.3',
      '-1.2.3.4',
      '1.2.3.a',
      '1.2.3.',
      '.1.2.3',
      '256.0.0.0',
      '1.2.3.4/32',
      '0x1.2.3.4',
    ]) {
      assert.equal(parseIPv4(bad), undefined, bad);
    }
  });

  test('formatIPv4 and parseIPv4 round-trip every number', () => {
    fc.assert(fc.property(v4, (n) => parseIPv4(formatIPv4(n)) === n));
  });
});

describe('IPv6 addresses', () => {
  test('formatIPv6 writes the RFC 5952 canonical form', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first is compressed
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run is compressed
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not
      ['FE80::1', 'fe80::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['2001:db8::', '2001:db8::'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::ffff:c000:0201', '::ffff:192.0.2.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [text, canonical] of cases) assert.equal(formatIPv6(parseIPv6(text)!), canonical, text);
  });

  test('parseIPv6 rejects malformed text, zones and brackets', () => {
    for (const bad of [
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::1',
      'fe80::1%eth0',
      '[::1]',
      '::1.2.3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '1.2.3.4::',
      '::1.2.3.4:1',
      '',
    ]) {
      assert.equal(parseIPv6(bad), undefined, bad);
    }
  });

  test('formatIPv6 round-trips and agrees with ip-address on non-mapped addresses', () => {
    fc.assert(
      fc.property(v6, fc.nat({ max: 7 }), fc.nat({ max: 8 }), (x, at, len) => {
        // Punch a zero run into the random value so "::" placement is exercised.
        const zeroMask = ((1n << BigInt(16 * Math.min(len, 8 - at))) - 1n) << BigInt(16 * at);
        const v = x & ~zeroMask;
        const text = formatIPv6(v);
        assert.equal(parseIPv6(text), v);
        if (v >> 32n !== 0xffffn) assert.equal(text, IPCIDR.createAddress(text).correctForm());
      }),
    );
  });
});

describe('CIDRs', () => {
  test('parseCidr clears host bits like Docker does', () => {
    assert.equal(canonicalCidr('10.1.0.5/24'), '10.1.0.0/24');
    assert.equal(canonicalCidr('172.17.255.255/16'), '172.17.0.0/16');
    assert.equal(canonicalCidr('fd00:1:2:3::9/64'), 'fd00:1:2:3::/64');
    assert.equal(canonicalCidr('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(prefixLength('10.0.0.0/8'), 8);
  });

  test('parseCidr rejects garbage, missing or out-of-range prefixes', () => {
    for (const bad of [
      '10.94.999.0/24',
      '10.0.0.0/33',
      '10.0.0.0',
      '10.0.0.0/',
      '10.0.0.0/024',
      '10.0.0.0/-1',
      'fd00::/129',
      '10.0.0.0/24/1',
      '/24',
      '10.0.0.0/ 24',
      'fd00::%1/64',
    ]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
    throwsCode(() => prefixLength('10.0.0.0/33'), 'NL_IPAM_INVALID_CIDR');
  });

  test('contains agrees with ip-cidr on random IPv4 subnets and addresses', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (a, prefix, ip) => {
        const cidr = canonicalCidr(`${formatIPv4(a)}/${prefix}`)!;
        // Bias half the probes into the subnet so "true" is tested as often as "false".
        const probe = ip % 2 === 0 ? formatIPv4((parseCidr(cidr)!.base as number) + (ip % 2 ** (32 - prefix))) : formatIPv4(ip);
        assert.equal(contains(cidr, probe), new IPCIDR(cidr).contains(probe), `${cidr} ${probe}`);
      }),
    );
  });

  test('contains is false across families rather than an error', () => {
    assert.equal(contains('10.0.0.0/8', '::1'), false);
    assert.equal(contains('::/0', '10.0.0.1'), false);
    assert.equal(contains('::/0', '::1'), true);
    throwsCode(() => contains('10.0.0.0/8', '10.0.0.300'), 'NL_IPAM_INVALID_ADDRESS');
  });

  test('overlaps agrees with a brute-force check on small random subnets', () => {
    const small = fc.tuple(fc.nat({ max: 255 }), fc.integer({ min: 24, max: 32 }));
    fc.assert(
      fc.property(small, small, ([a, pa], [b, pb]) => {
        const x = canonicalCidr(`10.0.0.${a}/${pa}`)!;
        const y = canonicalCidr(`10.0.0.${b}/${pb}`)!;
        let brute = false;
        for (let i = 0; i < 256 && !brute; i++) brute = contains(x, `10.0.0.${i}`) && contains(y, `10.0.0.${i}`);
        assert.equal(overlaps(x, y), brute, `${x} ${y}`);
        assert.equal(overlaps(y, x), brute);
      }),
    );
    assert.equal(overlaps('10.0.0.0/8', 'fd00::/8'), false);
    assert.equal(overlaps('fd00::/64', 'fd00::8/125'), true);
  });

  test('nthHost counts from the network address, and back from the end when negative', () => {
    assert.equal(nthHost('10.1.0.0/24', 1), '10.1.0.1');
    assert.equal(nthHost('10.1.0.0/24', -1), '10.1.0.255');
    assert.equal(nthHost('fd00::/64', 2n), 'fd00::2');
    assert.equal(nthHost('fd00::/64', -1), 'fd00::ffff:ffff:ffff:ffff');
    throwsCode(() => nthHost('10.1.0.0/24', 256), 'NL_IPAM_INVALID_ADDRESS');
    throwsCode(() => nthHost('10.1.0.0/24', -257), 'NL_IPAM_INVALID_ADDRESS');
  });

  test('ipFamily tells addresses and CIDRs of each family apart', () => {
    assert.equal(ipFamily('10.0.0.1'), 4);
    assert.equal(ipFamily('10.0.0.0/8'), 4);
    assert.equal(ipFamily('fd00::1'), 6);
    assert.equal(ipFamily('fd00::/64'), 6);
    assert.equal(ipFamily('nope'), undefined);
  });
});

describe('masks, bytes and MACs', () => {
  test('maskToPrefix reads contiguous masks and refuses the rest', () => {
    assert.equal(maskToPrefix('255.255.255.0'), 24);
    assert.equal(maskToPrefix('255.255.255.255'), 32);
    assert.equal(maskToPrefix('0.0.0.0'), 0);
    assert.equal(maskToPrefix('ffff:ffff:ffff:ffff::'), 64);
    assert.equal(maskToPrefix('255.0.255.0'), undefined);
    assert.equal(maskToPrefix('garbage'), undefined);
  });

  test('prefixToMask is the inverse of maskToPrefix for both families', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 32 }), (p) => maskToPrefix(prefixToMask(p)) === p));
    fc.assert(fc.property(fc.integer({ min: 0, max: 128 }), (p) => maskToPrefix(prefixToMask(p, 6)) === p));
    throwsCode(() => prefixToMask(33), 'NL_IPAM_INVALID_CIDR');
  });

  test('ipToBytes writes network order and bytesToIp reads it back', () => {
    assert.deepEqual([...ipToBytes('10.1.0.2')], [10, 1, 0, 2]);
    assert.deepEqual([...ipToBytes('fd00::1')], [0xfd, 0, ...new Array<number>(13).fill(0), 1]);
    fc.assert(fc.property(v4, (n) => bytesToIp(ipToBytes(formatIPv4(n))) === formatIPv4(n)));
    fc.assert(fc.property(v6, (v) => bytesToIp(ipToBytes(formatIPv6(v))) === formatIPv6(v)));
    assert.equal(bytesToIp(new Uint8Array([0, 192, 168, 1, 7, 0]).subarray(1, 5)), '192.168.1.7');
    throwsCode(() => bytesToIp(new Uint8Array(5)), 'NL_IPAM_INVALID_ADDRESS');
  });

  test('macFromIPv4 derives Docker-style MACs from the address bytes', () => {
    assert.equal(macFromIPv4('172.17.0.2'), '02:42:ac:11:00:02');
    assert.equal(macFromIPv4(0x0a0000ff), '02:42:0a:00:00:ff');
    throwsCode(() => macFromIPv4('fd00::1'), 'NL_IPAM_INVALID_ADDRESS');
    throwsCode(() => macFromIPv4(-1), 'NL_IPAM_INVALID_ADDRESS');
  });
});

describe('interface addresses', () => {
  test('parseIfAddr keeps the host bits, canonicalises the address and refuses what is not address/prefix', () => {
    assert.deepEqual(parseIfAddr('10.1.0.5/24'), { ip: '10.1.0.5', prefix: 24 });
    assert.deepEqual(parseIfAddr('FD00:0::2/64'), { ip: 'fd00::2', prefix: 64 });
    for (const bad of ['10.1.0.5', '10.1.0.5/33', '10.1.0.5/024', '10.1.0.5/', 'fd00::1/129', 'x/24', '010.1.0.5/24', '']) {
      assert.equal(parseIfAddr(bad), undefined, bad);
    }
  });

  test('formatIfAddr and parseIfAddr round-trip any address and prefix of its family', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }).map(formatIPv4), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(formatIPv6), fc.integer({ min: 0, max: 128 }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), ([ip, prefix]) => {
        assert.deepEqual(parseIfAddr(formatIfAddr({ ip, prefix })), { ip, prefix });
      }),
    );
  });

  test('ifAddrIn takes the prefix of the subnet; addressOf drops any prefix', () => {
    assert.equal(formatIfAddr(ifAddrIn('10.1.0.1', '10.1.0.0/20')), '10.1.0.1/20');
    assert.deepEqual(['10.1.0.2/24', 'fd00::2/64', '10.1.0.2'].map(addressOf), ['10.1.0.2', 'fd00::2', '10.1.0.2']);
  });
});
