// The driver seam: capabilities (the controller tests them, never a driver's name), the typed
// handle (options parsed once per network, typed configs back to the firewaller), over
// system/fake with a registry that holds a driver the controller has never heard of.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { createBridgeDriver } from '../../drivers/bridge/index.js';
import type { Capabilities, Driver, EndpointInfo } from '../../drivers/driver.js';
import { loadDriver, type LoadedDriver } from '../../drivers/handle.js';
import { defaultDrivers } from '../../drivers/registry.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem } from '../../system/fake/index.js';

interface ToyConfig {
  readonly color: string;
}

/** A driver with no kernel objects that records what it is asked. */
function toyDriver(name: string, caps: Partial<Capabilities> = {}) {
  const seen = { parses: 0, joins: [] as EndpointInfo[], restored: [] as string[][] };
  const driver: Driver<ToyConfig> = {
    name,
    caps: { scope: 'local', usesIpam: true, dns: false, publish: false, defaultRoute: true, ...caps },
    options: {
      parse: (opts) => {
        seen.parses++;
        return { color: opts.color ?? 'plain' };
      },
      unique: (c) => ({ color: c.color }),
      hostBinding: () => '127.0.0.1',
    },
    lifecycle: {
      createNetwork: async () => undefined,
      deleteNetwork: async () => undefined,
      join: async (_env, _net, _c, ep) => void seen.joins.push(ep),
      leave: async () => undefined,
      hostLinks: () => [],
    },
    firewall: {
      restore: async (_env, nets) => void seen.restored.push(nets.map((n) => n.config.color)),
      lines: () => ({ 4: { filter: [], nat: [] }, 6: { filter: [], nat: [] } }),
      ownLines: () => [],
    },
  };
  return { driver, seen };
}

async function world(extra: [string, LoadedDriver][]) {
  const sys = createFakeSystem();
  const drivers = new Map([...defaultDrivers(), ...extra]);
  const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger, drivers });
  await ctl.start();
  return { sys, ctl };
}

describe('loadDriver', () => {
  const meta = { id: '0123456789abcdef', name: 'n', internal: false };

  test("a network's options can take a capability away (bridge inhibit_ipv4: no DNS)", () => {
    const bridge = loadDriver(createBridgeDriver());
    assert.equal(bridge.open({}, meta).caps.dns, true);
    assert.equal(bridge.open({ 'com.docker.network.bridge.inhibit_ipv4': 'true' }, meta).caps.dns, false);
    assert.equal(bridge.caps.dns, true, "the driver's own capabilities are unchanged");
  });

  test("the firewaller gets the typed configs of its handles, and refuses another driver's", async () => {
    const { driver, seen } = toyDriver('toy');
    const toy = loadDriver(driver);
    const other = loadDriver(toyDriver('other').driver);
    const net = { id: 'x', name: 'x', internal: false, enableIPv6: false, pools: [] };
    const env = { sys: createFakeSystem(), log: silentLogger, tag: () => '' };
    await toy.firewall!.restore(env, [{ handle: toy.open({ color: 'red' }, meta), net, endpoints: [] }]);
    assert.deepEqual(seen.restored, [['red']]);
    await assert.rejects(toy.firewall!.restore(env, [{ handle: other.open({}, meta), net, endpoints: [] }]), /a other network was handed to driver toy/);
  });

  test('a bad option is refused when the network is opened, naming it', () => {
    const bridge = loadDriver(createBridgeDriver());
    assert.throws(
      () => bridge.open({ 'com.docker.network.driver.mtu': 'big' }, meta),
      (e: unknown) => e instanceof NetloomError && /invalid MTU "big"/.test(e.message),
    );
  });
});

describe('the controller asks capabilities, not names', () => {
  test('a driver it does not know publishes ports because it says it can, bound where it says', async () => {
    const { driver, seen } = toyDriver('toy', { publish: true });
    const { ctl } = await world([['toy', loadDriver(driver)]]);
    await ctl.createNetwork({ name: 't', driver: 'toy' });
    await ctl.createSandbox({ name: 'a', network: 't', publish: ['8080:80'] });
    assert.deepEqual(seen.joins.at(-1)?.ports, [{ proto: 'tcp', hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, count: 1 }]);
  });

  test('one that cannot publish is refused in one line, nothing stored', async () => {
    const { driver } = toyDriver('toy');
    const { ctl } = await world([['toy', loadDriver(driver)]]);
    await ctl.createNetwork({ name: 't', driver: 'toy' });
    await assert.rejects(
      ctl.createSandbox({ name: 'a', network: 't', publish: ['80'] }),
      (e: unknown) => e instanceof NetloomError && e.code === 'NL_PUBLISH_UNSUPPORTED',
    );
    assert.throws(() => ctl.sandboxView('a'));
  });

  test('a network that routes nowhere is told its endpoint gives no default route', async () => {
    const { driver, seen } = toyDriver('toy', { defaultRoute: false });
    const { ctl } = await world([['toy', loadDriver(driver)]]);
    await ctl.createNetwork({ name: 't', driver: 'toy' });
    await ctl.createSandbox({ name: 'a', network: 't' });
    assert.equal(seen.joins.at(-1)?.defaultRoute, false);
  });

  test('unique options come from the driver: a second network with the same one is refused', async () => {
    const { driver } = toyDriver('toy');
    const { ctl } = await world([['toy', loadDriver(driver)]]);
    await ctl.createNetwork({ name: 't', driver: 'toy', options: { color: 'red' } });
    await assert.rejects(ctl.createNetwork({ name: 'u', driver: 'toy', options: { color: 'red' } }), /--opt color=red is already used by network "t"/);
  });
});

describe('the network handle', () => {
  test('options are parsed once per network, not per operation; a new network is parsed anew', async () => {
    const { driver, seen } = toyDriver('toy');
    const { ctl } = await world([['toy', loadDriver(driver)]]);
    await ctl.createNetwork({ name: 't', driver: 'toy' });
    await ctl.createSandbox({ name: 's0', network: 't' });
    const after = seen.parses;
    for (const name of ['a', 'b', 'c']) await ctl.createSandbox({ name, network: 't' });
    for (const name of ['a', 'b', 'c']) await ctl.removeSandbox(name);
    await ctl.checkFirewall();
    assert.equal(seen.parses, after, 'connects, disconnects and the firewall check reuse the handle');
    await ctl.removeSandbox('s0');
    await ctl.removeNetwork('t');
    await ctl.createNetwork({ name: 't', driver: 'toy', options: { color: 'blue' } });
    await ctl.createSandbox({ name: 'a', network: 't' });
    assert.ok(seen.parses > after, 'the re-created network is parsed again');
  });
});
