// Overlay networks reach only their own members: on one host (no cluster store), a sandbox on the
// default bridge, on a user-defined bridge network or on another overlay reaches no sandbox of an
// overlay network, nor the other way round, although the host holds both gateways and routes
// between them. Checked with ICMP and TCP in both directions, with a TCP and ping control inside
// the overlay so the probes can succeed, under FORWARD policy ACCEPT and DROP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

describe('overlay isolation from other netloom networks on one host (root, fresh namespace)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  const ip: Record<string, string> = {};
  const sb = (n: string): string => h.sb(n);

  /** A TCP connection from `from` to `to`'s address, port 8080: the listener (bounded by timeout,
   *  stopped by its PID) answers "hi" to whoever connects. */
  async function tcp(from: string, to: string): Promise<boolean> {
    const listener = spawn('ip', ['netns', 'exec', sb(to), 'timeout', '8', 'busybox', 'nc', '-l', '-p', '8080', '-e', 'busybox', 'echo', 'hi'], {
      stdio: 'ignore',
    });
    const gone = new Promise((r) => listener.once('exit', r));
    try {
      for (let i = 0; i < 50; i++) {
        if ((await h.inSandbox(sb(to), 'busybox', 'netstat', '-ltn')).stdout.includes(':8080')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await h.inSandbox(sb(from), 'busybox', 'nc', '-w', '2', ip[to], '8080');
      return r.stdout.includes('hi');
    } finally {
      if (listener.exitCode === null) listener.kill('SIGTERM');
      await gone;
    }
  }
  const ping = (from: string, to: string): Promise<boolean> => h.ping(sb(from), ip[to]);

  before(async () => {
    h = await TestHost.create();
    await h.start();
    await h.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.71.0.0/24', '--gateway', '10.71.0.1', 'ov');
    await h.ok('network', 'create', '--driver', 'overlay', '--subnet', '10.73.0.0/24', '--gateway', '10.73.0.1', 'ov2');
    await h.ok('network', 'create', '--subnet', '10.72.0.0/24', 'ub');
    const members: [string, string][] = [
      ['o1', 'ov'],
      ['o2', 'ov'],
      ['p', 'ov2'],
      ['u', 'ub'],
      ['d', 'bridge'],
    ];
    for (const [n, net] of members) {
      await h.ok('sandbox', 'create', '--network', net, sb(n));
      ip[n] = /inet (\S+)\//.exec((await h.inSandbox(sb(n), 'ip', '-4', '-o', 'addr', 'show', 'eth0')).stdout)?.[1] ?? '';
      assert.ok(ip[n], `${n} has an address`);
    }
    // Overlay sandboxes get no default route; give them one, so a reply path would exist.
    await h.inSandbox(sb('o1'), 'ip', 'route', 'add', 'default', 'via', '10.71.0.1');
    await h.inSandbox(sb('p'), 'ip', 'route', 'add', 'default', 'via', '10.73.0.1');
  });
  after(async () => h?.cleanup());

  for (const policy of ['ACCEPT', 'DROP']) {
    it(`FORWARD policy ${policy}: overlay members reach each other, their gateway and names; nothing else reaches them or is reached by them`, async () => {
      await h.inHost('iptables', '-w', '-P', 'FORWARD', policy);
      try {
        assert.ok(await ping('o1', 'o2'), 'o1 reaches o2 on the same overlay');
        assert.ok(await tcp('o2', 'o1'), 'TCP inside the overlay (the probe works)');
        assert.ok(await h.ping(sb('o1'), '10.71.0.1'), 'the overlay gateway answers');
        const byName = await h.inSandbox(sb('o2'), 'ping', '-c1', '-W2', sb('o1'));
        assert.equal(byName.exitCode, 0, `the embedded DNS on the overlay gateway answers: ${byName.stderr}`);
        assert.ok(await h.ping(sb('u'), '10.72.0.1'), 'the bridge sandbox has its own gateway');
        for (const other of ['u', 'd', 'p']) {
          assert.equal(await ping(other, 'o1'), false, `${other} must not ping o1 (overlay)`);
          assert.equal(await ping('o1', other), false, `o1 (overlay) must not ping ${other}`);
          assert.equal(await tcp(other, 'o1'), false, `${other} must not open TCP to o1 (overlay)`);
          assert.equal(await tcp('o1', other), false, `o1 (overlay) must not open TCP to ${other}`);
        }
        const d = await h.cli('doctor');
        assert.equal(d.exitCode, 0, d.stdout + d.stderr);
      } finally {
        await h.inHost('iptables', '-w', '-P', 'FORWARD', 'ACCEPT');
      }
    });
  }
});
