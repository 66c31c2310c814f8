// daemon/config.ts: netloomd's flags and daemon.json, merged and checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { daemonSettings, mergeConfig, parseConfigFile } from '../../daemon/config.js';

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NetloomError && e.code === 'NL_BAD_DAEMON_CONFIG', String(e));
    assert.match(e.message, message);
    return true;
  });
}

const F = '/etc/netloom/daemon.json';

describe('daemon settings', () => {
  test("defaults are Docker's: ICC, masquerading, forwarding and iptables on, no pools of its own", () => {
    assert.deepEqual(daemonSettings({}), {
      defaultBridge: { icc: true, ipMasq: true },
      ipForward: true,
      iptables: true,
      dns: [],
      dnsSearch: [],
      dnsOptions: [],
      defaultPools: [],
    });
  });

  test('flags in their text form become typed settings', () => {
    const s = daemonSettings({
      bip: '10.99.0.1/24',
      bridge: 'br0',
      'fixed-cidr': '10.99.0.130/25',
      'default-gateway': '10.99.0.254',
      mtu: '1400',
      icc: 'false',
      'ip-masq': 'FALSE',
      'ip-forward': '0',
      iptables: 'true',
      dns: ['10.0.0.53'],
      'dns-search': ['corp.example'],
      'default-address-pools': ['base=10.10.0.0/16,size=24', 'size=64,base=fd00:10::/48'],
    });
    assert.deepEqual(s.defaultBridge, {
      bip: '10.99.0.1/24',
      bridge: 'br0',
      fixedCidr: '10.99.0.128/25',
      defaultGateway: '10.99.0.254',
      mtu: 1400,
      icc: false,
      ipMasq: false,
    });
    assert.equal(s.ipForward, false);
    assert.deepEqual(s.defaultPools, [
      { base: '10.10.0.0/16', size: 24 },
      { base: 'fd00:10::/48', size: 64 },
    ]);
  });

  test('bad values are named with what would be valid', () => {
    rejects(() => daemonSettings({ bip: '10.0.0.0/33' }), /invalid --bip "10\.0\.0\.0\/33"/);
    rejects(() => daemonSettings({ bip: '10.0.0.0/24' }), /--bip "10\.0\.0\.0\/24".*address/);
    rejects(() => daemonSettings({ bip: '10.0.0.1/31' }), /up to \/30/);
    rejects(() => daemonSettings({ bip: 'fd00::1/64' }), /IPv4/);
    rejects(() => daemonSettings({ bridge: 'a-very-long-bridge-name' }), /--bridge "a-very-long-bridge-name"/);
    rejects(
      () => daemonSettings({ bip: '10.1.0.1/24', 'fixed-cidr': '10.2.0.0/25' }),
      /--fixed-cidr "10\.2\.0\.0\/25": it is not inside the --bip subnet 10\.1\.0\.0\/24/,
    );
    rejects(() => daemonSettings({ bip: '10.1.0.1/24', 'default-gateway': '10.2.0.1' }), /--default-gateway "10\.2\.0\.1"/);
    rejects(() => daemonSettings({ mtu: '9' }), /--mtu "9": expected an integer from 68 to 65535/);
    rejects(() => daemonSettings({ icc: 'maybe' }), /--icc "maybe": expected true or false/);
    rejects(() => daemonSettings({ 'default-address-pools': ['10.0.0.0/8'] }), /--default-address-pool "10\.0\.0\.0\/8": expected base=CIDR,size=PREFIX/);
    rejects(() => daemonSettings({ bridge: 'none', bip: '10.1.0.1/24' }), /--bridge none conflict/);
    rejects(() => daemonSettings({ dns: ['resolver'] }), /--dns "resolver"/);
    rejects(() => daemonSettings({ 'dns-opts': ['Bad Option'] }), /--dns-opt "Bad Option"/);
  });

  test("daemon.json: keys are the flag names; values come out in the flags' text form", () => {
    const v = parseConfigFile(
      JSON.stringify({ bip: '10.99.0.1/24', mtu: 1400, icc: false, dns: ['10.0.0.53'], 'default-address-pools': [{ base: '10.10.0.0/16', size: 24 }] }),
      F,
    );
    assert.deepEqual(v, { bip: '10.99.0.1/24', mtu: '1400', icc: 'false', dns: ['10.0.0.53'], 'default-address-pools': ['base=10.10.0.0/16,size=24'] });
    assert.deepEqual(
      daemonSettings(v),
      daemonSettings({ bip: '10.99.0.1/24', mtu: '1400', icc: 'false', dns: ['10.0.0.53'], 'default-address-pools': ['base=10.10.0.0/16,size=24'] }),
    );
  });

  test('daemon.json: an unknown key, a wrong type or no JSON is named', () => {
    rejects(() => parseConfigFile('{"colour": "red"}', F), /unknown key "colour" in config file \/etc\/netloom\/daemon\.json: valid keys are bip, bridge/);
    rejects(() => parseConfigFile('{"icc": "no"}', F), /invalid "icc" in config file .*: expected true or false/);
    rejects(() => parseConfigFile('{"default-address-pools": [{"base": "10.0.0.0/8"}]}', F), /\{"base":"10\.0\.0\.0\/8"\}/);
    rejects(() => parseConfigFile('[1]', F), /expected a JSON object/);
    rejects(() => parseConfigFile('{bip', F), /not JSON/);
  });

  test('a flag and the file: agreeing is fine, disagreeing names both', () => {
    const file = parseConfigFile('{"mtu": 1400, "icc": false}', F);
    assert.deepEqual(mergeConfig({ mtu: '1400', bip: '10.1.0.1/24' }, file, F), { mtu: '1400', icc: 'false', bip: '10.1.0.1/24' });
    rejects(() => mergeConfig({ 'dns-opts': ['ndots:1'] }, parseConfigFile('{"dns-opts": ["ndots:2"]}', F), F), /--dns-opt ndots:1 disagrees with "dns-opts"/);
    rejects(() => mergeConfig({ mtu: '1500' }, file, F), /--mtu 1500 disagrees with "mtu": "1400" in config file \/etc\/netloom\/daemon\.json/);
    rejects(
      () => mergeConfig({ 'default-address-pools': ['base=10.1.0.0/16,size=24'] }, parseConfigFile('{"default-address-pools": []}', F), F),
      /--default-address-pool base=10\.1\.0\.0\/16,size=24 disagrees/,
    );
  });
});
