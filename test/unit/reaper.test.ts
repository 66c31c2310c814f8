// The reaper on the fake system: disconnect and rm retire links and return; deletes wait for an
// idle queue, one per slot; a restart sweeps what a crash left. The timers are fired by hand.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

interface Timer {
  fn: () => void;
  ms: number;
  cancelled: boolean;
}

async function world(maxPending?: number, store = new MemoryStore(), sys = createFakeSystem()) {
  const timers: Timer[] = [];
  const schedule = (fn: () => void, ms: number) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => (t.cancelled = true);
  };
  const ctl = new Controller({ store, sys, log: silentLogger, reaper: { quietMs: 50, maxPending, schedule } });
  await ctl.start();
  /** The armed timer (the last one, not cancelled), fired by hand; undefined if none. */
  const fire = (): number | undefined => {
    const t = timers.filter((x) => !x.cancelled).at(-1);
    if (!t) return undefined;
    t.cancelled = true;
    t.fn();
    return t.ms;
  };
  return { store, sys, ctl, timers, fire };
}

const retired = async (sys: FakeSystem): Promise<string[]> => (await sys.host.links()).filter((l) => l.name.startsWith('nlr')).map((l) => l.name);
const deletes = (sys: FakeSystem): number => sys.calls.filter((c) => c.method === 'delLink').length;

async function withTwoSandboxes(maxPending?: number) {
  const w = await world(maxPending);
  await w.ctl.createNetwork({ name: 'front', ipam: [{ subnet: '10.1.0.0/24' }] });
  await w.ctl.createSandbox({ name: 'web', network: 'front' });
  await w.ctl.createSandbox({ name: 'db', network: 'front' });
  return w;
}

describe('reaper', () => {
  test('a disconnect retires the pair at once (down, detached, renamed) and deletes nothing', async () => {
    const w = await withTwoSandboxes();
    const before = deletes(w.sys);
    await w.ctl.disconnect('front', 'web');
    assert.equal(deletes(w.sys), before);
    const [name] = await retired(w.sys);
    const host = await w.sys.host.link(name);
    assert.ok(host && !host.up && host.master === undefined);
    const sb = await w.sys.open({ kind: 'named', name: 'web' });
    assert.equal(await sb.link('eth0'), undefined, 'eth0 is free');
    assert.equal((await sb.link(name))?.up, false);
    assert.deepEqual(await sb.routes(), [], 'no route through the retired end');
    assert.deepEqual(await sb.addrs(name), [], 'no address on it');
    sb.close();
    assert.deepEqual((await w.ctl.doctor()).findings, [], 'doctor: a pending reap is no problem');
    // The address and the name are free: the same ones come back.
    await w.ctl.connect('front', 'web', { ipv4Address: '10.1.0.2' });
    const ep = w.ctl.sandboxView('web');
    assert.match(JSON.stringify(ep), /10\.1\.0\.2/);
    assert.deepEqual(await w.ctl.settle(), [name]);
    assert.deepEqual(await retired(w.sys), []);
    assert.deepEqual((await w.ctl.doctor()).findings, []);
  });

  test('the delete waits for an idle queue: an operation re-arms the quiet period', async () => {
    const w = await withTwoSandboxes();
    await w.ctl.disconnect('front', 'web');
    const armed = w.timers.filter((t) => !t.cancelled);
    assert.equal(armed.at(-1)?.ms, 50);
    const op = w.ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
    assert.ok(
      armed.every((t) => t.cancelled),
      'an arriving operation cancels the timer',
    );
    await op;
    const before = deletes(w.sys);
    assert.equal(w.fire(), 50, 'armed again after the operation, with the full quiet period');
    await w.ctl.doctor(); // queued behind the reap
    assert.equal(deletes(w.sys), before + 1);
    assert.deepEqual(await retired(w.sys), []);
  });

  test('an operation arriving during reaping waits for one delete, not all of them', async () => {
    const w = await withTwoSandboxes();
    await w.ctl.disconnect('front', 'web');
    await w.ctl.disconnect('front', 'db');
    assert.equal((await retired(w.sys)).length, 2);
    const start = w.sys.calls.length;
    w.fire();
    await w.ctl.createNetwork({ name: 'back', ipam: [{ subnet: '10.2.0.0/24' }] });
    const methods = w.sys.calls.slice(start).map((c) => c.method);
    assert.equal(methods[0], 'delLink');
    assert.equal(methods.filter((m) => m === 'delLink').length, 1, `one delete before the create: ${methods.join(' ')}`);
    assert.equal((await retired(w.sys)).length, 1);
    // Only reaper slots run from now on: the next delete is due at once.
    assert.equal(w.fire(), 50);
    await w.ctl.doctor();
    assert.deepEqual(await retired(w.sys), []);
  });

  test('after a reap with nothing else queued the next one is due at once', async () => {
    const w = await withTwoSandboxes();
    await w.ctl.disconnect('front', 'web');
    await w.ctl.disconnect('front', 'db');
    const n = w.timers.length;
    assert.equal(w.fire(), 50);
    // Wait for the reap's slot to end without queueing anything (bounded).
    for (let i = 0; i < 100 && w.timers.length === n; i++) await new Promise<void>((r) => setImmediate(r));
    assert.equal((await retired(w.sys)).length, 1);
    assert.equal(w.fire(), 0, 'only the reaper ran since the quiet period: no new wait');
    await w.ctl.doctor();
    assert.deepEqual(await retired(w.sys), []);
  });

  test('a backlog above maxPending is reaped one link per operation, idle or not', async () => {
    const w = await withTwoSandboxes(1);
    await w.ctl.disconnect('front', 'web');
    const before = deletes(w.sys);
    await w.ctl.disconnect('front', 'db'); // two pending now
    await w.ctl.doctor();
    assert.equal(deletes(w.sys), before + 1);
  });

  test('network rm retires the bridge: its name is free for the next create', async () => {
    const w = await world();
    const opts = { 'com.docker.network.bridge.name': 'brx' };
    await w.ctl.createNetwork({ name: 'x', ipam: [{ subnet: '10.3.0.0/24' }], options: opts });
    await w.ctl.removeNetwork('x');
    assert.equal((await retired(w.sys)).length, 1);
    assert.equal(await w.sys.host.link('brx'), undefined);
    await w.ctl.createNetwork({ name: 'x', ipam: [{ subnet: '10.3.0.0/24' }], options: opts });
    assert.ok((await w.sys.host.link('brx'))?.up);
    assert.equal((await w.ctl.settle()).length, 1);
  });

  test('a crash with a pending reap: the restart sweeps the retired pair; close() reaps', async () => {
    const w = await withTwoSandboxes();
    await w.ctl.disconnect('front', 'web');
    assert.equal((await retired(w.sys)).length, 1);
    // No close(): the process is gone, the kernel and the store stay.
    const again = await world(undefined, w.store, w.sys);
    assert.deepEqual(await retired(again.sys), []);
    assert.deepEqual((await again.ctl.doctor()).findings, []);
    await again.ctl.disconnect('front', 'db');
    assert.equal((await retired(again.sys)).length, 1);
    await again.ctl.close();
    assert.deepEqual(await retired(again.sys), []);
  });
});
