// daemon/wire.ts: request bodies are type-checked field by field, and every rejection names the
// field (a 400 the client can act on, never a crash deeper down).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { parseConnect, parseCreateNetwork, parseCreateSandbox, parseDisconnect } from '../../daemon/wire.js';

function rejects(fn: () => unknown, message: string, code = 'NL_BAD_REQUEST'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NetloomError, String(e));
    assert.equal(e.kind, 'invalid');
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

describe('wire: network create', () => {
  test('a full Docker body becomes a CreateNetworkRequest', () => {
    const r = parseCreateNetwork({
      Name: 'front',
      Driver: 'bridge',
      Internal: true,
      Attachable: false,
      EnableIPv6: true,
      EnableIPv4: true,
      IPAM: {
        Driver: 'default',
        Options: { a: 'b' },
        Config: [{ Subnet: '10.1.0.0/24', IPRange: '10.1.0.0/25', Gateway: '10.1.0.1', AuxiliaryAddresses: { r: '10.1.0.5' } }],
      },
      Options: { 'com.docker.network.driver.mtu': '1400' },
      Labels: { team: 'web' },
      CheckDuplicate: true,
      Scope: 'local',
    });
    assert.deepEqual(r, {
      name: 'front',
      driver: 'bridge',
      internal: true,
      attachable: false,
      enableIPv6: true,
      ipamDriver: 'default',
      ipamOptions: { a: 'b' },
      ipam: [{ subnet: '10.1.0.0/24', ipRange: '10.1.0.0/25', gateway: '10.1.0.1', auxAddresses: { r: '10.1.0.5' } }],
      options: { 'com.docker.network.driver.mtu': '1400' },
      labels: { team: 'web' },
      scope: 'local',
    });
    const cfg = parseCreateNetwork({ Name: 'c', ConfigOnly: true, ConfigFrom: null });
    assert.equal(cfg.configOnly, true);
    assert.equal(parseCreateNetwork({ Name: 'f', ConfigOnly: false, ConfigFrom: { Network: 'c' } }).configFrom, 'c');
    rejects(() => parseCreateNetwork({ Name: 'f', ConfigFrom: 'c' }), 'field ConfigFrom must be an object');
  });

  test('null, missing and empty-string fields mean "not given"', () => {
    const r = parseCreateNetwork({ Name: 'n', Driver: '', Internal: null, IPAM: null, Options: null, Labels: undefined });
    assert.deepEqual(r, {
      name: 'n',
      driver: undefined,
      internal: undefined,
      attachable: undefined,
      enableIPv6: undefined,
      ipamDriver: undefined,
      ipamOptions: undefined,
      ipam: [],
      options: undefined,
      labels: undefined,
    });
  });

  test('a wrong type is rejected naming the field, down to list indexes and map keys', () => {
    rejects(() => parseCreateNetwork([]), 'field body must be an object');
    rejects(() => parseCreateNetwork('front'), 'field body must be an object');
    rejects(() => parseCreateNetwork({ Name: 5 }), 'field Name must be a string');
    rejects(() => parseCreateNetwork({ Name: 'n', Driver: ['bridge'] }), 'field Driver must be a string');
    rejects(() => parseCreateNetwork({ Name: 'n', Internal: 'yes' }), 'field Internal must be true or false');
    rejects(() => parseCreateNetwork({ Name: 'n', EnableIPv6: 1 }), 'field EnableIPv6 must be true or false');
    rejects(() => parseCreateNetwork({ Name: 'n', IPAM: 'default' }), 'field IPAM must be an object');
    rejects(() => parseCreateNetwork({ Name: 'n', IPAM: { Config: {} } }), 'field IPAM.Config must be a list');
    rejects(() => parseCreateNetwork({ Name: 'n', IPAM: { Config: [{}, 7] } }), 'field IPAM.Config[1] must be an object');
    rejects(() => parseCreateNetwork({ Name: 'n', IPAM: { Config: [{ Subnet: 10 }] } }), 'field IPAM.Config[0].Subnet must be a string');
    const aux = { Name: 'n', IPAM: { Config: [{ AuxiliaryAddresses: { r: 1 } }] } };
    rejects(() => parseCreateNetwork(aux), 'field IPAM.Config[0].AuxiliaryAddresses.r must be a string');
    rejects(() => parseCreateNetwork({ Name: 'n', IPAM: { Options: { k: true } } }), 'field IPAM.Options.k must be a string');
    const mtu = { Name: 'n', Options: { 'com.docker.network.driver.mtu': 1500 } };
    rejects(() => parseCreateNetwork(mtu), 'field Options.com.docker.network.driver.mtu must be a string');
    rejects(() => parseCreateNetwork({ Name: 'n', Labels: ['a'] }), 'field Labels must be an object');
  });

  test('a network needs a name, and IPv4 cannot be turned off', () => {
    rejects(() => parseCreateNetwork({}), 'invalid name: a network needs a name', 'NL_BAD_NAME');
    rejects(() => parseCreateNetwork(undefined), 'invalid name: a network needs a name', 'NL_BAD_NAME');
    rejects(() => parseCreateNetwork({ Name: 'n', EnableIPv4: false }), 'EnableIPv4=false is not supported: every network has IPv4');
  });
});

