// The reaper: disconnect and network rm retire their links (down, detached, renamed) and return;
// the deletes come later. Everything a user can observe is over when the call returns, and a
// crash before the reap leaks nothing. The daemon runs with its reaper held back
// (NETLOOM_REAP_QUIET_MS), so every check here sees the state before the reap; POST /settle
// (h.settle) then reaps, and what it reaps proves the reap was still pending.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

const CLI = join(process.cwd(), 'bin', 'netloom.mjs');
const HOLD = { NETLOOM_REAP_QUIET_MS: '3600000' };
const retired = async (h: TestHost): Promise<string[]> => (await h.inHost('ip', '-j', 'link')).stdout.match(/"nlr[0-9a-f]+"/g) ?? [];

describe('reaper (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let a: string;
  let b: string;
  before(async () => {
    h = await TestHost.create();
    await h.start(HOLD);
    [a, b] = [h.sb('a'), h.sb('b')];
    await h.ok('network', 'create', '--subnet', '10.73.0.0/24', 'front');
    await h.ok('sandbox', 'create', '--network', 'front', a);
    await h.ok('sandbox', 'create', '--network', 'front', b);
  });
  after(async () => h?.cleanup());

  const addrOf = async (sb: string): Promise<string> => {
    const out = (await h.inSandbox(sb, 'ip', '-4', '-o', 'addr', 'show', 'eth0')).stdout;
    const m = /inet (\S+)\//.exec(out);
    assert.ok(m, `eth0 of ${sb} has an address: ${out}`);
    return m[1];
  };
  const dig = async (from: string, name: string): Promise<string> =>
    /status: (\w+)/.exec((await h.inSandbox(from, 'dig', '@10.73.0.1', name, 'A', '+time=3', '+tries=1')).stdout)?.[1] ?? 'TIMEOUT';

  it('after a disconnect returns: no traffic, no name, no address; a reconnect gets both back; then the reap', async () => {
    const ip = await addrOf(b);
    assert.ok(await h.ping(a, ip));
    assert.equal(await dig(a, b), 'NOERROR');
    await h.ok('network', 'disconnect', 'front', b);
    assert.equal((await retired(h)).length, 1, 'the veth waits for the reaper');
    assert.equal(await h.ping(a, ip), false, 'the old address is unreachable');
    assert.equal(await dig(a, b), 'NXDOMAIN', 'the name is gone');
    assert.equal((await h.inSandbox(b, 'ip', 'link', 'show', 'eth0')).exitCode, 1, 'eth0 is free in the sandbox');
    assert.doesNotMatch((await h.inSandbox(b, 'ip', '-4', 'addr')).stdout, /10\.73\./, 'the sandbox holds no address of front');
    assert.equal((await h.cli('doctor')).exitCode, 0, 'a pending reap is not a problem');

    // The address is free at once (IPAM's cursor would hand out the next one: ask for it).
    await h.ok('network', 'connect', '--ip', ip, 'front', b);
    assert.equal(await addrOf(b), ip, 'the same address, on eth0 again');
    assert.ok(await h.ping(a, ip));
    assert.equal((await h.settle()).length, 1, 'the reap was still pending');
    assert.deepEqual(await retired(h), []);
    assert.ok(await h.ping(a, ip), "deleting the old pair does not touch the new one's address");
  });

  it('after network rm returns the bridge name and subnet are free; then the reap', async () => {
    const make = () => h.ok('network', 'create', '--subnet', '10.74.0.0/24', '-o', 'com.docker.network.bridge.name=nlbreap', 'gone');
    await make();
    await h.ok('network', 'rm', 'gone');
    assert.equal((await retired(h)).length, 1, 'the bridge waits for the reaper');
    await make();
    await h.ok('network', 'connect', 'gone', a);
    assert.ok(await h.ping(a, '10.74.0.1'));
    assert.equal((await h.settle()).length, 1);
    assert.ok(await h.ping(a, '10.74.0.1'), "deleting the old bridge does not touch the new one's gateway");
    await h.ok('network', 'disconnect', 'gone', a);
    await h.ok('network', 'rm', 'gone');
    await h.settle();
  });

  it('kill -9 with a reap pending, then restart: the retired pair is swept', async () => {
    const before = (await h.kernel()).links;
    await h.ok('network', 'disconnect', 'front', b);
    await h.stop('SIGKILL');
    assert.equal((await retired(h)).length, 1, 'left behind by the crash');
    await h.start(HOLD);
    assert.deepEqual(await retired(h), [], 'start-up deletes it (no settle asked)');
    assert.equal((await h.kernel()).links.length, before.length - 1, "only b's veth is gone");
    await h.ok('network', 'connect', 'front', b);
    assert.ok(await h.ping(a, await addrOf(b)));
  });

  it('a shutdown finishes the pending reaps', async () => {
    await h.ok('network', 'disconnect', 'front', b);
    assert.equal((await retired(h)).length, 1);
    await h.stop('SIGTERM');
    assert.deepEqual(await retired(h), []);
    await h.start(HOLD);
  });

  it('system reset removes a retired link a crash left behind', async () => {
    await h.ok('network', 'connect', 'front', b);
    await h.ok('network', 'disconnect', 'front', b);
    await h.stop('SIGKILL');
    assert.equal((await retired(h)).length, 1);
    const r = await h.inHost(process.execPath, CLI, '--socket', h.socket, '--data-dir', h.dataDir, 'system', 'reset', '-f');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(await retired(h), []);
  });
});
