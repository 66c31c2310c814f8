// `netloom system reset` on a host in use: bridges (IPv4 and IPv6), published ports, a local
// overlay network, host- and container-mode sandboxes, next to the host's own links and rules.
// After the reset, ip link, ip netns list, iptables-save and ip6tables-save are as they were
// before the first netloom command. (A Docker-plugin network is not made here: dockerd costs
// this suite tens of seconds; its objects are the same tagged veths and bridge as a CLI one.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestHost, sh, skipUnlessRoot } from '../helpers/host.js';

const CLI = join(process.cwd(), 'bin', 'netloom.mjs');

async function hostState(h: TestHost): Promise<Record<string, string>> {
  const clean = (s: string): string => s.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');
  return {
    links: (await h.inHost('ip', '-o', 'link')).stdout
      .replace(/^\d+: /gm, '')
      .split('\n')
      .map((l) => l.split(' ')[0])
      .sort()
      .join(' '),
    netns: (await sh('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .sort()
      .join(' '),
    iptables: clean((await h.inHost('iptables-save')).stdout),
    ip6tables: clean((await h.inHost('ip6tables-save')).stdout),
    etcNetns: existsSync('/etc/netns') ? readdirSync('/etc/netns').sort().join(' ') : '',
  };
}

describe('system reset (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let before0: Record<string, string>;
  const reset = (...args: string[]) => h.inHost(process.execPath, CLI, '--socket', h.socket, '--data-dir', h.dataDir, 'system', 'reset', ...args);

  before(async () => {
    h = await TestHost.create();
    // A host in use: its own link and rules in every table netloom writes to.
    await h.inHost('ip', 'link', 'add', 'user0', 'type', 'veth', 'peer', 'name', 'user1');
    await h.inHost('iptables', '-w', '-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP');
    await h.inHost('iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j', 'RETURN');
    await h.inHost('ip6tables', '-w', '-A', 'INPUT', '-s', '2001:db8::1', '-j', 'DROP');
    await h.inHost('ip6tables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '2001:db8::/64', '-j', 'RETURN');
    before0 = await hostState(h);
    await h.start();
    await h.ok('network', 'create', '--subnet', '10.91.0.0/24', 'front');
    await h.ok('network', 'create', '--ipv6', '--subnet', '10.92.0.0/24', '--subnet', 'fd00:92::/64', 'dual');
    await h.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.93.0.0/24', 'ov');
    await h.ok('sandbox', 'create', '--network', 'front', '-p', '18081:80', h.sb('web'));
    await h.ok('network', 'connect', 'dual', h.sb('web'));
    await h.ok('sandbox', 'create', '--network', 'ov', h.sb('o'));
    await h.ok('sandbox', 'create', '--network', `container:${h.sb('web')}`, h.sb('side'));
    await h.ok('sandbox', 'create', '--network', 'host', h.sb('hostmode'));
    await h.ok('sandbox', 'create', h.sb('dflt'));
  });
  after(async () => h?.cleanup());

  it('without -f and without a terminal it refuses in one line and changes nothing', async () => {
    const mid = await hostState(h);
    const r = await reset();
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stderr.trim(),
      /^system reset would remove every network, sandbox, link and iptables chain netloom made on this host, its sockets and .*: add -f to do it/,
    );
    assert.ok(!r.stderr.trim().includes('\n'));
    assert.deepEqual(await hostState(h), mid);
    assert.equal((await h.cli('network', 'ls', '-q')).exitCode, 0, 'the daemon still runs');
  });

  it('with -f it stops netloomd and leaves ip link, ip netns list, iptables-save and ip6tables-save as before the first netloom command', async () => {
    assert.notDeepEqual(await hostState(h), before0, 'netloom made things');
    const r = await reset('-f');
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /netloomd: pid \d+ stopped/);
    await h.waitExit();
    assert.deepEqual(await hostState(h), before0);
    assert.ok(!existsSync(h.dataDir), 'the data dir is gone');
    assert.ok(!existsSync(h.socket) && !existsSync(h.pluginSocket), 'the sockets are gone');
    const again = await reset('-f');
    assert.equal(again.exitCode, 0, 'a second reset finds nothing and succeeds');
    assert.match(again.stdout, /none was running/);
  });

  it('after a kill -9 (no daemon to ask) it finds everything from the records and the tags alone', async () => {
    await h.start();
    await h.ok('network', 'create', '--subnet', '10.94.0.0/24', 'back');
    await h.ok('sandbox', 'create', '--network', 'back', '-p', '18082:80', h.sb('k1'));
    await h.ok('sandbox', 'create', '--network', `container:${h.sb('k1')}`, h.sb('k2'));
    await h.stop('SIGKILL');
    const r = await reset('-f');
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /none was running/);
    assert.match(r.stdout, /removed: 2 namespace\(s\), 2 \/etc\/netns entr\(ies\), [1-9]\d* link\(s\), [1-9]\d* iptables chain\(s\), 2 socket\(s\)/);
    assert.deepEqual(await hostState(h), before0);
  });
});
