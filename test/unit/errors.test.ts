// Errors keep their cause: a system failure is a SystemError with errno, step and object (the
// fake's the same as the real one's), callers' context is a cause chain, and a rollback keeps
// each of its failures.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorList, NetloomError, SystemError, attemptAll, errnoOf, errorFields, logFailures, rollback, systemCause, wrap } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { pino } from 'pino';
import { Controller } from '../../controller/index.js';
import { undoAll } from '../../drivers/driver.js';
import { MemoryStore } from '../../store/memory.js';
import { run } from '../../system/exec.js';
import { createFakeSystem } from '../../system/fake/index.js';
import { openHandle } from '../../system/index.js';
import { setSysctl } from '../../system/sysctl.js';

/** The fields every system failure must carry, compared as one value. */
const shape = (err: unknown): { isSystemError: boolean; errno?: string; step?: string; object?: string } => {
  const sys = systemCause(err);
  return { isSystemError: sys !== undefined, errno: sys?.errno, step: sys?.step, object: sys?.object };
};

/** A logger that keeps what it is given. */
function recorder(): { warn(obj: object, msg: string): void; lines: [object, string][] } {
  const lines: [object, string][] = [];
  return { lines, warn: (obj, msg) => void lines.push([obj, msg]) };
}

describe('SystemError and the cause chain', () => {
  test('wrap keeps a system failure as its cause, and stays an internal NL_SYSTEM error as before', () => {
    const sys = new SystemError({ step: 'delete link', object: 'nlv0a1b2c3d4e in netns web', errno: 'EBUSY' });
    assert.equal(sys.message, 'delete link nlv0a1b2c3d4e in netns web: EBUSY');
    const outer = wrap(wrap(sys, 'disconnect sandbox "web"'), 'delete sandbox "web"');
    assert.ok(outer instanceof NetloomError);
    assert.deepEqual([outer.kind, outer.code, outer.status], ['internal', 'NL_SYSTEM', 500]);
    assert.equal(outer.message, 'delete sandbox "web": disconnect sandbox "web": delete link nlv0a1b2c3d4e in netns web: EBUSY');
    assert.equal(errnoOf(outer), 'EBUSY');
    assert.equal(systemCause(outer), sys);
    assert.deepEqual(errorFields(outer), {
      err: outer.message,
      errno: 'EBUSY',
      step: 'delete link',
      object: 'nlv0a1b2c3d4e in netns web',
      causes: ['disconnect sandbox "web": delete link nlv0a1b2c3d4e in netns web: EBUSY', sys.message],
    });
  });

  test('errnoOf reads a Node system error too, and says nothing for a refusal or a plain error', () => {
    const node = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
    assert.equal(errnoOf(new Error('outer', { cause: node })), 'ENOENT');
    assert.equal(errnoOf(new NetloomError('conflict', 'NL_SANDBOX_EXISTS', 'sandbox web already exists')), '');
    assert.equal(errnoOf(new Error('Request rejected: EEXIST')), '', 'never from the message text');
    assert.equal(errnoOf(undefined), '');
  });
});

