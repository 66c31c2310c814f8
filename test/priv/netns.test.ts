// Namespaces made in the daemon's own thread (native/nsaddon.c through system/netns.ts and
// system/uts.ts) against the kernel: what `ip netns` and `nsenter` see must be what `ip netns add`
// and `unshare --uts=FILE` made before (a file in /run/netns with the namespace bind-mounted on
// it, /run/netns a shared mount), the test's own thread must end in its own namespaces, and a
// refusal must name the bad name and leave nothing behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { systemCause } from '../../common/errors.js';
import { IpNetns } from '../../system/netns.js';
import { UnshareUts, utsPath } from '../../system/uts.js';
import { TestHost, sh, skipUnlessRoot } from '../helpers/host.js';

/** The mountinfo lines of mounts at `path`: "<propagation> <fstype> <source>". */
function mountsAt(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] === path)
    .map((f) => {
      const dash = f.indexOf('-');
      return `${f.slice(6, dash).join(' ') || 'private'} ${f[dash + 1]} ${f[dash + 2]}`;
    });
}

const own = (kind: 'net' | 'uts'): string => readlinkSync(`/proc/thread-self/ns/${kind}`);
const ino = (path: string): number => statSync(path).ino;

describe('network and UTS namespaces made in-process, as ip netns and unshare make them (root)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  const netns = new IpNetns();
  const uts = new UnshareUts();
  before(async () => {
    h = await TestHost.create();
  });
  after(async () => {
    await h?.cleanup();
    rmSync(`/etc/netns/${h?.sb('etc')}`, { recursive: true, force: true });
  });

  it('add: listed by ip netns list, a fresh namespace with lo down, mounted as ip netns add mounts it', async () => {
    const mine = h.sb('a');
    const ips = h.sb('ip');
    const before = own('net');
    await netns.add(mine);
    assert.equal(own('net'), before, 'the calling thread is back in its own namespace');
    assert.ok((await sh('ip', ['netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === mine));
    assert.notEqual(ino(`/run/netns/${mine}`), ino('/proc/thread-self/ns/net'));
    const links = JSON.parse((await sh('ip', ['netns', 'exec', mine, 'ip', '-j', 'link'])).stdout) as { ifname: string; flags: string[] }[];
    assert.deepEqual(
      links.map((l) => [l.ifname, l.flags.includes('UP')]),
      [['lo', false]],
    );
    // The same as iproute2's own: /run/netns shared, an nsfs mount of the same shape and mode.
    assert.equal((await sh('ip', ['netns', 'add', ips])).exitCode, 0);
    assert.match(mountsAt(`/run/netns/${mine}`).join('|'), /^shared:\d+ nsfs nsfs$/);
    assert.deepEqual(
      mountsAt(`/run/netns/${mine}`).map((m) => m.replace(/shared:\d+/, 'shared')),
      mountsAt(`/run/netns/${ips}`).map((m) => m.replace(/shared:\d+/, 'shared')),
    );
    assert.match(mountsAt('/run/netns').join(), /shared:\d+/);
    assert.equal(statSync(`/run/netns/${mine}`).mode, statSync(`/run/netns/${ips}`).mode);
    // Two namespaces, not one twice.
    assert.notEqual(ino(`/run/netns/${mine}`), ino(`/run/netns/${ips}`));
    await netns.del(ips);
  });

  it('add with loUp: lo is up with 127.0.0.1/8, as after ip link set lo up, and nothing else differs', async () => {
    const mine = h.sb('lo');
    const ips = h.sb('iplo');
    await netns.add(mine, { loUp: true });
    await sh('ip', ['netns', 'add', ips]);
    await sh('ip', ['-n', ips, 'link', 'set', 'lo', 'up']);
    const view = async (ns: string) => ({
      links: (await sh('ip', ['-n', ns, '-o', 'link'])).stdout.replace(/^\d+: /gm, ''),
      addrs: (await sh('ip', ['-n', ns, '-o', 'addr'])).stdout,
      routes: (await sh('ip', ['-n', ns, 'route', 'show', 'table', 'all'])).stdout,
    });
    const got = await view(mine);
    assert.match(got.links, /^lo: <LOOPBACK,UP,LOWER_UP>/);
    assert.match(got.addrs, /inet 127\.0\.0\.1\/8/);
    assert.deepEqual(got, await view(ips));
    await netns.del(mine);
    await netns.del(ips);
  });

  it('ip netns exec enters it, with /etc/netns/NAME bound over /etc as for any named namespace', async () => {
    const name = h.sb('etc');
    await netns.add(name);
    mkdirSync(`/etc/netns/${name}`, { recursive: true });
    writeFileSync(`/etc/netns/${name}/hosts`, '10.1.2.3 only-here\n');
    const r = await sh('ip', ['netns', 'exec', name, 'sh', '-c', 'readlink /proc/self/ns/net; cat /etc/hosts']);
    assert.equal(r.exitCode, 0, r.stderr);
    const [nsLink, hosts] = r.stdout.split('\n', 2);
    assert.equal(nsLink, `net:[${ino(`/run/netns/${name}`)}]`);
    assert.equal(hosts, '10.1.2.3 only-here');
    await netns.del(name);
  });

  it('del: not listed, no mount, no file; deleting again succeeds', async () => {
    const name = h.sb('d');
    await netns.add(name);
    await netns.del(name);
    assert.ok(!(await sh('ip', ['netns', 'list'])).stdout.includes(name));
    assert.deepEqual(mountsAt(`/run/netns/${name}`), []);
    assert.ok(!existsSync(`/run/netns/${name}`));
    await netns.del(name);
  });

  it('a taken name: EEXIST naming it, and the namespace there is left as it was', async () => {
    const name = h.sb('taken');
    await netns.add(name);
    const was = ino(`/run/netns/${name}`);
    const err = await netns.add(name).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    const s = systemCause(err);
    assert.deepEqual([s?.errno, s?.step, s?.object], ['EEXIST', 'create netns', `netns ${name}`]);
    assert.match(String((err as Error).message), new RegExp(`create netns ${name}: .*/run/netns/${name}.*File exists`));
    assert.equal(ino(`/run/netns/${name}`), was);
    assert.equal(mountsAt(`/run/netns/${name}`).length, 1);
    await netns.del(name);
  });

  it('a bad name: EINVAL naming it and what would be valid, nothing made', async () => {
    const entries = readdirSync('/run/netns').sort();
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;
    for (const bad of ['a/b', '..', '.', '', 'x'.repeat(256)]) {
      const err = await netns.add(bad).then(
        () => assert.fail(`expected ${JSON.stringify(bad)} to be refused`),
        (e: unknown) => e,
      );
      assert.equal(systemCause(err)?.errno, 'EINVAL');
      assert.ok(String((err as Error).message).startsWith(`invalid network namespace name "${bad}": expected 1 to 255 bytes`));
    }
    assert.deepEqual(readdirSync('/run/netns').sort(), entries);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length, mounts);
    // iproute2 agrees on where the line is: 255 bytes are a name.
    const longest = `${h.sb('')}${'x'.repeat(255 - h.sb('').length)}`;
    await netns.add(longest);
    await netns.del(longest);
  });

  it('alias: another name for a namespace (host and container modes)', async () => {
    const target = h.sb('t');
    const alias = h.sb('alias');
    await netns.add(target);
    await netns.alias(alias, { kind: 'named', name: target });
    assert.equal(ino(`/run/netns/${alias}`), ino(`/run/netns/${target}`));
    await netns.del(alias);
    assert.ok(existsSync(`/run/netns/${target}`));
    await netns.del(target);
  });

  it('uts: a namespace with its host and domain names, entered by nsenter; the thread keeps its own; del leaves nothing', async () => {
    const sb = h.sb('u');
    const before = own('uts');
    await uts.add(sb, 'web-1', 'example.test');
    assert.equal(own('uts'), before);
    const names = await sh('nsenter', [`--uts=${utsPath(sb)}`, 'sh', '-c', 'hostname; domainname']);
    assert.equal(names.stdout, 'web-1\nexample.test');
    // Made again (a restart's ensureSandbox): the old one goes, no domain shows the kernel's "(none)".
    await uts.add(sb, 'web-2', '');
    assert.equal((await sh('nsenter', [`--uts=${utsPath(sb)}`, 'sh', '-c', 'hostname; domainname'])).stdout, 'web-2\n(none)');
    assert.equal(mountsAt(utsPath(sb)).length, 1);
    await uts.del(sb);
    assert.ok(!existsSync(utsPath(sb)));
    assert.deepEqual(mountsAt(utsPath(sb)), []);
    await uts.del(sb);
  });

  it('uts: a host name the kernel refuses names it, and leaves no file and no mount', async () => {
    const sb = h.sb('ubad');
    const err = await uts.add(sb, 'x'.repeat(65), '').then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.equal(systemCause(err)?.errno, 'EINVAL');
    assert.match(String((err as Error).message), /sethostname "x{65}": Invalid argument/);
    assert.ok(!existsSync(utsPath(sb)));
    assert.deepEqual(mountsAt(utsPath(sb)), []);
  });
});
