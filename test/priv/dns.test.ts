// Embedded DNS with real clients (dig, glibc's resolver through getent) in fresh namespaces.
// Forwarding goes only to fake upstreams this test runs on loopback inside its own host
// namespace; the daemon's default upstream is the test's own resolv.conf (127.0.0.1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

const FAKE = join(process.cwd(), 'build', 'test', 'helpers', 'fake-upstream.js');

interface Dig {
  status: string;
  answers: string[];
}

async function dig(h: TestHost, from: string, server: string, name: string, type = 'A', extra: string[] = []): Promise<Dig> {
  const r = await h.inSandbox(from, 'dig', `@${server}`, name, type, '+time=5', '+tries=1', ...extra);
  const status = /status: (\w+)/.exec(r.stdout)?.[1] ?? 'TIMEOUT';
  const answers = (/;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(r.stdout)?.[1] ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/).pop() ?? '');
  return { status, answers };
}

describe('embedded DNS (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  const fakes: ChildProcess[] = [];
  let web: string, api: string, db: string, lone: string;
  const GW_FRONT = '10.60.0.1';

  async function fakeUpstream(port: number, ...args: string[]): Promise<void> {
    const child = spawn('nsenter', [`--net=/run/netns/${h.ns}`, process.execPath, FAKE, '--port', String(port), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    fakes.push(child);
    await new Promise<void>((res, rej) => {
      child.stdout?.once('data', () => res());
      child.once('exit', (c) => rej(new Error(`fake upstream exited ${c}`)));
    });
  }

  before(async () => {
    h = await TestHost.create();
    await h.start();
    [web, api, db, lone] = [h.sb('web'), h.sb('api'), h.sb('db'), h.sb('lone')];
    await h.ok('network', 'create', '--ipv6', '--subnet', '10.60.0.0/24', '--subnet', 'fd00:60::/64', '--dns', '127.0.0.1:5353', 'front');
    await h.ok('network', 'create', '--subnet', '10.61.0.0/24', 'back');
    await h.ok('network', 'create', '--internal', '--subnet', '10.62.0.0/24', 'vault');
    await h.ok('sandbox', 'create', '--network', 'front', '--alias', 'www', web);
    await h.ok('sandbox', 'create', '--network', 'front', api);
    await h.ok('sandbox', 'create', '--network', 'back', '--alias', 'pg', db);
    await h.ok('sandbox', 'create', lone); // default bridge: no DNS
    await fakeUpstream(5353);
  });
  after(async () => {
    for (const f of fakes) f.kill('SIGTERM');
    await h?.cleanup();
  });

  it('writes resolv.conf and hosts that both ip netns exec and netloom sandbox exec see', async () => {
    const viaIp = (await h.inSandbox(api, 'cat', '/etc/resolv.conf')).stdout;
    assert.match(viaIp, new RegExp(`^nameserver ${GW_FRONT.replace(/\./g, '\\.')}$`, 'm'));
    const viaCli = await h.ok('sandbox', 'exec', api, '--', 'cat', '/etc/hosts');
    assert.match(viaCli, new RegExp(`^10\\.60\\.0\\.3\\s+${api}$`, 'm'));
  });

  it('resolves sandbox names, aliases and name.network on a shared network, A and AAAA', async () => {
    assert.deepEqual((await dig(h, api, GW_FRONT, web)).answers, ['10.60.0.2']);
    assert.deepEqual((await dig(h, api, GW_FRONT, 'WWW')).answers, ['10.60.0.2'], 'aliases, case-insensitively');
    assert.deepEqual((await dig(h, api, GW_FRONT, `${web}.front`)).answers, ['10.60.0.2']);
    assert.deepEqual((await dig(h, api, GW_FRONT, web, 'AAAA')).answers, ['fd00:60::2']);
  });

  it("glibc's own resolver in the sandbox finds names through resolv.conf", async () => {
    const r = await h.inSandbox(api, 'getent', 'ahostsv4', 'www');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^10\.60\.0\.2\s/m);
  });

  it('never answers a name that exists only on a network the sandbox does not share', async () => {
    assert.equal((await dig(h, api, GW_FRONT, db)).status, 'NXDOMAIN');
    assert.equal((await dig(h, api, GW_FRONT, 'pg')).status, 'NXDOMAIN');
  });

  it('answers NODATA for a known name without that family and NXDOMAIN for an unknown one', async () => {
    const gwBack = '10.61.0.1';
    const nodata = await dig(h, db, gwBack, 'pg', 'AAAA');
    assert.deepEqual(nodata, { status: 'NOERROR', answers: [] });
    assert.equal((await dig(h, api, GW_FRONT, 'nosuch')).status, 'NXDOMAIN');
    assert.equal((await dig(h, api, GW_FRONT, 'nosuch.front')).status, 'NXDOMAIN');
  });

  it('answers PTR for endpoint addresses, IPv4 and IPv6', async () => {
    assert.equal((await h.inSandbox(api, 'dig', `@${GW_FRONT}`, '-x', '10.60.0.2', '+short')).stdout.trim(), `${web}.front.`);
    assert.deepEqual((await h.inSandbox(api, 'dig', `@${GW_FRONT}`, '-x', 'fd00:60::2', '+short')).stdout.trim(), `${web}.front.`);
  });

  it('a sandbox on two networks resolves names on both; the default bridge has no DNS', async () => {
    await h.ok('network', 'connect', 'back', api);
    assert.deepEqual((await dig(h, api, GW_FRONT, 'pg')).answers, ['10.61.0.2']);
    await h.ok('network', 'disconnect', 'back', api);
    const conf = (await h.inSandbox(lone, 'cat', '/etc/resolv.conf')).stdout;
    assert.doesNotMatch(conf, /nameserver 172\.17\.0\.1/);
    assert.equal((await dig(h, lone, '172.17.0.1', web, 'A', ['+time=1'])).status, 'TIMEOUT');
  });

  it('a name answers when connect returns and is NXDOMAIN when disconnect returns', async () => {
    await h.ok('network', 'connect', '--alias', 'late', 'front', db);
    assert.deepEqual((await dig(h, api, GW_FRONT, 'late')).answers, ['10.60.0.4']);
    await h.ok('network', 'disconnect', 'front', db);
    assert.equal((await dig(h, api, GW_FRONT, 'late')).status, 'NXDOMAIN');
  });

  it('several sandboxes sharing an alias: all their addresses, order rotated', async () => {
    const [r1, r2] = [h.sb('rep1'), h.sb('rep2')];
    await h.ok('sandbox', 'create', '--network', 'front', '--alias', 'pool', r1);
    await h.ok('sandbox', 'create', '--network', 'front', '--alias', 'pool', r2);
    const first = (await dig(h, api, GW_FRONT, 'pool')).answers;
    const second = (await dig(h, api, GW_FRONT, 'pool')).answers;
    assert.equal(first.length, 2);
    assert.deepEqual([...first].sort(), [...second].sort());
    assert.notDeepEqual(first, second, 'rotated');
    await h.ok('sandbox', 'rm', r1, r2);
  });

  it("forwards other names to the network's --dns upstream, and explains it", async () => {
    assert.deepEqual((await dig(h, api, GW_FRONT, 'example.test')).answers, ['192.0.2.10']);
    const out = await h.ok('dns', 'explain', api, 'example.test');
    assert.match(out, /answered by: upstream 127\.0\.0\.1:5353/);
    const local = await h.ok('dns', 'explain', api, 'www');
    assert.match(local, /alias of sandbox .*on network "front"/);
  });

  it("a per-connect --dns wins over the network's; TCP is used when the upstream truncates", async () => {
    await fakeUpstream(5354, '--truncate', '--answer', '192.0.2.54');
    const s = h.sb('tc');
    await h.ok('sandbox', 'create', '--network', 'front', '--dns', '127.0.0.1:5354', s);
    assert.deepEqual((await dig(h, s, GW_FRONT, 'big.example.test')).answers, ['192.0.2.54']);
    await h.ok('sandbox', 'rm', s);
  });

  it("a slow upstream is still answered within a client's timeout; a dead one gives SERVFAIL without delaying local names", async () => {
    await fakeUpstream(5355, '--delay', '1500', '--answer', '192.0.2.55');
    const [slow, dead] = [h.sb('slow'), h.sb('dead')];
    await h.ok('sandbox', 'create', '--network', 'front', '--dns', '127.0.0.1:5355', slow);
    await h.ok('sandbox', 'create', '--network', 'front', '--dns', '127.0.0.1:5399', dead);
    assert.deepEqual((await dig(h, slow, GW_FRONT, 'slow.example.test')).answers, ['192.0.2.55']);
    const pending = dig(h, dead, GW_FRONT, 'dead.example.test');
    // While that forward waits on a dead upstream, a local name answers at once (1 s limit).
    assert.deepEqual((await dig(h, dead, GW_FRONT, web, 'A', ['+time=1'])).answers, ['10.60.0.2']);
    assert.equal((await pending).status, 'SERVFAIL');
    await h.ok('sandbox', 'rm', slow, dead);
  });

  it('an internal network never forwards', async () => {
    const s = h.sb('vault');
    await h.ok('sandbox', 'create', '--network', 'vault', '--dns', '127.0.0.1:5353', s);
    assert.equal((await dig(h, s, '10.62.0.1', 'example.test')).status, 'REFUSED');
    assert.equal((await dig(h, s, '10.62.0.1', s)).status, 'NOERROR');
    await h.ok('sandbox', 'rm', s);
  });

  it("does not answer clients outside the sandboxes' networks", async () => {
    const r = await h.inHost('dig', `@${GW_FRONT}`, web, '+time=1', '+tries=1');
    assert.doesNotMatch(r.stdout, /status:/);
  });

  it('survives thousands of malformed packets and keeps answering', async () => {
    const script = `
      const d = require('node:dgram').createSocket('udp4');
      let n = 0;
      const base = Buffer.from('abcd01000001000000000000037777770000010001', 'hex');
      function next() {
        if (n++ >= 3000) return d.close();
        let b = n % 2 ? require('node:crypto').randomBytes(n % 600) : Buffer.from(base);
        if (n % 2 === 0) for (let i = 0; i < 3; i++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
        d.send(b, 53, '${GW_FRONT}', next);
      }
      next();`;
    const r = await h.inSandbox(api, process.execPath, '-e', script);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual((await dig(h, api, GW_FRONT, web)).answers, ['10.60.0.2']);
  });

  it('names still resolve after a daemon restart', async () => {
    await h.stop();
    await h.start();
    assert.deepEqual((await dig(h, api, GW_FRONT, 'www')).answers, ['10.60.0.2']);
  });
});
