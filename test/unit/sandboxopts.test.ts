// controller/sandboxopts.ts: the `docker run` flags of a sandbox, parsed and checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { checkHostname, ownHostNames, parseExpose, parseExtraHost, parseLink, parseMac, publishAllSpecs } from '../../controller/sandboxopts.js';

function rejects(fn: () => unknown, message: RegExp, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof NetloomError && e.code === code && message.test(e.message) && e.kind === 'invalid');
}

describe('sandbox flags', () => {
  test('--hostname: RFC 1123 labels up to 64 characters; bad ones named', () => {
    for (const ok of ['web1', 'web-1.example.com', 'a', 'x'.repeat(64)]) checkHostname('--hostname', ok);
    rejects(() => checkHostname('--hostname', 'bad_name'), /--hostname "bad_name"/, 'NL_BAD_HOSTNAME');
    rejects(() => checkHostname('--hostname', '-lead'), /"-lead"/, 'NL_BAD_HOSTNAME');
    rejects(() => checkHostname('--domainname', 'a..b'), /--domainname "a\.\.b"/, 'NL_BAD_HOSTNAME');
    rejects(() => checkHostname('--hostname', 'x'.repeat(65)), /at most 64/, 'NL_BAD_HOSTNAME');
  });

  test('hosts names: the FQDN first, then the bare host name, as Docker writes them', () => {
    assert.deepEqual(ownHostNames('web1'), ['web1']);
    assert.deepEqual(ownHostNames('web1', 'example.com'), ['web1.example.com', 'web1']);
    assert.deepEqual(ownHostNames('web1.example.com'), ['web1.example.com', 'web1']);
  });

  test('--add-host NAME:IP splits at the first colon (IPv6 needs no brackets); host-gateway kept for the controller', () => {
    assert.deepEqual(parseExtraHost('db:10.1.2.3'), { name: 'db', ip: '10.1.2.3' });
    assert.deepEqual(parseExtraHost('v6:fd00::0007'), { name: 'v6', ip: 'fd00::7' });
    assert.deepEqual(parseExtraHost('v6:[fd00::7]'), { name: 'v6', ip: 'fd00::7' });
    assert.deepEqual(parseExtraHost('gw:host-gateway'), { name: 'gw', ip: 'host-gateway' });
    rejects(() => parseExtraHost('x'), /invalid --add-host "x": expected NAME:IP/, 'NL_BAD_ADD_HOST');
    rejects(() => parseExtraHost(':10.0.0.1'), /":10\.0\.0\.1"/, 'NL_BAD_ADD_HOST');
    rejects(() => parseExtraHost('db:10.0.0.300'), /"10\.0\.0\.300" is not an IP address/, 'NL_BAD_ADD_HOST');
  });

  test('--link NAME[:ALIAS]: the alias defaults to the name', () => {
    assert.deepEqual(parseLink('db'), { name: 'db', alias: 'db' });
    assert.deepEqual(parseLink('db:data'), { name: 'db', alias: 'data' });
    for (const bad of ['', 'db:', ':x', 'a:b:c', 'd b']) rejects(() => parseLink(bad), /invalid --link/, 'NL_BAD_LINK');
  });

  test('--mac-address: six octets, unicast, normalised to lower case', () => {
    assert.equal(parseMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
    assert.equal(parseMac('02-42-ac-11-00-02'), '02:42:ac:11:00:02');
    rejects(() => parseMac('02:42:ac:11:00'), /"02:42:ac:11:00"/, 'NL_BAD_MAC');
    rejects(() => parseMac('01:00:5e:00:00:01'), /multicast/, 'NL_BAD_MAC');
  });

  test('--expose PORT[-END][/PROTO]', () => {
    assert.deepEqual(parseExpose('80'), { proto: 'tcp', port: 80, end: 80 });
    assert.deepEqual(parseExpose('53/udp'), { proto: 'udp', port: 53, end: 53 });
    assert.deepEqual(parseExpose('7000-7002/TCP'), { proto: 'tcp', port: 7000, end: 7002 });
    for (const bad of ['0', '70000', '80/sctp', '90-80', 'http', '']) rejects(() => parseExpose(bad), /invalid --expose/, 'NL_BAD_EXPOSE');
  });

  test('-P: one spec per exposed port, none for a port an explicit --publish maps', () => {
    const ex = [parseExpose('80'), parseExpose('53/udp'), parseExpose('7000-7001')];
    assert.deepEqual(publishAllSpecs(ex, []), ['80/tcp', '53/udp', '7000/tcp', '7001/tcp']);
    assert.deepEqual(publishAllSpecs(ex, [{ proto: 'tcp', containerPort: 80, containerPortEnd: 80 }]), ['53/udp', '7000/tcp', '7001/tcp']);
    assert.deepEqual(publishAllSpecs(ex, [{ proto: 'udp', containerPort: 80, containerPortEnd: 80 }]).length, 4, 'another protocol does not count');
  });

  test('property: every valid --expose round-trips through its spec', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 100 }), fc.constantFrom('tcp', 'udp'), (p, n, proto) => {
        const end = Math.min(65535, p + n);
        const spec = `${p}${end === p ? '' : `-${end}`}/${proto}`;
        assert.deepEqual(parseExpose(spec), { proto, port: p, end });
      }),
    );
  });
});
