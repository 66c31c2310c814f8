// cli/args.ts: `netloom network create` flags into the Engine API body, k=v lists, flag errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError, endpointConfig, keyValues, networkCreateBody, sandboxCreateBody } from '../../cli/args.js';
import { parse } from '../../cli/parse.js';
import { CONNECT_OPTIONS, NETWORK_CREATE_OPTIONS, SANDBOX_CREATE_OPTIONS } from '../../cli/commands.js';

const body = (...argv: string[]) => networkCreateBody(parse(argv, NETWORK_CREATE_OPTIONS));

function usage(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('network create flags', () => {
  test("a bare name gives Docker's defaults", () => {
    assert.deepEqual(body('front'), {
      Name: 'front',
      Driver: 'bridge',
      EnableIPv6: false,
      Internal: false,
      Attachable: false,
      IPAM: { Driver: 'default', Config: [] },
      Options: {},
      Labels: {},
    });
  });

  test('gateway, ip-range and aux addresses go to the subnet that contains them, whatever the flag order', () => {
    const b = body(
      'front',
      '--ipv6',
      '--gateway',
      'fd00:1::1',
      '--subnet',
      '10.1.0.0/24',
      '--subnet',
      'fd00:1::/64',
      '--gateway',
      '10.1.0.254',
      '--ip-range',
      '10.1.0.128/25',
      '--aux-address',
      'router=10.1.0.5',
      '--aux-address',
      'v6=fd00:1::5',
    );
    assert.equal(b.EnableIPv6, true);
    assert.deepEqual((b.IPAM as { Config: unknown }).Config, [
      { Subnet: '10.1.0.0/24', Gateway: '10.1.0.254', IPRange: '10.1.0.128/25', AuxiliaryAddresses: { router: '10.1.0.5' } },
      { Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1', AuxiliaryAddresses: { v6: 'fd00:1::5' } },
    ]);
  });

  test('driver, flags, options, labels and IPAM options are carried over', () => {
    const b = body(
      'back',
      '-d',
      'bridge',
      '--internal',
      '--attachable',
      '-o',
      'com.docker.network.driver.mtu=1400',
      '--label',
      'team=web',
      '--label',
      'flag',
      '--ipam-driver',
      'netloom',
      '--ipam-opt',
      'k=v=w',
    );
    assert.equal(b.Internal, true);
    assert.equal(b.Attachable, true);
    assert.deepEqual(b.Options, { 'com.docker.network.driver.mtu': '1400' });
    assert.deepEqual(b.Labels, { team: 'web', flag: '' });
    assert.deepEqual(b.IPAM, { Driver: 'netloom', Options: { k: 'v=w' }, Config: [] });
  });

  test('a gateway, ip-range or aux address outside every subnet is an error naming it and the subnets', () => {
    usage(() => body('x', '--subnet', '10.1.0.0/24', '--gateway', '10.2.0.1'), '--gateway 10.2.0.1 is not inside any --subnet (10.1.0.0/24)');
    usage(() => body('x', '--gateway', '10.2.0.1'), '--gateway 10.2.0.1 is not inside any --subnet (none given)');
    usage(() => body('x', '--subnet', '10.1.0.0/24', '--ip-range', '10.9.0.0/25'), '--ip-range 10.9.0.0/25 is not inside any --subnet (10.1.0.0/24)');
    usage(() => body('x', '--subnet', '10.1.0.0/24', '--aux-address', 'a=fd00::1'), '--aux-address fd00::1 is not inside any --subnet (10.1.0.0/24)');
  });

  test('a value that is not an address is an error naming the flag and the value', () => {
    usage(() => body('x', '--subnet', '10.1.0.0/24', '--gateway', 'abc'), 'invalid --gateway "abc": expected an IP address');
    usage(() => body('x', '--subnet', '10.1.0.0/24', '--ip-range', 'ten/8'), 'invalid --ip-range "ten/8": expected an IP address');
  });

  test('network create needs exactly one name', () => {
    usage(() => body(), 'network create needs exactly one NAME');
    usage(() => body('a', 'b'), 'network create needs exactly one NAME');
  });
});

describe('key=value lists', () => {
  test('pairs split at the first "="; values may be empty or contain "="', () => {
    assert.deepEqual(keyValues('--opt', ['a=1', 'b=', 'c=x=y']), { a: '1', b: '', c: 'x=y' });
  });

  test('a pair without a key or without "=" is an error naming the flag and the item', () => {
    usage(() => keyValues('--opt', ['novalue']), 'invalid --opt "novalue": expected key=value');
    usage(() => keyValues('--opt', ['=v']), 'invalid --opt "=v": expected key=value');
    usage(() => body('x', '--aux-address', 'h'), 'invalid --aux-address "h": expected key=value');
  });

  test('labels alone may go without a value', () => {
    assert.deepEqual(keyValues('--label', ['a', 'b=2'], false), { a: '', b: '2' });
  });
});

describe('flag errors', () => {
  test('an unknown flag is reported as "unknown flag: --bogus" and nothing more', () => {
    usage(() => body('x', '--bogus'), 'unknown flag: --bogus');
    usage(() => body('x', '-z'), 'unknown flag: -z');
  });

  test('an unknown flag error starts by naming the flag', () => {
    usage(() => body('x', '--bogus'), /^unknown flag: --bogus/);
  });

  test('a flag missing its value is a usage error naming the flag', () => {
    usage(() => body('x', '--subnet'), /--subnet/);
  });
});

describe('connect flags', () => {
  test('--ip, --ip6 and --alias become the endpoint config', () => {
    const p = parse(['front', 'web', '--ip', '10.1.0.9', '--ip6', 'fd00::9', '--alias', 'a', '--alias', 'b'], CONNECT_OPTIONS);
    assert.deepEqual(p.positionals, ['front', 'web']);
    assert.deepEqual(endpointConfig(p.values), { IPAMConfig: { IPv4Address: '10.1.0.9', IPv6Address: 'fd00::9' }, Aliases: ['a', 'b'] });
    assert.deepEqual(endpointConfig(parse(['n', 's'], CONNECT_OPTIONS).values), { IPAMConfig: {}, Aliases: [] });
  });
});

describe('sandbox create flags', () => {
  const sb = (...argv: string[]) => sandboxCreateBody(parse(argv, SANDBOX_CREATE_OPTIONS));

  test('-h is --hostname (as in docker run), -P is --publish-all; --help stays help', () => {
    const b = sb(
      '-h',
      'web1',
      '--domainname',
      'example.com',
      '--link',
      'db:data',
      '--link',
      'cache',
      '--add-host',
      'gw:host-gateway',
      '--mac-address',
      '02:42:ac:11:00:02',
      '--expose',
      '80',
      '--expose',
      '53/udp',
      '-P',
      '--ip6',
      'fd00::5',
      '--dns',
      '10.0.0.53',
      'web',
    );
    assert.deepEqual(b, {
      Name: 'web',
      Network: undefined,
      EndpointConfig: { IPAMConfig: { IPv6Address: 'fd00::5' }, Aliases: [], Dns: ['10.0.0.53'] },
      DnsSearch: [],
      DnsOptions: [],
      Hostname: 'web1',
      Domainname: 'example.com',
      Links: ['db:data', 'cache'],
      ExtraHosts: ['gw:host-gateway'],
      MacAddress: '02:42:ac:11:00:02',
      Expose: ['80', '53/udp'],
      PublishAll: true,
    });
    assert.equal(parse(['--help'], SANDBOX_CREATE_OPTIONS).values.help, true);
    assert.equal(parse(['-h'], NETWORK_CREATE_OPTIONS).values.help, true, 'elsewhere -h is still help');
  });

  test('a bare name sends none of the docker run fields', () => {
    assert.deepEqual(Object.keys(sb('web')), ['Name', 'Network', 'EndpointConfig', 'DnsSearch', 'DnsOptions']);
  });
});
