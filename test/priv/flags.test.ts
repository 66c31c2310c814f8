// The `docker run` and `dockerd` flags users learned with, with the real kernel in fresh
// namespaces: -h/--hostname (own UTS namespace), --add-host, --dns*, --mac-address, --ip6,
// --link (one-way names; ICC off opens exactly the exposed port), --expose with -P, and the
// daemon's --bip, -b, --icc=false, --iptables=false, --default-address-pool and daemon.json.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHost, sandboxAddrs, sh, skipUnlessRoot } from '../helpers/host.js';
import type { SandboxView } from '../../controller/inspect.js';

const PORTCHECK = join(process.cwd(), 'build', 'test', 'helpers', 'portcheck.js');
const DAEMON = join(process.cwd(), 'bin', 'netloomd.mjs');
const UTS_DIR = '/run/netloom/uts';

const hostsOf = (sb: string): string => readFileSync(`/etc/netns/${sb}/hosts`, 'utf8');
const resolvOf = (sb: string): string => readFileSync(`/etc/netns/${sb}/resolv.conf`, 'utf8');

async function sandbox(h: TestHost, name: string): Promise<SandboxView> {
  return (JSON.parse(await h.ok('sandbox', 'inspect', name)) as SandboxView[])[0];
}

const ipOf = async (h: TestHost, name: string): Promise<string> => Object.values((await sandbox(h, name)).Networks)[0].IPv4Address.split('/')[0];