describe('wire: connect, disconnect, sandbox create', () => {
  test('connect reads the container and its endpoint config', () => {
    assert.deepEqual(parseConnect({ Container: 'web', EndpointConfig: { IPAMConfig: { IPv4Address: '10.1.0.9', IPv6Address: '' }, Aliases: ['www'] } }), {
      container: 'web',
      req: { ipv4Address: '10.1.0.9', ipv6Address: undefined, aliases: ['www'] },
    });
    assert.deepEqual(parseDisconnect({ Container: 'web', Force: true }), { container: 'web', force: true });
    assert.deepEqual(parseDisconnect({ Container: 'web' }), { container: 'web', force: false });
  });

  test('a wrong type is rejected naming the field', () => {
    rejects(() => parseConnect({}), 'field Container must name a sandbox');
    rejects(() => parseConnect({ Container: 1 }), 'field Container must be a string');
    rejects(() => parseConnect({ Container: 'w', EndpointConfig: [] }), 'field EndpointConfig must be an object');
    rejects(() => parseConnect({ Container: 'w', EndpointConfig: { IPAMConfig: 'x' } }), 'field EndpointConfig.IPAMConfig must be an object');
    const ip = { Container: 'w', EndpointConfig: { IPAMConfig: { IPv4Address: 1 } } };
    rejects(() => parseConnect(ip), 'field EndpointConfig.IPAMConfig.IPv4Address must be a string');
    rejects(() => parseConnect({ Container: 'w', EndpointConfig: { Aliases: 'www' } }), 'field EndpointConfig.Aliases must be a list of strings');
    rejects(() => parseConnect({ Container: 'w', EndpointConfig: { Aliases: ['a', 2] } }), 'field EndpointConfig.Aliases must be a list of strings');
    rejects(() => parseDisconnect({ Container: 'w', Force: 'yes' }), 'field Force must be true or false');
    rejects(() => parseDisconnect(null), 'field Container must name a sandbox');
  });

  test('sandbox create takes a name, a network and an endpoint config', () => {
    assert.deepEqual(parseCreateSandbox({ Name: 'db', Network: 'front', EndpointConfig: { Aliases: ['d'] } }), {
      name: 'db',
      network: 'front',
      ipv4Address: undefined,
      ipv6Address: undefined,
      aliases: ['d'],
    });
    rejects(() => parseCreateSandbox({ Network: 'front' }), 'invalid name: a sandbox needs a name', 'NL_BAD_NAME');
    rejects(() => parseCreateSandbox({ Name: 'db', Network: 3 }), 'field Network must be a string');
  });

  test("sandbox create takes the docker run fields at the top level; a top-level Dns adds to the endpoint's", () => {
    const r = parseCreateSandbox({
      Name: 'web',
      Hostname: 'web1',
      Domainname: 'example.com',
      Links: ['db:data'],
      ExtraHosts: ['gw:host-gateway'],
      Dns: ['10.0.0.53'],
      DnsSearch: ['corp'],
      DnsOptions: ['ndots:2'],
      MacAddress: '02:42:ac:11:00:02',
      Expose: ['80', '53/udp'],
      PublishAll: true,
      EndpointConfig: { Dns: ['10.0.0.54'], IPAMConfig: { IPv6Address: 'fd00::5' } },
    });
    assert.deepEqual(r, {
      name: 'web',
      network: undefined,
      ipv4Address: undefined,
      ipv6Address: 'fd00::5',
      aliases: undefined,
      dns: ['10.0.0.54', '10.0.0.53'],
      dnsSearch: ['corp'],
      dnsOptions: ['ndots:2'],
      hostname: 'web1',
      domainname: 'example.com',
      links: ['db:data'],
      extraHosts: ['gw:host-gateway'],
      macAddress: '02:42:ac:11:00:02',
      expose: ['80', '53/udp'],
      publishAll: true,
    });
    rejects(() => parseCreateSandbox({ Name: 'w', Links: 'db' }), 'field Links must be a list of strings');
    rejects(() => parseCreateSandbox({ Name: 'w', PublishAll: 'yes' }), 'field PublishAll must be true or false');
  });
});
