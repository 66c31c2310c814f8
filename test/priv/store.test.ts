// A damaged store, as a user meets it: a network and sandboxes, the daemon stopped, a record in
// the middle of wal.log damaged (then the snapshot). netloomd refuses to start and touches no
// kernel object; --salvage keeps what verifies and tears nothing down; doctor lists the rest.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

/** Kernel state as sets: a salvage may append kept rules after the rebuilt ones. */
async function kernelSet(h: TestHost): Promise<{ links: string[]; netns: string[]; rules: string[] }> {
  const k = await h.kernel();
  const rules = k.iptables
    .split('\n')
    .filter((l) => l.startsWith('-A '))
    .sort();
  return { links: k.links, netns: k.netns, rules };
}

const includesAll = (big: readonly string[], small: readonly string[]): string[] => small.filter((x) => !big.includes(x));

describe('a damaged store (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let a: string;
  let b: string;
  let c: string;
  let intact: Awaited<ReturnType<typeof kernelSet>>;
  const wal = (): string => join(h.dataDir, 'wal.log');

  before(async () => {
    h = await TestHost.create();
    await h.start();
    [a, b, c] = [h.sb('a'), h.sb('b'), h.sb('c')];
    await h.ok('network', 'create', '--subnet', '10.81.0.0/24', 'front');
    await h.ok('network', 'create', '--subnet', '10.82.0.0/24', 'back');
    await h.ok('sandbox', 'create', '--network', 'back', '-p', '18080:80', c);
    await h.ok('sandbox', 'create', '--network', 'front', a);
    await h.ok('sandbox', 'create', '--network', 'front', b);
    await h.stop();
    intact = await kernelSet(h);
  });
  after(async () => h?.cleanup());

  it('a damaged record in the middle of wal.log: netloomd refuses in one line naming file, offset, revision and the way out; the kernel is untouched', async () => {
    const lines = readFileSync(wal(), 'utf8').split('\n');
    // The record that made sandbox c ready: its loss is what the salvage below must survive.
    const i = lines.map((l, n) => (l.includes(`"sb/${c}"`) ? n : -1)).reduce((x, y) => Math.max(x, y));
    assert.ok(i > 0 && i < lines.length - 2, 'a record in the middle');
    lines[i] = lines[i].replace('"ready"', '"readz"');
    writeFileSync(wal(), lines.join('\n'));
    const r = await h.startRefused();
    assert.notEqual(r.exitCode, 0);
    const msg = r.stderr.trim();
    assert.ok(!msg.includes('\n'), `one line: ${msg}`);
    assert.match(msg, new RegExp(`${h.dataDir}/wal\\.log is damaged at byte \\d+ \\(the record after revision \\d+\\): checksum mismatch`));
    assert.match(msg, /netloom store verify --data-dir .*netloomd --salvage/);
    assert.deepEqual(await kernelSet(h), intact);
    const v = await h.cli('store', 'verify');
    assert.equal(v.exitCode, 1);
    assert.match(v.stdout, /1 damaged place\(s\)/);
  });

  it('--salvage keeps every record that verifies, moves the log aside and tears nothing down; doctor lists the rest as unexplained', async () => {
    h.daemonArgs = ['--salvage'];
    await h.start();
    h.daemonArgs = [];
    assert.ok(
      readdirSync(h.dataDir).some((f) => f.startsWith('wal.log.damaged-')),
      'the damaged log is kept aside',
    );
    const k = await kernelSet(h);
    assert.deepEqual(includesAll(k.links, intact.links), [], 'no link removed');
    assert.deepEqual(includesAll(k.netns, intact.netns), [], 'no namespace removed');
    assert.deepEqual(includesAll(k.rules, intact.rules), [], 'no rule removed');
    const names = JSON.parse(await h.ok('sandbox', 'ls', '--format', 'json')) as { Name: string }[];
    assert.deepEqual(
      names
        .map((s) => s.Name)
        .filter((n) => n.startsWith(`t${h.id}`))
        .sort(),
      [a, b],
    );
    const ipB = Object.values((await h.inspect('front')).Containers)
      .find((x) => x.Name === b)
      ?.IPv4Address.split('/')[0];
    assert.ok(ipB && (await h.ping(a, ipB)), 'the survivors still talk');
    const d = await h.cli('doctor');
    assert.equal(d.exitCode, 1, d.stdout);
    assert.match(d.stdout, /store salvaged at/);
    assert.match(d.stdout, new RegExp(`sandbox ${c}: unexplained`));
    assert.equal((await h.cli('store', 'verify')).exitCode, 0);
  });

  it('a damaged snapshot is refused the same way, and the kernel is untouched', async () => {
    await h.stop();
    const before = await kernelSet(h);
    const snap = join(h.dataDir, 'snapshot.json');
    const good = readFileSync(snap, 'utf8');
    writeFileSync(snap, good.replace('"front"', '"frunt"'));
    const r = await h.startRefused();
    assert.notEqual(r.exitCode, 0);
    assert.match(
      r.stderr.trim(),
      new RegExp(`^netloomd: ${h.dataDir}/snapshot\\.json is damaged at byte \\d+ \\(revision \\d+\\): checksum mismatch; run "netloom store verify`),
    );
    assert.deepEqual(await kernelSet(h), before);
    writeFileSync(snap, good);
  });

  it('the salvage holds across restarts until doctor --fix, which removes what no record explains', async () => {
    await h.start();
    assert.equal((await h.cli('doctor')).exitCode, 1);
    const fix = await h.cli('doctor', '--fix');
    assert.equal(fix.exitCode, 0, fix.stdout + fix.stderr);
    const d = await h.cli('doctor');
    assert.equal(d.exitCode, 0, d.stdout);
    assert.doesNotMatch(d.stdout, /salvaged/);
    assert.ok(!(await kernelSet(h)).netns.includes(c), 'the unexplained sandbox is gone after --fix');
  });
});