/** A bad request: non-zero exit, one line naming the value, and nothing changed. */
async function refused(h: TestHost, args: string[], names: RegExp, ...nets: string[]): Promise<void> {
  const before = await h.everything(...nets);
  const r = await h.cli(...args);
  assert.notEqual(r.exitCode, 0, `expected failure, got: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], names);
  assert.deepEqual(await h.everything(...nets), before);
}

describe('sandbox flags: hostname, hosts, DNS, MAC, IPv6, links (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  before(async () => {
    h = await TestHost.create();
    await h.start();
  });
  after(async () => h?.cleanup());

  it('-h and --domainname: hostname and domainname answer in sandbox exec, hosts maps the address, a restart keeps them, rm removes them', async () => {
    const web = h.sb('web');
    await h.ok('sandbox', 'create', '-h', 'web1', '--domainname', 'example.com', web);
    assert.equal((await h.ok('sandbox', 'exec', web, '--', 'hostname')).trim(), 'web1');
    assert.equal((await h.ok('sandbox', 'exec', web, '--', 'domainname')).trim(), 'example.com');
    const ip = await ipOf(h, web);
    assert.match(hostsOf(web), new RegExp(`^${ip.replace(/\./g, '\\.')}\\tweb1\\.example\\.com web1$`, 'm'));
    assert.equal((await h.ok('sandbox', 'exec', web, '--', 'cat', '/etc/hostname')).trim(), 'web1');
    const v = await sandbox(h, web);
    assert.equal(v.Hostname, 'web1');
    assert.equal(v.Domainname, 'example.com');
    const shared = h.sb('shared');
    await h.ok('sandbox', 'create', '--network', `container:${web}`, shared);
    assert.equal((await h.ok('sandbox', 'exec', shared, '--', 'hostname')).trim(), 'web1', "container:<x> shares x's host name");
    await h.ok('sandbox', 'rm', shared);
    // A reboot empties /run: the namespace file goes; the restarted daemon makes it again.
    await h.stop();
    await sh('umount', [join(UTS_DIR, web)]);
    await sh('rm', ['-f', join(UTS_DIR, web)]);
    await h.start();
    assert.equal((await h.ok('sandbox', 'exec', web, '--', 'hostname')).trim(), 'web1');
    await h.ok('sandbox', 'rm', web);
    assert.equal(existsSync(join(UTS_DIR, web)), false, 'the UTS namespace went with the sandbox');
  });

  it('--add-host (host-gateway = the default bridge gateway) and --dns, --dns-search, --dns-option land in the files and in inspect', async () => {
    const c = h.sb('dnsc');
    await h.ok(
      'sandbox',
      'create',
      '--add-host',
      'db:10.1.2.3',
      '--add-host',
      'gw:host-gateway',
      '--add-host',
      'v6:fd00::7',
      '--dns',
      '10.9.9.9',
      '--dns-search',
      'corp.example',
      '--dns-option',
      'ndots:2',
      c,
    );
    const gw = (await h.inspect('bridge')).IPAM.Config[0].Gateway;
    assert.ok(gw);
    const hosts = hostsOf(c);
    assert.match(hosts, /^10\.1\.2\.3\tdb$/m);
    assert.match(hosts, new RegExp(`^${gw.replace(/\./g, '\\.')}\\tgw$`, 'm'));
    assert.match(hosts, /^fd00::7\tv6$/m);
    assert.equal((await h.inSandbox(c, 'getent', 'hosts', 'db')).stdout.trim().split(/\s+/)[0], '10.1.2.3');
    const resolv = resolvOf(c);
    assert.match(resolv, /^nameserver 10\.9\.9\.9$/m);
    assert.match(resolv, /^search corp\.example$/m);
    assert.match(resolv, /^options ndots:2$/m);
    const v = await sandbox(h, c);
    assert.deepEqual(
      [v.Dns, v.DnsSearch, v.DnsOptions, v.ExtraHosts],
      [['10.9.9.9'], ['corp.example'], ['ndots:2'], ['db:10.1.2.3', `gw:${gw}`, 'v6:fd00::7']],
    );
  });

  it('--mac-address and --ip6 set the interface', async () => {
    const m = h.sb('mac');
    await h.ok('network', 'create', '--ipv6', '--subnet', '10.81.0.0/24', '--subnet', 'fd81::/64', 'v6net');
    await h.ok('sandbox', 'create', '--network', 'v6net', '--mac-address', '02:42:AC:11:00:99', '--ip6', 'fd81::99', m);
    const link = JSON.parse((await sh('ip', ['-n', m, '-j', 'link', 'show', 'eth0'])).stdout) as { address: string }[];
    assert.equal(link[0].address, '02:42:ac:11:00:99');
    assert.ok((await sandboxAddrs(m)).eth0.includes('fd81::99/64'));
    assert.equal(Object.values((await sandbox(h, m)).Networks)[0].MacAddress, '02:42:ac:11:00:99');
  });

  it('--link NAME:ALIAS: the linking sandbox resolves NAME and ALIAS, the linked one cannot resolve the linker', async () => {
    const [db, app] = [h.sb('db'), h.sb('app')];
    await h.ok('sandbox', 'create', '-h', 'dbhost', db);
    await h.ok('sandbox', 'create', '--link', `${db}:data`, app);
    const dbIp = await ipOf(h, db);
    for (const name of ['data', db, 'dbhost']) {
      assert.equal((await h.inSandbox(app, 'getent', 'hosts', name)).stdout.trim().split(/\s+/)[0], dbIp, `${name} resolves in the linker`);
    }
    assert.notEqual((await h.inSandbox(db, 'getent', 'hosts', app)).exitCode, 0, 'one way: the linked sandbox cannot resolve the linker');
    assert.deepEqual((await sandbox(h, app)).Links, [`${db}:data`]);
    // The linked sandbox goes: the entry goes with it.
    await h.ok('sandbox', 'rm', db);
    assert.doesNotMatch(hostsOf(app), /\tdata /);
  });

  it('bad values are refused naming the value, with nothing changed', async () => {
    await h.ok('network', 'create', '--subnet', '10.82.0.0/24', 'user');
    const other = h.sb('other');
    await h.ok('sandbox', 'create', other);
    await refused(h, ['sandbox', 'create', '--link', 'nosuch', h.sb('x')], /--link "nosuch".*no such sandbox nosuch/, 'bridge');
    await refused(h, ['sandbox', 'create', '--add-host', 'x', h.sb('x')], /--add-host "x"/, 'bridge');
    await refused(
      h,
      ['sandbox', 'create', '--network', 'user', '--link', other, h.sb('x')],
      /--link works only on the default bridge network, not network "user"/,
      'bridge',
      'user',
    );
    await refused(h, ['sandbox', 'create', '-h', 'bad_name!', h.sb('x')], /--hostname "bad_name!"/, 'bridge');
    await refused(h, ['sandbox', 'create', '--mac-address', '01:00:5e:00:00:01', h.sb('x')], /--mac-address "01:00:5e:00:00:01"/, 'bridge');
    await refused(h, ['sandbox', 'create', '--expose', '70000', h.sb('x')], /--expose "70000"/, 'bridge');
    await refused(h, ['sandbox', 'create', '--network', 'host', '-h', 'n', h.sb('x')], /--hostname/, 'bridge');
  });
});

describe('daemon --bip and --icc=false with --link, --expose and -P (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  const servers: ChildProcess[] = [];
  const serve = (ns: string, port: number, tag: string): void => {
    servers.push(spawn('ip', ['netns', 'exec', ns, process.execPath, PORTCHECK, 'serve', String(port), tag], { stdio: 'ignore' }));
  };
  const ask = async (ns: string, proto: 'tcp' | 'udp', host: string, port: number): Promise<string> => {
    const r = await sh('ip', ['netns', 'exec', ns, process.execPath, PORTCHECK, 'ask', proto, host, String(port)]);
    return r.exitCode === 0 ? r.stdout.trim().split(' ')[0] : 'failed';
  };
  const eventually = async (fn: () => Promise<boolean>): Promise<boolean> => {
    for (let i = 0; i < 50; i++, await new Promise((r) => setTimeout(r, 100))) if (await fn()) return true;
    return false;
  };
  const linkRules = async (): Promise<string[]> =>
    (await h.inHost('iptables-save', '-t', 'filter')).stdout.split('\n').filter((l) => l.startsWith('-A NETLOOM -s '));

  let srv: string;
  let cli: string;
  let other: string;
  let srvIp: string;
  before(async () => {
    h = await TestHost.create();
    h.daemonArgs = ['--bip', '10.99.0.1/24', '--icc=false'];
    await h.start();
    [srv, cli, other] = [h.sb('srv'), h.sb('cli'), h.sb('other')];
    await h.ok('sandbox', 'create', '--expose', '80', srv);
    await h.ok('sandbox', 'create', '--link', srv, cli);
    await h.ok('sandbox', 'create', other);
    srvIp = await ipOf(h, srv);
    serve(srv, 80, 'p80');
    serve(srv, 81, 'p81');
    assert.ok(await eventually(async () => (await ask(srv, 'tcp', '127.0.0.1', 81)) === 'p81'), 'the servers started');
  });
  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await h?.cleanup();
  });

  it('--bip 10.99.0.1/24 gives the default bridge that address and subnet', async () => {
    const addrs = JSON.parse((await sh('ip', ['-n', h.ns, '-j', 'addr', 'show', 'netloom0'])).stdout) as {
      addr_info: { local: string; prefixlen: number }[];
    }[];
    assert.ok(addrs[0].addr_info.some((a) => `${a.local}/${a.prefixlen}` === '10.99.0.1/24'));
    assert.deepEqual(
      (await h.inspect('bridge')).IPAM.Config.map((c) => [c.Subnet, c.Gateway]),
      [['10.99.0.0/24', '10.99.0.1']],
    );
    assert.match(srvIp, /^10\.99\.0\./);
  });

  it('ICC off plus --link opens exactly the exposed port, to the linking sandbox only', async () => {
    assert.equal(await ask(cli, 'tcp', srvIp, 80), 'p80', 'the linker reaches the exposed port');
    assert.equal(await ask(cli, 'tcp', srvIp, 81), 'failed', 'and no other');
    assert.equal(await ask(other, 'tcp', srvIp, 80), 'failed', 'an unlinked sandbox reaches nothing');
    assert.equal((await linkRules()).length, 2, 'one rule each way');
  });

  it('a link to a sandbox that exposes nothing opens every port of the pair, each way', async () => {
    const [free, user, third] = [h.sb('free'), h.sb('user'), h.sb('third')];
    await h.ok('sandbox', 'create', free);
    await h.ok('sandbox', 'create', '--link', free, user);
    await h.ok('sandbox', 'create', third);
    serve(free, 82, 'free82');
    serve(user, 83, 'user83');
    const [freeIp, userIp] = [await ipOf(h, free), await ipOf(h, user)];
    assert.ok(await eventually(async () => (await ask(user, 'tcp', freeIp, 82)) === 'free82'), 'the linker reaches any port');
    assert.ok(await eventually(async () => (await ask(free, 'tcp', userIp, 83)) === 'user83'), 'and the other way (one rule each way)');
    assert.equal(await ask(third, 'tcp', freeIp, 82), 'failed', 'a third sandbox reaches neither');
    await h.ok('sandbox', 'rm', user, free, third);
  });

  it('link rules survive a restart, are checked by doctor and healed by the guard', async () => {
    await h.stop();
    await h.start();
    assert.equal(await ask(cli, 'tcp', srvIp, 80), 'p80');
    const restores = (out: string): number => Number(/(\d+) restore\(s\)/.exec(out)?.[1]);
    const clean = await h.cli('doctor');
    assert.equal(clean.exitCode, 0);
    const [rule] = await linkRules();
    await h.inHost('iptables', '-w', ...rule.replace(/^-A /, '-D ').split(' '));
    const d = await h.cli('doctor');
    // The guard (every 2 s) may get there first: then it counts one more restore.
    if (d.exitCode === 0) assert.ok(restores(d.stdout) > restores(clean.stdout), `neither doctor nor the guard saw it: ${d.stdout}`);
    else assert.match(d.stdout, /NETLOOM -s /, 'doctor names the missing link rule');
    assert.ok(await eventually(async () => (await linkRules()).length === 2), 'the guard restored it');
  });

  it('-P with --expose 80 --expose 53/udp publishes both on free host ports, reachable, listed by netloom port', async () => {
    const pub = h.sb('pub');
    await h.ok('sandbox', 'create', '-P', '--expose', '80', '--expose', '53/udp', pub);
    serve(pub, 80, 'tcp80');
    serve(pub, 53, 'udp53');
    const lines = (await h.ok('port', pub)).trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    const port = (spec: string): number =>
      Number(
        lines
          .find((l) => l.startsWith(`${spec} -> `))
          ?.split(':')
          .pop(),
      );
    const [tcp, udp] = [port('80/tcp'), port('53/udp')];
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (const p of [tcp, udp]) assert.ok(p >= lo && p <= hi, `${p} in ${lo}-${hi}`);
    assert.ok(await eventually(async () => (await ask(h.ns, 'tcp', '127.0.0.1', tcp)) === 'tcp80'));
    assert.ok(await eventually(async () => (await ask(h.ns, 'udp', '10.99.0.1', udp)) === 'udp53'));
    assert.deepEqual((await sandbox(h, pub)).ExposedPorts, ['80/tcp', '53/udp']);
  });

  it('the rules leave with either sandbox of the pair', async () => {
    await h.ok('sandbox', 'rm', srv);
    assert.deepEqual(await linkRules(), []);
    assert.equal((await h.cli('doctor')).exitCode, 0);
  });
});

describe('daemon settings: -b, daemon.json, a changed --bip, --iptables=false, bad values (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  const hosts: TestHost[] = [];
  const host = async (): Promise<TestHost> => {
    const h = await TestHost.create();
    hosts.push(h);
    return h;
  };
  after(async () => {
    for (const h of hosts) await h.cleanup();
  });

  it('-b uses a bridge the test made, with its address as the subnet', async () => {
    const h = await host();
    await h.inHost('ip', 'link', 'add', 'br-mine', 'type', 'bridge');
    await h.inHost('ip', 'addr', 'add', '10.98.0.1/24', 'dev', 'br-mine');
    await h.inHost('ip', 'link', 'set', 'br-mine', 'up');
    h.daemonArgs = ['-b', 'br-mine'];
    await h.start();
    const b = await h.inspect('bridge');
    assert.equal(b.Options['com.docker.network.bridge.name'], 'br-mine');
    assert.deepEqual(
      b.IPAM.Config.map((c) => c.Subnet),
      ['10.98.0.0/24'],
    );
    const s = h.sb('s');
    await h.ok('sandbox', 'create', s);
    assert.ok(await h.ping(s, '10.98.0.1'));
    assert.deepEqual(
      (await h.kernel()).links.filter((l) => l === 'netloom0'),
      [],
      'no bridge of its own',
    );
  });

  it('--fixed-cidr and --default-gateway: addresses from the range, the default route via the gateway; -b none: no default bridge', async () => {
    const h = await host();
    h.daemonArgs = ['--bip', '10.92.0.1/24', '--fixed-cidr', '10.92.0.128/25', '--default-gateway', '10.92.0.254'];
    await h.start();
    const s = h.sb('fixed');
    await h.ok('sandbox', 'create', s);
    assert.match((await sandboxAddrs(s)).eth0[0], /^10\.92\.0\.(12[89]|1[3-9]\d|2\d\d)\/24$/);
    assert.match((await h.inSandbox(s, 'ip', 'route', 'show', 'default')).stdout, /default via 10\.92\.0\.254 dev eth0/);
    assert.equal((await h.cli('doctor')).exitCode, 0);
    await h.ok('sandbox', 'rm', s);
    await h.stop();
    h.daemonArgs = ['-b', 'none'];
    await h.start();
    assert.equal((await h.cli('network', 'inspect', 'bridge')).exitCode, 1);
    assert.equal((await h.kernel()).links.includes('netloom0'), false);
    await refused(h, ['sandbox', 'create', h.sb('nob')], /no default bridge \(netloomd --bridge none\): give --network/);
  });

  it('daemon.json gives exactly what the same flags give', async () => {
    const [a, b] = [await host(), await host()];
    a.daemonArgs = [
      '--bip',
      '10.97.0.1/24',
      '--icc=false',
      '--ip-masq=false',
      '--mtu',
      '1400',
      '--default-address-pool',
      'base=10.200.0.0/16,size=24',
      '--dns-search',
      'corp.example',
      '--dns-opt',
      'ndots:3',
    ];
    const file = join(b.dir, 'daemon.json');
    writeFileSync(
      file,
      JSON.stringify({
        bip: '10.97.0.1/24',
        icc: false,
        'ip-masq': false,
        mtu: 1400,
        'default-address-pools': [{ base: '10.200.0.0/16', size: 24 }],
        'dns-search': ['corp.example'],
        'dns-opts': ['ndots:3'],
      }),
    );
    b.daemonArgs = ['--config-file', file];
    const seen: unknown[] = [];
    for (const h of [a, b]) {
      await h.start();
      await h.ok('network', 'create', 'pooled');
      const { Id: _i, Created: _c, Containers: _k, ...bridge } = (await h.inspect('bridge')) as unknown as Record<string, unknown>;
      const rules = (await h.inHost('iptables-save')).stdout
        .split('\n')
        .filter((l) => l.startsWith('-A '))
        .map((l) => l.replace(/nlb-[0-9a-f]+/g, 'nlb-X'));
      const sb = h.sb('j');
      await h.ok('sandbox', 'create', '--network', 'pooled', sb);
      const resolv = resolvOf(sb)
        .split('\n')
        .filter((l) => !l.startsWith('nameserver'));
      seen.push({ bridge, pooled: (await h.inspect('pooled')).IPAM.Config, rules, resolv });
    }
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual((seen[0] as { pooled: unknown }).pooled, [{ Subnet: '10.200.0.0/24', Gateway: '10.200.0.1' }]);
    assert.deepEqual((seen[0] as { resolv: string[] }).resolv.slice(1), ['search corp.example', 'options ndots:3', '']);
  });

  it('a changed --bip moves the default bridge when nothing uses it, and is refused with a reason while a sandbox does', async () => {
    const h = await host();
    await h.start();
    await h.stop();
    h.daemonArgs = ['--bip', '10.96.0.1/24'];
    await h.start();
    assert.deepEqual(
      (await h.inspect('bridge')).IPAM.Config.map((c) => c.Subnet),
      ['10.96.0.0/24'],
    );
    await h.ok('sandbox', 'create', h.sb('user'));
    await h.stop();
    h.daemonArgs = ['--bip', '10.95.0.1/24'];
    await h.start();
    assert.deepEqual(
      (await h.inspect('bridge')).IPAM.Config.map((c) => c.Subnet),
      ['10.96.0.0/24'],
      'kept while a sandbox uses it',
    );
    assert.match(h.log(), /default bridge settings changed \(bip 10\.96\.0\.1\/24 -> 10\.95\.0\.1\/24\) but sandboxes .*user use it/);
  });

  it('--iptables=false writes no rule, and doctor says so', async () => {
    const h = await host();
    h.daemonArgs = ['--iptables=false'];
    await h.start();
    await h.ok('network', 'create', '--subnet', '10.94.0.0/24', 'quiet');
    await h.ok('sandbox', 'create', '--network', 'quiet', h.sb('q'));
    assert.deepEqual(
      (await h.inHost('iptables-save')).stdout.split('\n').filter((l) => l.includes('NETLOOM')),
      [],
    );
    const d = await h.cli('doctor');
    assert.equal(d.exitCode, 0, d.stdout);
    assert.match(d.stdout, /iptables: off/);
    const r = await h.cli('sandbox', 'create', '--network', 'quiet', '-p', '8080:80', h.sb('p'));
    assert.match(r.stderr, /--iptables=false/);
  });

  for (const [what, args, file, names] of [
    ['--bip 10.0.0.0/33', ['--bip', '10.0.0.0/33'], undefined, /--bip "10\.0\.0\.0\/33"/],
    ['a daemon.json with an unknown key', [], { bip: '10.93.0.1/24', colour: 'red' }, /unknown key "colour"/],
    ['a flag and daemon.json disagreeing', ['--mtu', '1400'], { mtu: 1300 }, /--mtu 1400 disagrees with "mtu": "1300"/],
    ['-b onto a bridge that does not exist', ['-b', 'br-nosuch'], undefined, /--bridge br-nosuch: no such bridge/],
    ['--icc=maybe', ['--icc=maybe'], undefined, /--icc "maybe"/],
  ] as const) {
    it(`${what}: netloomd refuses to start, one line naming it, nothing changed`, async () => {
      const h = await host();
      const before = await h.kernel();
      const extra: string[] = [...args];
      if (file) {
        writeFileSync(join(h.dir, 'daemon.json'), JSON.stringify(file));
        extra.push('--config-file', join(h.dir, 'daemon.json'));
      }
      const r = await sh('nsenter', [
        `--net=/run/netns/${h.ns}`,
        process.execPath,
        DAEMON,
        '--socket',
        h.socket,
        '--data-dir',
        h.dataDir,
        '--no-plugin',
        '--resolv-conf',
        '/dev/null',
        ...extra,
      ]);
      assert.notEqual(r.exitCode, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], names);
      assert.deepEqual(await h.kernel(), before);
    });
  }
});
