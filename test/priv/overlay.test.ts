// Overlay networks across three hosts: each host a namespace with its own netloomd (own socket
// and data dir), joined by an underlay bridge in a fourth namespace that also runs a real etcd
// (Debian's etcd-server). Only addresses inside these namespaces are used.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestHost, sh, skipUnlessRoot } from '../helpers/host.js';

const skip = skipUnlessRoot || (existsSync('/usr/bin/etcd') ? false : 'needs etcd-server (scripts/setup.sh installs it)');
const ETCD = '10.99.0.1';

/** A test host whose eth0 is a port of the underlay namespace's bridge "ubr". */
async function hostOnUnderlay(underlay: string, i: number, address: string): Promise<TestHost> {
  const h = await TestHost.create();
  await sh('ip', ['-n', underlay, 'link', 'add', `u${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
  await sh('ip', ['-n', underlay, 'link', 'set', `u${i}`, 'master', 'ubr', 'up']);
  await sh('ip', ['-n', h.ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await sh('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
  return h;
}
const TTL = 3;

describe('overlay across three hosts with etcd (root, fresh namespaces)', { skip }, () => {
  const id = randomBytes(3).toString('hex');
  const underlay = `nlt-u${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'netloom-overlay-'));
  let etcd: ChildProcess | undefined;
  const hosts: TestHost[] = [];
  const addr = (i: number): string => `10.99.0.${11 + i}`;
  const names: string[] = [];

  const startEtcd = async (): Promise<void> => {
    etcd = spawn(
      'ip',
      [
        'netns',
        'exec',
        underlay,
        'etcd',
        '--data-dir',
        join(dir, 'etcd'),
        '--listen-client-urls',
        `http://${ETCD}:2379`,
        '--advertise-client-urls',
        `http://${ETCD}:2379`,
        '--listen-peer-urls',
        'http://127.0.0.1:2380',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      const r = await sh('ip', ['netns', 'exec', underlay, 'etcdctl', '--endpoints', `http://${ETCD}:2379`, 'endpoint', 'health']);
      if (r.exitCode === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('etcd did not start');
  };
  const stopEtcd = async (): Promise<void> => {
    const e = etcd;
    if (!e || e.exitCode !== null) return;
    const gone = new Promise((r) => e.once('exit', r));
    e.kill('SIGTERM');
    await gone;
  };
  const clusterArgs = (i: number): string[] => [
    '--cluster-store',
    `etcd://${ETCD}:2379`,
    '--advertise-addr',
    addr(i),
    '--node-name',
    `host${i + 1}`,
    '--cluster-ttl',
    String(TTL),
  ];
  const fdb = async (h: TestHost): Promise<string> => (await h.inHost('bridge', 'fdb', 'show')).stdout + (await h.inHost('ip', 'neigh', 'show')).stdout;
  const eventually = async (fn: () => Promise<boolean>, ms: number): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) if (await fn()) return true;
    return fn();
  };
  const ipOf = async (h: TestHost, sb: string): Promise<string> => {
    const out = (await h.inSandbox(sb, 'ip', '-4', '-o', 'addr', 'show', 'eth0')).stdout;
    return /inet (\S+)\//.exec(out)?.[1] ?? '';
  };

  before(async () => {
    await sh('ip', ['netns', 'add', underlay]);
    await sh('ip', ['-n', underlay, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', underlay, 'link', 'add', 'ubr', 'type', 'bridge']);
    await sh('ip', ['-n', underlay, 'addr', 'add', `${ETCD}/24`, 'dev', 'ubr']);
    await sh('ip', ['-n', underlay, 'link', 'set', 'ubr', 'up']);
    await startEtcd();
    for (let i = 0; i < 3; i++) {
      const h = await hostOnUnderlay(underlay, i, addr(i));
      h.daemonArgs = clusterArgs(i);
      await h.start();
      hosts.push(h);
    }
  });
  after(async () => {
    for (const h of hosts) await h.cleanup();
    await stopEtcd();
    await sh('ip', ['netns', 'del', underlay]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a network created on one host exists on all; sandboxes on host 1 and host 3 ping by address and by name, at full MTU with DF', async () => {
    const [h1, h2, h3] = hosts;
    await h1.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.60.0.0/24', 'ov1');
    assert.ok(await eventually(async () => (await h3.cli('network', 'inspect', 'ov1')).exitCode === 0, 5000), 'ov1 reaches host 3');
    const [web, api, db] = [h1.sb('web'), h3.sb('api'), h2.sb('db')];
    names.push(web, api, db);
    await h1.ok('sandbox', 'create', '--network', 'ov1', web);
    await h3.ok('sandbox', 'create', '--network', 'ov1', api);
    await h2.ok('sandbox', 'create', '--network', 'ov1', db);
    const webIp = await ipOf(h1, web);
    assert.ok(await eventually(async () => (await h3.inSandbox(api, 'ping', '-c1', '-W1', webIp)).exitCode === 0, 5000), 'api pings web by address');
    const byName = await h3.inSandbox(api, 'ping', '-c1', '-W2', web);
    assert.equal(byName.exitCode, 0, byName.stdout + byName.stderr);
    const mtu = Number(/mtu (\d+)/.exec((await h3.inSandbox(api, 'ip', 'link', 'show', 'eth0')).stdout)?.[1]);
    assert.equal(mtu, 1450, 'underlay 1500 minus 50');
    const df = await h3.inSandbox(api, 'ping', '-M', 'do', '-s', String(mtu - 28), '-c1', '-W2', webIp);
    assert.equal(df.exitCode, 0, df.stdout + df.stderr);
    const v = (await h1.inspect('ov1')) as unknown as { Peers: { Name: string }[]; RemoteEndpoints: Record<string, { Name: string; Host: string }> };
    assert.deepEqual(v.Peers.map((p) => p.Name).sort(), ['host1', 'host2', 'host3']);
    assert.deepEqual(
      Object.values(v.RemoteEndpoints)
        .map((e) => `${e.Name}@${e.Host}`)
        .sort(),
      [`${api}@host3`, `${db}@host2`].sort(),
    );
  });

  it('the VXLAN device has no multicast group and no all-zero FDB entry; learning off, ARP proxy on', async () => {
    for (const h of hosts) {
      const link = (await h.inHost('ip', '-d', 'link', 'show', 'type', 'vxlan')).stdout;
      const vx = /^\s*vxlan id .*$/m.exec(link)?.[0] ?? '';
      assert.match(vx, /vxlan id \d+ local 10\.99\.0\.\d+ .*dstport 4789 nolearning proxy/);
      assert.doesNotMatch(vx, /group|remote/, 'no multicast group, no default remote: nothing floods');
      assert.doesNotMatch((await h.inHost('bridge', 'fdb', 'show')).stdout, /^00:00:00:00:00:00/m);
    }
  });

  it("kill -9 of host 2's daemon: its endpoint leaves the others' FDB, neighbours and DNS within the lease; back after a restart", async () => {
    const [h1, h2, h3] = hosts;
    const db = names[2];
    const dbIp = await ipOf(h2, db);
    assert.match(await fdb(h1), new RegExp(`${dbIp.replace(/\./g, '\\.')} dev nlx`));
    await h2.stop('SIGKILL');
    const gone = await eventually(async () => !(await fdb(h1)).includes(`${dbIp} `) && !(await fdb(h3)).includes(`${dbIp} `), (TTL + 4) * 1000);
    assert.ok(gone, 'forgotten within the TTL (plus the watch delay)');
    assert.notEqual((await h3.inSandbox(names[1], 'ping', '-c1', '-W1', db)).exitCode, 0, 'its name is gone too');
    await h2.start();
    assert.ok(await eventually(async () => (await fdb(h3)).includes(`${dbIp} `), 8000), 'back after the restart');
    assert.ok(await eventually(async () => (await h3.inSandbox(names[1], 'ping', '-c1', '-W1', db)).exitCode === 0, 5000));
  });

  it('concurrent connects on three hosts never hand out one address twice', async () => {
    const made: [TestHost, string][] = [];
    await Promise.all(
      hosts.map(async (h, i) => {
        for (let k = 0; k < 4; k++) {
          const sb = h.sb(`c${i}${k}`);
          await h.ok('sandbox', 'create', '--network', 'ov1', sb);
          made.push([h, sb]);
        }
      }),
    );
    const ips = await Promise.all(made.map(([h, sb]) => ipOf(h, sb)));
    assert.equal(new Set(ips).size, ips.length, ips.join(' '));
    for (const [h, sb] of made) await h.ok('sandbox', 'rm', sb);
  });

  it('bad input: a clear line naming the value, nothing half-created', async () => {
    const [h1] = hosts;
    const vni = /vxlan id (\d+)/.exec((await h1.inHost('ip', '-d', 'link', 'show', 'type', 'vxlan')).stdout)?.[1];
    const dup = await h1.cli(
      'network',
      'create',
      '--driver',
      'overlay',
      '--subnet',
      '10.61.0.0/24',
      '-o',
      `com.docker.network.driver.overlay.vxlanid_list=${vni}`,
      'ov2',
    );
    assert.match(dup.stderr, new RegExp(`VNI ${vni} is already used by overlay network "ov1"`));
    assert.match((await h1.cli('network', 'create', '--driver', 'overlay', '--subnet', '10.60.0.128/25', 'ov3')).stderr, /overlaps (overlay )?network "ov1"/);
    await h1.ok('network', 'create', '--subnet', '10.62.0.0/24', 'local1');
    assert.match((await h1.cli('network', 'create', '--driver', 'overlay', '--subnet', '10.62.0.0/25', 'ov4')).stderr, /overlaps network "local1"/);
    await h1.ok('network', 'rm', 'local1');
    assert.match((await h1.cli('network', 'create', '--driver', 'overlay', 'ov5')).stderr, /needs --subnet/);
    for (const n of ['ov2', 'ov3', 'ov4', 'ov5']) assert.notEqual((await h1.cli('network', 'inspect', n)).exitCode, 0, n);
    const daemon = async (args: string[]) =>
      sh('ip', [
        'netns',
        'exec',
        h1.ns,
        process.execPath,
        'bin/netloomd.mjs',
        '--socket',
        join(dir, 'x.sock'),
        '--data-dir',
        join(dir, 'x'),
        '--no-plugin',
        '--no-dns',
        ...args,
      ]);
    assert.match(
      (await daemon(['--cluster-store', 'http://10.99.0.1:2379', '--advertise-addr', addr(0)])).stderr,
      /invalid --cluster-store "http:\/\/10\.99\.0\.1:2379": expected etcd:\/\//,
    );
    assert.match(
      (await daemon(['--cluster-store', `etcd://${ETCD}:2399`, '--advertise-addr', addr(0)])).stderr,
      /cluster store etcd:\/\/10\.99\.0\.1:2399 is unreachable/,
    );
    assert.match(
      (await daemon(['--cluster-store', `etcd://${ETCD}:2379`, '--advertise-addr', '10.99.0.99'])).stderr,
      /--advertise-addr 10\.99\.0\.99 is not an address of this host/,
    );
  });

  it('etcd down: programmed traffic keeps flowing, new operations fail clearly; back up, every host resyncs', async () => {
    const [h1, h2, h3] = hosts;
    const [web, api] = names;
    const webIp = await ipOf(h1, web);
    await stopEtcd();
    assert.equal((await h3.inSandbox(api, 'ping', '-c1', '-W2', webIp)).exitCode, 0, 'the data path needs no etcd');
    const r = await h1.cli('sandbox', 'create', '--network', 'ov1', h1.sb('late'));
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /cluster store etcd:\/\/10\.99\.0\.1:2379 is unreachable/);
    await startEtcd();
    await h2.ok('sandbox', 'create', '--network', 'ov1', h2.sb('after'));
    const ip = await ipOf(h2, h2.sb('after'));
    assert.ok(
      await eventually(async () => (await fdb(h1)).includes(`${ip} `) && (await fdb(h3)).includes(`${ip} `), 10_000),
      'a new endpoint reaches every host after the outage',
    );
    await h2.ok('sandbox', 'rm', h2.sb('after'));
  });

  it("two hosts sharing a hostname, started without --node-name, are told apart by node ID: ping and names work; a live host's ID or address claimed again is refused naming it", async () => {
    const [h1, h2] = hosts;
    for (const [i, h] of [h1, h2].entries()) {
      await h.stop();
      h.daemonArgs = clusterArgs(i).filter((a, k, all) => a !== '--node-name' && all[k - 1] !== '--node-name');
      await h.start();
    }
    await h1.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.63.0.0/24', 'ov9');
    const [x, y] = [h1.sb('x'), h2.sb('y')];
    assert.ok(await eventually(async () => (await h2.cli('network', 'inspect', 'ov9')).exitCode === 0, 5000));
    await h1.ok('sandbox', 'create', '--network', 'ov9', x);
    await h2.ok('sandbox', 'create', '--network', 'ov9', y);
    const xIp = await ipOf(h1, x);
    assert.ok(await eventually(async () => (await h2.inSandbox(y, 'ping', '-c1', '-W1', xIp)).exitCode === 0, 5000), 'y pings x by address');
    const byName = await h2.inSandbox(y, 'ping', '-c1', '-W2', x);
    assert.equal(byName.exitCode, 0, byName.stdout + byName.stderr);
    const v = (await h1.inspect('ov9')) as unknown as { Peers: { Name: string; IP: string; ID: string }[] };
    const peers = v.Peers.filter((p) => p.IP === addr(0) || p.IP === addr(1));
    assert.equal(peers.length, 2);
    assert.deepEqual(
      peers.map((p) => p.Name),
      [hostname(), hostname()],
      'both show the shared hostname',
    );
    assert.notEqual(peers[0].ID, peers[1].ID);
    for (const p of peers) assert.match(p.ID, /^[0-9a-f]{16}$/);

    // A copy of host 1's data dir on another address: same node ID, refused naming host 1.
    const clone = await hostOnUnderlay(underlay, 3, '10.99.0.20');
    const thief = await hostOnUnderlay(underlay, 4, '10.99.0.21');
    try {
      await sh('cp', ['-a', h1.dataDir, clone.dataDir]);
      const base = ['--cluster-store', `etcd://${ETCD}:2379`, '--cluster-ttl', String(TTL), '--no-plugin'];
      const r = await clone.startRefused([...base, '--advertise-addr', '10.99.0.20']);
      assert.notEqual(r.exitCode, 0);
      assert.match(
        r.stderr.trim(),
        new RegExp(`^netloomd: node id ${peers.find((p) => p.IP === addr(0))?.ID} is already claimed by live host "${hostname()}" \\(${addr(0)}\\)`),
      );
      // Host 1's advertise address on another host (on a veth of its own, ARP kept to that link).
      await thief.inHost('sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1');
      await thief.inHost('ip', 'link', 'add', 'dup0', 'type', 'veth', 'peer', 'name', 'dup1');
      await thief.inHost('ip', 'addr', 'add', `${addr(0)}/32`, 'dev', 'dup0');
      await thief.inHost('ip', 'link', 'set', 'dup0', 'up');
      const t = await thief.startRefused([...base, '--advertise-addr', addr(0)]);
      assert.notEqual(t.exitCode, 0);
      assert.match(
        t.stderr.trim(),
        new RegExp(`^netloomd: advertise address ${addr(0).replace(/\./g, '\\.')} is already claimed by live host "${hostname()}" \\(node id [0-9a-f]{16}\\)`),
      );
      assert.equal((await h2.inSandbox(y, 'ping', '-c1', '-W2', xIp)).exitCode, 0, 'the real host 1 is unharmed');
    } finally {
      await clone.cleanup();
      await thief.cleanup();
    }
    await h1.ok('sandbox', 'rm', x);
    await h2.ok('sandbox', 'rm', y);
    await h1.ok('network', 'rm', 'ov9');
  });

  it('with FORWARD policy DROP on every host (as Docker leaves it), overlay traffic passes; a flushed overlay rule heals', async () => {
    const [h1, , h3] = hosts;
    for (const h of hosts) await h.inHost('iptables', '-w', '-P', 'FORWARD', 'DROP');
    try {
      await h1.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.64.0.0/24', 'ovd');
      assert.ok(await eventually(async () => (await h3.cli('network', 'inspect', 'ovd')).exitCode === 0, 5000));
      const [p, q] = [h1.sb('p'), h3.sb('q')];
      await h1.ok('sandbox', 'create', '--network', 'ovd', p);
      await h3.ok('sandbox', 'create', '--network', 'ovd', q);
      const pIp = await ipOf(h1, p);
      assert.ok(
        await eventually(async () => (await h3.inSandbox(q, 'ping', '-c1', '-W1', pIp)).exitCode === 0, 5000),
        'q pings p through two DROP FORWARD chains',
      );
      const br = /-i (nlo-\S+) /.exec((await h3.inHost('iptables', '-w', '-S', 'NETLOOM-OVERLAY')).stdout)?.[1];
      assert.ok(br, "h3 accepts its overlay bridge's traffic in NETLOOM-OVERLAY");
      await h3.inHost('iptables', '-w', '-F', 'NETLOOM-OVERLAY');
      const healed = await eventually(
        async () => (await h3.inHost('iptables', '-w', '-S', 'NETLOOM-OVERLAY')).stdout.includes(`-A NETLOOM-OVERLAY -i ${br} -o ${br} -j ACCEPT`),
        8000,
      );
      assert.ok(healed, 'the firewall guard restores the flushed rule');
      assert.equal((await h3.inSandbox(q, 'ping', '-c1', '-W2', pIp)).exitCode, 0);
      const d = await h3.cli('doctor');
      assert.equal(d.exitCode, 0, d.stdout);
      await h1.ok('sandbox', 'rm', p);
      await h3.ok('sandbox', 'rm', q);
      await h1.ok('network', 'rm', 'ovd');
    } finally {
      for (const h of hosts) await h.inHost('iptables', '-w', '-P', 'FORWARD', 'ACCEPT');
    }
  });

  it('after teardown no vxlan, bridge or FDB entry is left on any host', async () => {
    const [h1, h2, h3] = hosts;
    await h1.ok('sandbox', 'rm', names[0]);
    await h3.ok('sandbox', 'rm', names[1]);
    await h2.ok('sandbox', 'rm', names[2]);
    await h1.ok('network', 'rm', 'ov1');
    for (const h of hosts) {
      assert.ok(await eventually(async () => !(await h.inHost('ip', 'link')).stdout.match(/nl[ox]-/), 5000), `host ${h.ns} has no overlay link left`);
      assert.doesNotMatch(await fdb(h), /nlx-/);
    }
  });
});

describe('overlay with a three-member etcd cluster, one member per host, one member killed', { skip }, () => {
  const id = randomBytes(3).toString('hex');
  const underlay = `nlt-u${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'netloom-etcd3-'));
  const hosts: TestHost[] = [];
  const members: ChildProcess[] = [];
  const addr = (i: number): string => `10.98.0.${11 + i}`;
  const cluster = [0, 1, 2].map((i) => `m${i}=http://${addr(i)}:2380`).join(',');

  before(async () => {
    await sh('ip', ['netns', 'add', underlay]);
    await sh('ip', ['-n', underlay, 'link', 'add', 'ubr', 'type', 'bridge']);
    await sh('ip', ['-n', underlay, 'link', 'set', 'ubr', 'up']);
    for (let i = 0; i < 3; i++) {
      const h = await hostOnUnderlay(underlay, i, addr(i));
      members.push(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            h.ns,
            'etcd',
            '--name',
            `m${i}`,
            '--data-dir',
            join(dir, `m${i}`),
            '--listen-client-urls',
            `http://${addr(i)}:2379`,
            '--advertise-client-urls',
            `http://${addr(i)}:2379`,
            '--listen-peer-urls',
            `http://${addr(i)}:2380`,
            '--initial-advertise-peer-urls',
            `http://${addr(i)}:2380`,
            '--initial-cluster',
            cluster,
            '--initial-cluster-state',
            'new',
            '--initial-cluster-token',
            `nlt-${id}`,
          ],
          { stdio: 'ignore' },
        ),
      );
      hosts.push(h);
    }
    const store = `etcd://${[0, 1, 2].map((i) => `${addr(i)}:2379`).join(',')}`;
    for (let k = 0; k < 150; k++) {
      const r = await hosts[0].inHost('etcdctl', '--endpoints', `http://${addr(0)}:2379`, 'endpoint', 'health');
      if (r.exitCode === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    for (const [i, h] of hosts.entries()) {
      h.daemonArgs = ['--cluster-store', store, '--advertise-addr', addr(i), '--node-name', `host${i + 1}`, '--cluster-ttl', '3'];
      await h.start();
    }
  });
  after(async () => {
    for (const h of hosts) await h.cleanup();
    for (const m of members) m.kill('SIGKILL');
    await sh('ip', ['netns', 'del', underlay]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('with one member dead, every host still defines, connects and reaches the others', async () => {
    const [h1, h2, h3] = hosts;
    await h1.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.65.0.0/24', 'ovq');
    // Kill the member on host 2 (quorum stays 2 of 3); host 2's daemon must fail over.
    const dead = members[1];
    const gone = new Promise((r) => dead.once('exit', r));
    dead.kill('SIGKILL');
    await gone;
    const [a, b] = [h2.sb('a'), h3.sb('b')];
    await h2.ok('sandbox', 'create', '--network', 'ovq', a);
    await h3.ok('sandbox', 'create', '--network', 'ovq', b);
    let ok = false;
    for (let k = 0; k < 40 && !ok; k++, await new Promise((r) => setTimeout(r, 200))) ok = (await h3.inSandbox(b, 'ping', '-c1', '-W1', a)).exitCode === 0;
    assert.ok(ok, 'b on host 3 reaches a on host 2 by name');
    await h2.ok('sandbox', 'rm', a);
    await h3.ok('sandbox', 'rm', b);
    await h1.ok('network', 'rm', 'ovq');
  });
});