describe('the data-dir lock and the API socket (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  before(async () => {
    h = await TestHost.create();
  });
  after(async () => h?.cleanup());

  const lockPid = (): number => Number(readFileSync(join(h.dataDir, 'netloomd.lock'), 'utf8').trim());

  it('kill -9 of a daemon whose PID a zombie still holds (a parent that never reaps) does not block the restart', async () => {
    // sh starts the daemon in the background, then becomes `sleep`, which never reaps it.
    const parent = spawn('sh', ['-c', `"$@" & exec sleep 120`, 'sh', 'nsenter', ...h.daemonArgv()], { stdio: 'ignore' });
    try {
      let pid = 0;
      for (let i = 0; i < 200 && !(pid && (await h.cli('network', 'ls', '-q')).exitCode === 0); i++) {
        await new Promise((r) => setTimeout(r, 50));
        pid = existsSync(join(h.dataDir, 'netloomd.lock')) ? lockPid() : 0;
      }
      assert.ok(pid > 0, 'the daemon answers and holds the lock');
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /State:\s+Z/, 'the dead daemon is a zombie: its PID is still taken');
      assert.equal(lockPid(), pid, 'the lock file still names it');
      await h.start();
      assert.equal(lockPid(), Number((await h.inHost('cat', join(h.dataDir, 'netloomd.lock'))).stdout.trim()));
      assert.notEqual(lockPid(), pid);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('a second daemon on the same data dir is refused naming the live one; so is one on its live socket', async () => {
    const pid = lockPid();
    const other = join(h.dir, 'other.sock');
    const r = await h.startRefused(['--socket', other, '--plugin-socket', join(h.dir, 'other-plugin.sock')]);
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stderr.trim(), `netloomd: data dir ${h.dataDir} is in use by netloomd pid ${pid}: stop it first, or give this one another --data-dir`);
    const s = await h.startRefused(['--data-dir', join(h.dir, 'data2')]);
    assert.notEqual(s.exitCode, 0);
    assert.equal(s.stderr.trim(), `netloomd: a daemon already answers on ${h.socket}`);
    assert.equal((await h.cli('network', 'ls', '-q')).exitCode, 0, 'the first daemon still answers');
  });

  it('a stale socket file (the daemon was killed) is replaced by the next start', async () => {
    await h.stop('SIGKILL');
    assert.ok(existsSync(h.socket), 'kill -9 leaves the socket file');
    await h.start();
    assert.equal((await h.cli('network', 'ls', '-q')).exitCode, 0);
  });
});
