// End to end with a real Docker engine (Debian's docker.io) using netloom as its network driver
// and IPAM: `docker network create -d netloom --ipam-driver netloom`, docker run / connect /
// disconnect / rm -f / network rm, a netloomd restart (clean and kill -9) and a dockerd restart.
// The engine and netloomd share the test host's network namespace; containers only ever talk to
// each other, and resolve only container names (their outside resolver is their own loopback).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';
import { IDLE, IMAGE, NO_OUTSIDE_DNS, TestDocker, hasDocker } from '../helpers/docker.js';

const skip = skipUnlessRoot || (hasDocker ? false : 'needs docker.io and busybox-static (scripts/setup.sh installs them)');

describe('Docker engine on netloom networks (root, real dockerd)', { skip }, () => {
  let h: TestHost;
  let d: TestDocker;
  let clean: unknown;
  let n1 = '';

  /** What netloom could leave behind in the host namespace: its links, addresses, chains. */
  const netloomKernel = async (): Promise<unknown> => {
    const k = await h.kernel();
    return {
      links: k.links.filter((l) => l.startsWith('nl')),
      addrs: k.addrs.filter((a) => a.startsWith('nl')),
      rules: k.iptables.split('\n').filter((l) => l.includes('NETLOOM')),
    };
  };
  const run = (name: string, ...args: string[]) => d.ok('run', '-d', '--name', name, ...NO_OUTSIDE_DNS, ...args, IMAGE, ...IDLE);
  const exec = (c: string, ...argv: string[]) => d.dk('exec', c, ...argv);
  const ipOf = async (c: string, net: string) => d.ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c);

  before(async () => {
    h = await TestHost.create();
    h.pluginSocket = '/run/docker/plugins/netloom.sock';
    await h.start();
    d = new TestDocker(h);
    await d.start();
    await d.image();
    clean = await netloomKernel();
  });
  after(async () => {
    await d?.cleanup();
    await h?.cleanup();
  });

  it("docker network create uses netloom's driver and IPAM, with every IPAM option and the MTU", async () => {
    await d.ok(
      'network',
      'create',
      '-d',
      'netloom',
      '--ipam-driver',
      'netloom',
      '--subnet',
      '10.91.0.0/24',
      '--gateway',
      '10.91.0.254',
      '--ip-range',
      '10.91.0.128/25',
      '--aux-address',
      'reserved=10.91.0.10',
      '-o',
      'com.docker.network.driver.mtu=1400',
      'n1',
    );
    const id = await d.ok('network', 'inspect', '-f', '{{.Id}}', 'n1');
    n1 = `docker-${id.slice(0, 12)}`;
    const mine = await h.inspect(n1);
    assert.equal(mine.Id, id, "the network appears in netloom network ls/inspect under Docker's ID");
    assert.deepEqual(mine.IPAM.Config[0], { Subnet: '10.91.0.0/24', IPRange: '10.91.0.128/25', Gateway: '10.91.0.254' });
    const cli = await h.cli('network', 'create', '--subnet', '10.91.0.0/25', 'clash');
    assert.notEqual(cli.exitCode, 0);
    assert.match(cli.stderr, /overlaps network "docker-/, 'the CLI cannot take addresses Docker holds');
  });

  it('two containers ping each other by address and by name; the MTU is applied', async () => {
    await run('c1', '--network', 'n1');
    await run('c2', '--network', 'n1', '--ip', '10.91.0.20');
    const ip1 = await ipOf('c1', 'n1');
    const last = Number(/^10\.91\.0\.(\d+)$/.exec(ip1)?.[1]);
    assert.ok(last >= 128 && last <= 254, `c1 got ${ip1}: expected an address of the ip-range 10.91.0.128/25`);
    assert.equal(await ipOf('c2', 'n1'), '10.91.0.20');
    const link = await exec('c1', 'ip', '-o', 'link', 'show', 'eth0');
    assert.match(link.stdout, /mtu 1400/);
    assert.match((await exec('c1', 'ip', 'route')).stdout, /default via 10\.91\.0\.254 dev eth0/);
    assert.equal((await exec('c1', 'ping', '-c1', '-W2', '10.91.0.20')).exitCode, 0);
    const byName = await exec('c2', 'ping', '-c1', '-W2', 'c1');
    assert.equal(byName.exitCode, 0, byName.stdout + byName.stderr);
    assert.match(byName.stdout, new RegExp(`PING c1 \\(${ip1.replace(/\./g, '\\.')}\\)`));
  });

  it('connect and disconnect a running container', async () => {
    await d.ok('network', 'create', '-d', 'netloom', '--ipam-driver', 'netloom', 'n2');
    await d.ok('network', 'connect', 'n2', 'c1');
    const ip = await ipOf('c1', 'n2');
    assert.match((await exec('c1', 'ip', '-o', '-4', 'addr')).stdout, new RegExp(`eth1 +inet ${ip.replace(/\./g, '\\.')}/`));
    await run('c3', '--network', 'n2');
    assert.equal((await exec('c3', 'ping', '-c1', '-W2', 'c1')).exitCode, 0, 'names resolve on the second network too');
    await d.ok('rm', '-f', 'c3');
    await d.ok('network', 'disconnect', 'n2', 'c1');
    assert.doesNotMatch((await exec('c1', 'ip', '-o', 'link')).stdout, /eth1/);
    assert.equal((await exec('c1', 'ping', '-c1', '-W2', 'c2')).exitCode, 0, 'n1 is untouched');
  });

  it("--ipv6: both families from netloom's pools, IPv6 ping; --internal: no default route", async () => {
    await d.ok('network', 'create', '-d', 'netloom', '--ipam-driver', 'netloom', '--ipv6', 'n6');
    await run('v1', '--network', 'n6');
    const v6 = await d.ok('inspect', '-f', '{{(index .NetworkSettings.Networks "n6").GlobalIPv6Address}}', 'v1');
    assert.match(v6, /^fd6e:6c6f:6f6d:/);
    const r = await d.dk('run', '--rm', '--network', 'n6', ...NO_OUTSIDE_DNS, IMAGE, 'ping', '-6', '-c1', '-W2', v6);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    await d.ok('network', 'create', '-d', 'netloom', '--ipam-driver', 'netloom', '--internal', 'ni');
    const routes = await d.ok('run', '--rm', '--network', 'ni', ...NO_OUTSIDE_DNS, IMAGE, 'ip', 'route');
    assert.doesNotMatch(routes, /default/);
    assert.match(routes, /dev eth0 scope link/);
    await d.ok('rm', '-f', 'v1');
    await d.ok('network', 'rm', 'n6', 'ni');
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`netloomd restarted (${signal}) while containers run: traffic and state survive`, async () => {
      // netloom's view and kernel state (dockerd's own chains are not netloom's to keep).
      const state = async () => ({ networks: await h.ok('network', 'ls', '--format', 'json'), n1: await h.inspect(n1), kernel: await netloomKernel() });
      const before = await state();
      await h.stop(signal);
      assert.equal((await exec('c1', 'ping', '-c1', '-W2', 'c2')).exitCode, 0, 'the data path does not need the daemon');
      await h.start();
      assert.deepEqual(await state(), before);
      assert.equal((await exec('c2', 'ping', '-c1', '-W2', 'c1')).exitCode, 0);
      const r = await d.dk('run', '--rm', '--network', 'n1', ...NO_OUTSIDE_DNS, IMAGE, 'ping', '-c1', '-W2', 'c2');
      assert.equal(r.exitCode, 0, `a new container after the restart: ${r.stderr}`);
    });
  }

  it("docker run -p publishes through netloom: reachable on the host's 127.0.0.1 and address, gone with the container", async () => {
    await d.ok(
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'n1',
      ...NO_OUTSIDE_DNS,
      '-p',
      '127.0.0.1:18080:80',
      '-p',
      '18081:80',
      IMAGE,
      'nc',
      '-ll',
      '-p',
      '80',
      '-e',
      'echo',
      'hello-from-docker',
    );
    const get = async (host: string, port: number) => (await h.inHost('sh', '-c', `echo | timeout 3 busybox nc ${host} ${port}`)).stdout.trim();
    let got = '';
    for (let i = 0; i < 20 && got !== 'hello-from-docker'; i++, await new Promise((r) => setTimeout(r, 250))) got = await get('127.0.0.1', 18080);
    assert.equal(got, 'hello-from-docker');
    assert.equal(await get('10.91.0.254', 18081), 'hello-from-docker', 'through a host address');
    assert.equal((await h.inHost('sh', '-c', 'pgrep -x docker-proxy || true')).stdout.trim(), '', 'no docker-proxy: netloom publishes in the kernel');
    await d.ok('rm', '-f', 'web');
    assert.ok(!(await h.inHost('iptables-save', '-t', 'nat')).stdout.includes('--dport 18080'));
  });

  it("docker rm -f removes the container's veth", async () => {
    const veths = async () => (await h.kernel()).links.filter((l) => l.startsWith('nlv'));
    const withC2 = await veths();
    await d.ok('rm', '-f', 'c2');
    assert.equal((await veths()).length, withC2.length - 1);
  });

  it('dockerd restarted with netloom networks present: networks stay, a restart-always container comes back and resolves', async () => {
    await run('c4', '--network', 'n1', '--restart', 'always');
    await d.restart();
    assert.match(await d.ok('network', 'ls', '--format', '{{.Name}} {{.Driver}}'), /n1 netloom/);
    for (let i = 0; i < 40 && (await d.ok('inspect', '-f', '{{.State.Running}}', 'c4')) !== 'true'; i++) await new Promise((r) => setTimeout(r, 250));
    const r = await d.dk('run', '--rm', '--network', 'n1', ...NO_OUTSIDE_DNS, IMAGE, 'ping', '-c1', '-W2', 'c4');
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  });

  it('docker network rm leaves no bridge, veth, rule or allocation behind', async () => {
    const ids = (await d.ok('ps', '-aq')).split('\n').filter(Boolean);
    if (ids.length) await d.ok('rm', '-f', ...ids);
    await d.ok('network', 'rm', 'n1', 'n2');
    assert.deepEqual(await netloomKernel(), clean);
    const nets = JSON.parse(await h.ok('network', 'ls', '--format', 'json')) as { Name: string }[];
    assert.deepEqual(nets.map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
    // Every address and pool is free again: the same subnet, gateway and aux address can be taken.
    await d.ok(
      'network',
      'create',
      '-d',
      'netloom',
      '--ipam-driver',
      'netloom',
      '--subnet',
      '10.91.0.0/24',
      '--gateway',
      '10.91.0.254',
      '--aux-address',
      'reserved=10.91.0.10',
      'n3',
    );
    await d.ok('network', 'rm', 'n3');
  });

  it('netloom plugin check passes against the running daemon', async () => {
    const r = await h.inHost(process.execPath, 'bin/netloom.mjs', 'plugin', 'check', h.pluginSocket);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /passed, 0 failed/);
  });
});