describe('rollback keeps every failure', () => {
  test('undoAll runs every step and throws an ErrorList: each failure kept, the message joined as before', async () => {
    const ran: number[] = [];
    const busy = new SystemError({ step: 'delete link', object: 'br-1', errno: 'EBUSY' });
    const gone = new Error('iptables -w -t nat -D X: Bad rule');
    const err = await undoAll([
      async () => void ran.push(1),
      async () => {
        ran.push(2);
        throw busy;
      },
      async () => {
        ran.push(3);
        throw gone;
      },
      async () => void ran.push(4),
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.deepEqual(ran, [1, 2, 3, 4]);
    assert.ok(err instanceof ErrorList && err instanceof AggregateError);
    assert.deepEqual(err.errors, [busy, gone]);
    assert.equal(err.message, 'delete link br-1: EBUSY; iptables -w -t nat -D X: Bad rule');
    assert.equal(await attemptAll([async () => undefined]), undefined);
  });

  test('rollback logs each failure with errno, step and object, and does not throw', async () => {
    const log = recorder();
    await rollback(log, 'connect: rollback step failed', [
      async () => {
        throw new SystemError({ step: 'delete link', object: 'nlv1', errno: 'EBUSY' });
      },
      async () => undefined,
      async () => {
        throw new Error('store unreachable');
      },
    ]);
    assert.deepEqual(log.lines, [
      [{ err: 'delete link nlv1: EBUSY', errno: 'EBUSY', step: 'delete link', object: 'nlv1' }, 'connect: rollback step failed'],
      [{ err: 'store unreachable' }, 'connect: rollback step failed'],
    ]);
    const one = recorder();
    logFailures(one, new Error('x', { cause: new Error('y') }), 'w');
    assert.deepEqual(one.lines, [[{ err: 'x', causes: ['y'] }, 'w']]);
  });
});

describe('the fake and the real system fail with the same typed errors', () => {
  test('an injected fake failure: errno EIO, the step of the method, the object with its namespace', async () => {
    const sys = createFakeSystem();
    await sys.netns.add('web');
    const sb = await sys.open({ kind: 'named', name: 'web' });
    sys.failNext('addAddr');
    const err = await sb.addAddr('lo', '10.9.0.2/24').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.deepEqual(shape(err), { isSystemError: true, errno: 'EIO', step: 'add address', object: '10.9.0.2/24 on lo in netns web' });
    assert.match(String(err), /addAddr web lo 10\.9\.0\.2\/24: injected failure: EIO/);
    sys.failNext('restore');
    assert.deepEqual(shape(await sys.firewall.restore(6, '').catch((e: unknown) => e)), {
      isSystemError: true,
      errno: 'EIO',
      step: 'apply rules',
      object: 'ip6tables',
    });
  });

  test('a fake refusal names its step and object: EEXIST on a veth peer, ENODEV on a missing link, iptables text', async () => {
    const sys = createFakeSystem();
    await sys.netns.add('sb1');
    const sb = await sys.open({ kind: 'named', name: 'sb1' });
    const peer = { peerName: 'lo', peerNs: { kind: 'self' } as const, alias: 'a' };
    assert.deepEqual(shape(await sb.addVeth({ hostName: 'v1', ...peer }).catch((e: unknown) => e)), {
      isSystemError: true,
      errno: 'EEXIST',
      step: 'create veth',
      object: 'v1 in netns sb1',
    });
    assert.deepEqual(shape(await sb.setMtu('nope', 1400).catch((e: unknown) => e)), {
      isSystemError: true,
      errno: 'ENODEV',
      step: 'set mtu of link',
      object: 'nope in netns sb1',
    });
    assert.deepEqual(shape(await sys.netns.add('sb1').catch((e: unknown) => e)), {
      isSystemError: true,
      errno: 'EEXIST',
      step: 'create netns',
      object: 'netns sb1',
    });
    const restore = await sys.firewall.restore(4, '*filter\n-A NOPE -j ACCEPT\nCOMMIT\n').catch((e: unknown) => e);
    assert.deepEqual(shape(restore), { isSystemError: true, errno: 'ENOENT', step: 'apply rules', object: 'iptables' });
    assert.match(String((restore as Error).message), /^iptables-restore -w --noflush: iptables-restore: line 2 failed: chain NOPE does not exist/);
    assert.equal((restore as SystemError).exitCode, 1);
  });

  test('a sysctl of a link that is not there: the same error from the fake and from /proc/sys', async () => {
    const key = 'net/ipv4/conf/nlnosuch9z8/route_localnet';
    const fake = await createFakeSystem()
      .sysctl(key, '1')
      .catch((e: unknown) => e);
    const real = await setSysctl(key, '1').catch((e: unknown) => e);
    const want = { isSystemError: true, errno: 'ENOENT', step: 'write sysctl', object: `${key}=1` };
    assert.deepEqual(shape(fake), want);
    assert.deepEqual(shape(real), want);
    assert.equal((real as Error).cause !== undefined, true, 'the real one keeps the fs error as its cause');
  });

  test('a netlink request on a link that is not there: the same error from the fake and from the kernel', async (t) => {
    let host;
    try {
      host = openHandle({ kind: 'self' });
    } catch (err) {
      return t.skip(`no rtnetlink socket here: ${(err as Error).message}`);
    }
    try {
      // Refused before any change: the link does not exist (nothing on any host is called this).
      const real = await host.addAddr('nlnosuch9z8', '10.255.255.9/32').catch((e: unknown) => e);
      const fake = await createFakeSystem()
        .host.addAddr('nlnosuch9z8', '10.255.255.9/32')
        .catch((e: unknown) => e);
      const want = { isSystemError: true, errno: 'ENODEV', step: 'add address', object: '10.255.255.9/32 on nlnosuch9z8' };
      assert.deepEqual(shape(real), want);
      assert.deepEqual(shape(fake), want);
    } finally {
      host.close();
    }
  });

  test('a program that fails: errno from the spawn error or its error line, the exit code, step and object', async () => {
    const missing = await run('nl-no-such-program', ['x']).catch((e: unknown) => e);
    assert.ok(missing instanceof SystemError);
    assert.deepEqual([missing.errno, missing.step, missing.object, missing.exitCode], ['ENOENT', 'run', 'nl-no-such-program x', -1]);
    assert.equal((missing.cause as NodeJS.ErrnoException).code, 'ENOENT', 'the spawn error is the cause');
    const exists = await run('sh', ['-c', 'echo "Cannot create namespace file \\"/run/netns/x\\": File exists" >&2; exit 1'], {
      step: 'create netns',
      object: 'netns x',
    }).catch((e: unknown) => e);
    assert.deepEqual(shape(exists), { isSystemError: true, errno: 'EEXIST', step: 'create netns', object: 'netns x' });
    assert.equal((exists as SystemError).exitCode, 1);
  });
});

describe('the controller tests the field, and its errors keep the cause', () => {
  test('a failed connect is NL_SYSTEM as before, with the system failure underneath', async () => {
    const sys = createFakeSystem();
    const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger });
    await ctl.start();
    await ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
    await ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
    await ctl.createSandbox({ name: 'web', network: 'front' });
    sys.failNext('addAddr');
    const err = await ctl.connect('back', 'web').catch((e: unknown) => e);
    assert.ok(err instanceof NetloomError && err.code === 'NL_SYSTEM' && err.kind === 'internal', String(err));
    assert.match(err.message, /^connect sandbox "web" to network "back": addAddr /);
    assert.deepEqual(shape(err), { isSystemError: true, errno: 'EIO', step: 'add address', object: '10.2.0.2/24 on eth1 in netns web' });
  });

  test('a rollback step that fails too is logged with its cause; the caller still gets the first error', async () => {
    const sys = createFakeSystem();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const ctl = new Controller({ store: new MemoryStore(), sys, log });
    await ctl.start();
    await ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
    await ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
    await ctl.createSandbox({ name: 'web', network: 'front' });
    sys.failNext('addAddr');
    sys.failNext('delLink'); // the join's own undo of its veth
    await assert.rejects(ctl.connect('back', 'web'), /^NetloomError: connect sandbox "web" to network "back": addAddr /);
    const rolled = lines.filter((l) => l.msg === 'bridge join: rollback step failed');
    assert.equal(rolled.length, 1, JSON.stringify(lines));
    assert.deepEqual([rolled[0].errno, rolled[0].step, String(rolled[0].object).startsWith('nlv')], ['EIO', 'delete link', true]);
    assert.match(String(rolled[0].err), /^delLink self nlv\w+: injected failure: EIO$/);
  });

  test('sandbox create over a namespace that appeared meanwhile (EEXIST) leaves that namespace alone', async () => {
    const sys = createFakeSystem();
    const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger });
    await ctl.start();
    // Someone else's namespace appears between the check and the create: the failure is EEXIST
    // (the errno decides, not the words of the message).
    const exists = new SystemError({ step: 'create netns', object: 'netns db', errno: 'EEXIST', message: 'ip netns add db: refused' });
    sys.failAfter('netns.add', exists);
    await assert.rejects(ctl.createSandbox({ name: 'db', network: 'none' }), /refused/);
    assert.deepEqual(await sys.netns.list(), ['db'], 'not deleted: it is not ours');
    // Any other failure: what the call made is undone.
    sys.failAfter('netns.add', new SystemError({ step: 'create netns', object: 'netns db2', errno: 'EIO' }));
    await assert.rejects(ctl.createSandbox({ name: 'db2', network: 'none' }), /EIO/);
    assert.deepEqual(await sys.netns.list(), ['db']);
  });
});

describe('String(err) reads as before', () => {
  test('a SystemError and an ErrorList print as the plain Errors they replace', () => {
    const sys = new SystemError({ step: 'run', object: 'iptables-restore -w --noflush', errno: '', message: 'iptables-restore -w --noflush: line 2 failed' });
    assert.equal(String(sys), 'Error: iptables-restore -w --noflush: line 2 failed');
    assert.equal(String(new ErrorList([sys, new Error('b')])), 'Error: iptables-restore -w --noflush: line 2 failed; b');
  });
});
