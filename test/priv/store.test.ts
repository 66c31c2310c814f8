// A damaged store, as a user meets it: a network and sandboxes, the daemon stopped, a record in
// the middle of wal.log damaged (then the snapshot). netloomd refuses to start and touches no
// kernel object; --salvage keeps what verifies and tears nothing down; doctor lists the rest.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

/** Kernel state as sets: a salvage may append kept rules after the rebuilt ones. */
async function kernelSet(h: TestHost): Promise<{ links: string[]; netns: string[]; rules: string[] }> {
  const k = await h.kernel();
  const rules = k.iptables.split('\n').filter((l) => l.startsWith('-A ')).sort();
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
    assert.ok(readdirSync(h.dataDir).some((f) => f.startsWith('wal.log.damaged-')), 'the damaged log is kept aside');
    const k = await kernelSet(h);
    assert.deepEqual(includesAll(k.links, intact.links), [], 'no link removed');
    assert.deepEqual(includesAll(k.netns, intact.netns), [], 'no namespace removed');
    assert.deepEqual(includesAll(k.rules, intact.rules), [], 'no rule removed');
    const names = JSON.parse(await h.ok('sandbox', 'ls', '--format', 'json')) as { Name: string }[];
    assert.deepEqual(names.map((s) => s.Name).filter((n) => n.startsWith(`t${h.id}`)).sort(), [a, b]);
    const ipB = Object.values((await h.inspect('front')).Containers).find((x) => x.Name === b)?.IPv4Address.split('/')[0];
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
    assert.match(r.stderr.trim(), new RegExp(`^netloomd: ${h.dataDir}/snapshot\\.json is damaged at byte \\d+ \\(revision \\d+\\): checksum mismatch; run "netloom store verify`));
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

