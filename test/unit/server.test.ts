// daemon/server.ts through fastify inject() (no socket), over a Controller on system/fake:
// Docker Engine API routes, statuses and error bodies, and a fuzz that must never see a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { API_VERSION, buildServer } from '../../daemon/server.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

async function serve(): Promise<{ app: FastifyInstance; sys: FakeSystem }> {
  const sys = createFakeSystem();
  const ctl = new Controller({ store: new MemoryStore(), sys, log: silentLogger });
  await ctl.start();
  return { app: buildServer(ctl), sys };
}

let app: FastifyInstance;
let fake: FakeSystem;
before(async () => {
  ({ app, sys: fake } = await serve());
  assert.equal((await app.inject({ method: 'POST', url: '/sandboxes/create', payload: { Name: 'web' } })).statusCode, 201);
});
after(() => app.close());

const post = (url: string, payload?: object) => app.inject({ method: 'POST', url, payload });

describe('server: Docker Engine API routes', () => {
  test('any /vX.Y prefix reaches the same routes', async () => {
    const plain = await app.inject({ method: 'GET', url: '/networks' });
    const v141 = await app.inject({ method: 'GET', url: '/v1.41/networks' });
    assert.equal(v141.statusCode, 200);
    assert.deepEqual(v141.json(), plain.json());
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1.24/networks' })).json(), plain.json());
    assert.deepEqual(
      v141
        .json<{ Name: string }[]>()
        .map((n) => n.Name)
        .sort(),
      ['bridge', 'host', 'none'],
    );
  });

  test('HEAD /_ping answers 200 with Api-Version 1.41 and no body; GET answers OK', async () => {
    const head = await app.inject({ method: 'HEAD', url: '/_ping' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['api-version'], '1.41');
    assert.equal(API_VERSION, '1.41');
    assert.equal(head.body, '');
    assert.equal((await app.inject({ method: 'GET', url: '/v1.41/_ping' })).body, 'OK');
  });

  test('create answers 201 with the Id, a duplicate 409 naming it, and inspect finds it by name and id prefix', async () => {
    const r = await post('/v1.41/networks/create', { Name: 'front', IPAM: { Config: [{ Subnet: '10.1.0.0/24' }] } });
    assert.equal(r.statusCode, 201);
    const { Id, Warning } = r.json<{ Id: string; Warning: string }>();
    assert.match(Id, /^[0-9a-f]{64}$/);
    assert.equal(Warning, '');
    const dup = await post('/networks/create', { Name: 'front' });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().message, 'network with name front already exists');
    const byPrefix = await app.inject({ method: 'GET', url: `/networks/${Id.slice(0, 12)}` });
    assert.equal(byPrefix.json().Name, 'front');
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/front' })).statusCode, 204);
  });

  test("an unknown network is 404 with Docker's message", async () => {
    const r = await app.inject({ method: 'GET', url: '/v1.41/networks/nosuch' });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().message, 'network nosuch not found');
  });

  test('connect and disconnect answer 200 and show in inspect; rm of a used network is 403', async () => {
    await post('/networks/create', { Name: 'mid', IPAM: { Config: [{ Subnet: '10.3.0.0/24' }] } });
    const c = await post('/networks/mid/connect', { Container: 'web', EndpointConfig: { IPAMConfig: { IPv4Address: '10.3.0.7' } } });
    assert.equal(c.statusCode, 200, c.body);
    const inspect = await app.inject({ method: 'GET', url: '/networks/mid' });
    assert.deepEqual(
      Object.values(inspect.json<{ Containers: object }>().Containers).map((x) => x.IPv4Address),
      ['10.3.0.7/24'],
    );
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/mid' })).statusCode, 403);
    assert.equal((await post('/networks/mid/disconnect', { Container: 'web' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/mid' })).statusCode, 204);
  });

  test('a bodiless POST /networks/prune sent as text/plain works and deletes only unused networks', async () => {
    await post('/networks/create', { Name: 'unused', Labels: { keep: 'no' } });
    await post('/networks/create', { Name: 'kept', Labels: { keep: 'yes' } });
    const filters = encodeURIComponent(JSON.stringify({ label: { 'keep=no': true } }));
    const r = await app.inject({ method: 'POST', url: `/v1.41/networks/prune?filters=${filters}`, headers: { 'content-type': 'text/plain' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), { NetworksDeleted: ['unused'] });
    const all = await app.inject({ method: 'POST', url: '/networks/prune', headers: { 'content-type': 'text/plain', 'content-length': '0' } });
    assert.deepEqual(all.json(), { NetworksDeleted: ['kept'] });
  });

  test('prune with a misspelt filter, a bad until or bad JSON deletes nothing; until=24h keeps fresh networks', async () => {
    await post('/networks/create', { Name: 'fresh', Labels: { keep: '1' } });
    const q = (f: string) => `/networks/prune?filters=${encodeURIComponent(f)}`;
    const lable = await app.inject({ method: 'POST', url: q('{"lable":{"keep":true}}') });
    assert.equal(lable.statusCode, 400);
    assert.equal(lable.json().message, "Invalid filter 'lable'");
    assert.equal((await app.inject({ method: 'POST', url: q('{"until":{"1d":true}}') })).statusCode, 500);
    assert.equal((await app.inject({ method: 'POST', url: q('notjson') })).statusCode, 500);
    assert.deepEqual((await app.inject({ method: 'POST', url: q('{"until":{"24h":true}}') })).json(), { NetworksDeleted: null });
    assert.deepEqual((await app.inject({ method: 'POST', url: q('{"label!":{"keep":true}}') })).json(), { NetworksDeleted: null });
    const names = (await app.inject({ method: 'GET', url: '/networks' })).json<{ Name: string }[]>().map((n) => n.Name);
    assert.ok(names.includes('fresh'));
    const ls = await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent('{"type":{"custom":true},"dangling":{"true":true}}')}` });
    assert.deepEqual(
      ls.json<{ Name: string }[]>().map((n) => n.Name),
      ['fresh'],
    );
    assert.equal((await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent('{"lable":{"a":true}}')}` })).statusCode, 400);
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/fresh' })).statusCode, 204);
  });

  test("statuses are Docker's: 403 for overlap, predefined, in use, connected twice; 404 unknown container; 500 bad subnet, not connected", async () => {
    const status = async (method: 'POST' | 'DELETE', url: string, payload?: object) => {
      const r = await app.inject({ method, url, payload });
      return `${r.statusCode} ${r.json<{ code: string }>().code}`;
    };
    assert.equal((await post('/networks/create', { Name: 's1', IPAM: { Config: [{ Subnet: '10.44.0.0/24' }] } })).statusCode, 201);
    assert.equal(await status('POST', '/networks/create', { Name: 's2', IPAM: { Config: [{ Subnet: '10.44.0.0/16' }] } }), '403 NL_IPAM_POOL_OVERLAP');
    assert.equal(await status('POST', '/networks/create', { Name: 's3', IPAM: { Config: [{ Subnet: '10.44.999.0/24' }] } }), '500 NL_IPAM_INVALID_CIDR');
    assert.equal(await status('POST', '/networks/create', { Name: 'host' }), '403 NL_PREDEFINED');
    assert.equal(await status('DELETE', '/networks/bridge'), '403 NL_PREDEFINED');
    assert.equal((await post('/networks/s1/connect', { Container: 'web' })).statusCode, 200);
    assert.equal(await status('POST', '/networks/s1/connect', { Container: 'web' }), '403 NL_ALREADY_CONNECTED');
    assert.equal(await status('DELETE', '/networks/s1'), '403 NL_NETWORK_IN_USE');
    assert.equal(await status('POST', '/networks/s1/disconnect', { Container: 'ghost' }), '404 NL_SANDBOX_NOT_FOUND');
    assert.equal((await post('/networks/s1/disconnect', { Container: 'web' })).statusCode, 200);
    assert.equal(await status('POST', '/networks/s1/disconnect', { Container: 'web' }), '500 NL_NOT_CONNECTED');
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/s1' })).statusCode, 204);
  });

  test('any non-blank name Docker accepts is accepted and found by its URL-encoded path; the bridge name comes from the id', async () => {
    for (const name of ['test 01', 'a/b', 'ü-net', '-lead', 'x'.repeat(300)]) {
      const r = await post('/networks/create', { Name: name });
      assert.equal(r.statusCode, 201, `${name}: ${r.body}`);
      const got = await app.inject({ method: 'GET', url: `/networks/${encodeURIComponent(name)}` });
      assert.equal(got.json().Name, name);
      assert.equal(got.json().Options['com.docker.network.bridge.name'], undefined);
      assert.equal((await app.inject({ method: 'DELETE', url: `/networks/${encodeURIComponent(name)}` })).statusCode, 204);
    }
    const blank = await post('/networks/create', { Name: '  ' });
    assert.equal(blank.statusCode, 400);
    assert.match(blank.json().message, /^invalid name: "  "/);
  });

  test('-o: unknown options are kept and named in Warning; inhibit_ipv4 leaves the bridge without IPv4; container_iface_prefix names the sandbox interface', async () => {
    const Options = {
      foo: 'bar',
      'com.docker.network.bridge.inhibit_ipv4': 'true',
      'com.docker.network.container_iface_prefix': 'nl',
      'com.docker.network.bridge.name': 'nltinhibit',
    };
    const r = await post('/networks/create', { Name: 'opts', Options, IPAM: { Config: [{ Subnet: '10.45.0.0/24', Gateway: '10.45.0.1' }] } });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().Warning, 'driver bridge does not know option "foo": kept in the network\'s Options, but it changes nothing');
    assert.deepEqual((await app.inject({ method: 'GET', url: '/networks/opts' })).json().Options, Options);
    assert.ok(await fake.host.link('nltinhibit'));
    assert.deepEqual(
      (await fake.host.addrs('nltinhibit')).filter((a) => a.cidr.includes('.')),
      [],
    );
    assert.equal((await post('/networks/opts/connect', { Container: 'web' })).statusCode, 200);
    const sb = (await app.inject({ method: 'GET', url: '/sandboxes/web' })).json<{ Networks: Record<string, { Interface: string }> }>();
    assert.equal(sb.Networks.opts.Interface, 'nl0');
    assert.equal((await post('/networks/opts/disconnect', { Container: 'web' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/opts' })).statusCode, 204);
    const plain = await post('/networks/create', { Name: 'plainopts' });
    assert.equal(plain.json().Warning, '');
    assert.equal((await app.inject({ method: 'DELETE', url: '/networks/plainopts' })).statusCode, 204);
    const bad = await post('/networks/create', { Name: 'badopts', Options: { 'com.docker.network.bridge.enable_icc': 'maybe' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /"maybe"/);
  });

  test('IPAM view as Docker 20.10: Options null unless sent; Gateway shown for a chosen subnet or a given gateway only', async () => {
    type V = {
      IPAM: { Options: unknown; Config: object[] };
      ConfigOnly: boolean;
      ConfigFrom: { Network: string };
      Driver: string;
      Options: object;
      Labels: object;
    };
    const view = async (n: string) => (await app.inject({ method: 'GET', url: `/networks/${encodeURIComponent(n)}` })).json<V>();
    await post('/networks/create', { Name: 'v1' });
    await post('/networks/create', { Name: 'v2', IPAM: { Options: {}, Config: [{ Subnet: '10.46.0.0/24' }] } });
    await post('/networks/create', { Name: 'v3', IPAM: { Options: { x: 'y' }, Config: [{ Subnet: '10.47.0.0/24', Gateway: '10.47.0.9' }] } });
    const [v1, v2, v3] = [await view('v1'), await view('v2'), await view('v3')];
    assert.equal(v1.IPAM.Options, null);
    assert.deepEqual(Object.keys(v1.IPAM.Config[0]), ['Subnet', 'Gateway']);
    assert.deepEqual(v2.IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '10.46.0.0/24' }] });
    assert.deepEqual(v3.IPAM, { Driver: 'default', Options: { x: 'y' }, Config: [{ Subnet: '10.47.0.0/24', Gateway: '10.47.0.9' }] });
    for (const n of ['v1', 'v2', 'v3']) assert.equal((await app.inject({ method: 'DELETE', url: `/networks/${n}` })).statusCode, 204);
  });

  test("--config-only records a configuration, --config-from uses it, --scope swarm is refused; Docker's statuses", async () => {
    type V = { IPAM: { Config: object[] }; ConfigOnly: boolean; ConfigFrom: { Network: string }; Driver: string; Options: object; Labels: object };
    const view = async (n: string) => (await app.inject({ method: 'GET', url: `/networks/${n}` })).json<V>();
    const status = async (payload: object) => {
      const r = await post('/networks/create', payload);
      return `${r.statusCode} ${r.statusCode >= 400 ? r.json<{ code: string }>().code : ''}`.trim();
    };
    const opts = { 'com.docker.network.bridge.enable_icc': 'false' };
    const before = await fake.snapshot();
    assert.equal(
      await status({ Name: 'cfg', ConfigOnly: true, IPAM: { Config: [{ Subnet: '10.48.0.0/24', Gateway: '10.48.0.1' }] }, Options: opts, Labels: { l: '1' } }),
      '201',
    );
    assert.deepEqual(await fake.snapshot(), before, 'a config-only network touches no kernel object');
    const cfg = await view('cfg');
    assert.deepEqual([cfg.ConfigOnly, cfg.Driver, cfg.IPAM.Config, cfg.Options], [true, 'null', [{ Subnet: '10.48.0.0/24', Gateway: '10.48.0.1' }], opts]);
    assert.equal(await status({ Name: 'c2', ConfigOnly: true, Internal: true }), '403 NL_CONFIG_ONLY');
    assert.equal(await status({ Name: 'f0', ConfigFrom: { Network: 'nosuch' } }), '404 NL_CONFIG_NOT_FOUND');
    assert.equal(await status({ Name: 'f0', ConfigFrom: { Network: 'cfg' }, Labels: { a: 'b' } }), '403 NL_CONFIG_FROM');
    assert.equal(await status({ Name: 'f0', ConfigFrom: { Network: 'cfg' }, Options: { a: 'b' } }), '403 NL_CONFIG_FROM');
    assert.equal(await status({ Name: 'f0', ConfigFrom: { Network: 'cfg' }, ConfigOnly: true }), '403 NL_CONFIG_FROM');
    assert.equal(
      await status({
        Name: 'from',
        Driver: 'bridge',
        ConfigFrom: { Network: 'cfg' },
        Options: {},
        Labels: {},
        IPAM: { Driver: 'default', Options: {}, Config: [] },
      }),
      '201',
    );
    const from = await view('from');
    assert.deepEqual(
      [from.ConfigOnly, from.ConfigFrom, from.Driver, from.IPAM.Config, from.Options, from.Labels],
      [false, { Network: 'cfg' }, 'bridge', [{ Subnet: '10.48.0.0/24', Gateway: '10.48.0.1' }], opts, { l: '1' }],
    );
    assert.equal(await status({ Name: 'from2', ConfigFrom: { Network: 'from' } }), '404 NL_CONFIG_NOT_FOUND');
    assert.equal((await post('/networks/cfg/connect', { Container: 'web' })).statusCode, 404);
    const rm = await app.inject({ method: 'DELETE', url: '/networks/cfg' });
    assert.equal(`${rm.statusCode} ${rm.json().code}`, '403 NL_CONFIG_IN_USE');
    assert.deepEqual((await app.inject({ method: 'POST', url: '/networks/prune' })).json(), { NetworksDeleted: ['from'] });
    assert.equal((await view('cfg')).ConfigOnly, true, 'prune keeps config-only networks');
    assert.equal(await status({ Name: 'sw', Scope: 'swarm' }), '403 NL_SWARM_SCOPE');
    assert.equal(await status({ Name: 'gl', Scope: 'global' }), '400 NL_BAD_SCOPE');
    assert.equal(await status({ Name: 'lo', Scope: 'local' }), '201');
    for (const n of ['cfg', 'lo']) assert.equal((await app.inject({ method: 'DELETE', url: `/networks/${n}` })).statusCode, 204);
  });

  test('/info, /version, /_ping headers, swarm routes as an engine outside a swarm, a JSON 404 for what is not networks', async () => {
    const ping = await app.inject({ method: 'GET', url: '/_ping' });
    assert.equal(ping.headers.ostype, 'linux');
    assert.equal(ping.headers['docker-experimental'], 'false');
    const info = (await app.inject({ method: 'GET', url: '/v1.41/info' })).json<{
      Plugins: { Network: string[] };
      Swarm: { LocalNodeState: string };
      ServerVersion: string;
    }>();
    assert.deepEqual(info.Plugins.Network, ['bridge', 'host', 'null', 'overlay']);
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
    assert.equal(info.ServerVersion, '0.1.0');
    const v = (await app.inject({ method: 'GET', url: '/v1.41/version' })).json<{ ApiVersion: string; Components: { Name: string }[] }>();
    assert.equal(v.ApiVersion, '1.41');
    const leave = await app.inject({ method: 'POST', url: '/v1.41/swarm/leave?force=1' });
    assert.deepEqual([leave.statusCode, leave.json().message], [503, 'This node is not part of a swarm']);
    for (const url of ['/v1.41/swarm', '/v1.41/nodes', '/v1.41/services?filters=%7B%7D']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 503, url);
      assert.match(r.json().message, /^This node is not a swarm manager/);
    }
    for (const [method, url] of [
      ['GET', '/v1.41/containers/json'],
      ['POST', '/v1.41/images/create'],
      ['GET', '/volumes'],
    ] as const) {
      const r = await app.inject({ method, url });
      assert.equal(r.statusCode, 404);
      assert.match(r.json().message, /^netloom serves Docker's network API only/);
    }
  });

  test("/events: create, connect, disconnect, destroy in Docker's format, filtered by type and event; a bad filter is refused", async () => {
    const since = Date.now() / 1000 - 1;
    await post('/networks/create', { Name: 'ev' });
    await post('/networks/ev/connect', { Container: 'web' });
    await post('/networks/ev/disconnect', { Container: 'web' });
    await app.inject({ method: 'DELETE', url: '/networks/ev' });
    const get = (filters: object) =>
      app.inject({
        method: 'GET',
        url: `/v1.41/events?since=${since}&until=${Date.now() / 1000 + 0.001}&filters=${encodeURIComponent(JSON.stringify(filters))}`,
      });
    const r = await get({ type: { network: true }, network: { ev: true } });
    assert.equal(r.statusCode, 200);
    type Ev = { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: string; time: number; timeNano: number };
    const evs = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Ev);
    assert.deepEqual(
      evs.map((e) => e.Action),
      ['create', 'connect', 'disconnect', 'destroy'],
    );
    const web = (await app.inject({ method: 'GET', url: '/sandboxes/web' })).json<{ Id: string }>().Id;
    assert.deepEqual(evs[1].Actor.Attributes, { container: web, name: 'ev', type: 'bridge' });
    assert.deepEqual(Object.keys(evs[0]), ['Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
    assert.equal(evs[0].Type, 'network');
    assert.equal(evs[0].time, Math.floor(evs[0].timeNano / 1e9));
    assert.deepEqual(
      (await get({ type: { network: true }, event: { destroy: true }, network: { ev: true } })).body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).Action),
      ['destroy'],
    );
    assert.equal((await get({ type: { container: true } })).body, '');
    const bad = await get({ typo: { x: true } });
    assert.deepEqual([bad.statusCode, bad.json().message], [400, "Invalid filter 'typo'"]);
  });

  test('an open /events stream gets events as they happen and does not hold up close()', async () => {
    const { app: own } = await serve();
    const dir = mkdtempSync(join(tmpdir(), 'nl-events-'));
    const socket = join(dir, 'api.sock');
    await own.listen({ path: socket });
    const lines: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ socketPath: socket, path: '/v1.41/events?filters=%7B%22type%22%3A%5B%22network%22%5D%7D' }, (res) => {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['api-version'], '1.41');
        res.setEncoding('utf8');
        res.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    for (let i = 0; i < 100 && !(await own.inject({ method: 'GET', url: '/info' })).json().NEventsListener; i++) await new Promise((r) => setTimeout(r, 10));
    await own.inject({ method: 'POST', url: '/networks/create', payload: { Name: 'live' } });
    for (let i = 0; i < 100 && !lines.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(JSON.parse(lines[0]).Action, 'create');
    await own.close();
    await ended;
    rmSync(dir, { recursive: true, force: true });
  });

  test('config-only and config-from networks survive a restart; doctor finds nothing to fix', async () => {
    const sys = createFakeSystem();
    const store = new MemoryStore();
    const first = new Controller({ store, sys, log: silentLogger });
    await first.start();
    await first.createNetwork({ name: 'cfg', configOnly: true, ipam: [{ subnet: '10.49.0.0/24' }], options: { 'com.docker.network.driver.mtu': '1400' } });
    await first.createNetwork({ name: 'from', configFrom: 'cfg' });
    const views = () => ['cfg', 'from'].map((n) => second.inspectNetwork(n));
    await first.close();
    const second = new Controller({ store, sys, log: silentLogger });
    await second.start();
    const [cfg, from] = views();
    assert.deepEqual(
      [cfg.ConfigOnly, cfg.IPAM.Config, from.ConfigFrom.Network, from.Options],
      [true, [{ Subnet: '10.49.0.0/24' }], 'cfg', { 'com.docker.network.driver.mtu': '1400' }],
    );
    assert.deepEqual((await second.doctor()).findings, []);
    await second.close();
  });

  test('malformed JSON is a 400 with a JSON error body', async () => {
    const r = await app.inject({ method: 'POST', url: '/networks/create', headers: { 'content-type': 'application/json' }, payload: '{"Name": ' });
    assert.equal(r.statusCode, 400);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.match(r.json().message, /^invalid JSON body/);
  });

  test('an unknown path is a JSON 404', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1.41/containers/json' });
    assert.equal(r.statusCode, 404);
    assert.match(r.json().message, /containers\/json/);
  });
});

// Request generators: mostly well-typed, so requests get past wire.ts into the controller.
const str = (max: number) => fc.string({ maxLength: max });
const junk = fc.oneof(str(6), fc.integer(), fc.boolean(), fc.constant(null), fc.array(str(3), { maxLength: 2 }), fc.dictionary(str(3), str(3), { maxKeys: 2 }));
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: a, weight: 12 }, { arbitrary: junk, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 3 });
/** For parts that are wrong most of the time when present: leave them out more often than not. */
const sometimes = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: maybe(a), weight: 1 });
const record = <T extends Record<string, fc.Arbitrary<unknown>>>(r: T) => fc.record(r, { requiredKeys: [] });
const weighted = <T>(often: fc.Arbitrary<T>, rarely: fc.Arbitrary<T>) => fc.oneof({ arbitrary: often, weight: 4 }, { arbitrary: rarely, weight: 1 });

const anyName = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,6}$/);
const name = weighted(fc.constantFrom('front', 'back', 'web', 'db', 'bridge', 'host', 'none', 'a.b_c'), anyName);
const netRef = weighted(fc.constantFrom('front', 'back', 'bridge'), name);
const sbRef = weighted(fc.constantFrom('web', 'db'), name);
const v4 = fc.oneof(
  fc.tuple(fc.constantFrom('10.1.0', '10.2.0'), fc.nat(255)).map((a) => a.join('.')),
  fc.tuple(fc.constantFrom(10, 172, 192), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.')),
);
const ip = fc.oneof(v4, fc.constantFrom('10.1.0.2', '172.17.0.1', 'fd00::1', 'x', '1.2.3'));
const cidr = fc.oneof(
  fc.tuple(v4, fc.integer({ min: 0, max: 33 })).map(([a, p]) => `${a}/${p}`),
  fc.constantFrom('10.1.0.0/24', 'fd00::/64', '::/0', 'junk'),
);
const options = record({
  'com.docker.network.bridge.name': fc.constantFrom('netloom0', 'br-fuzz', 'br_2', 'bad name', '', 'lo'),
  'com.docker.network.driver.mtu': fc.constantFrom('1400', '68', '67', '65536', 'abc', '1e3'),
  'com.docker.network.bridge.enable_icc': fc.constantFrom('true', 'false', '0', 'maybe'),
  'com.docker.network.bridge.enable_ip_masquerade': fc.constantFrom('true', 'false'),
  'com.docker.network.bridge.host_binding_ipv4': fc.oneof(ip, str(4)),
  other: str(4),
});
const pool = record({
  Subnet: maybe(cidr),
  Gateway: maybe(ip),
  IPRange: maybe(cidr),
  AuxiliaryAddresses: maybe(fc.dictionary(str(3), ip, { maxKeys: 2 })),
});
const createBody = fc.record(
  {
    Name: maybe(weighted(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/), name)),
    Driver: maybe(fc.constantFrom('bridge', 'bridge', 'bridge', 'host', 'null', 'none', 'overlay')),
    Internal: maybe(fc.boolean()),
    EnableIPv6: fc.constantFrom(false, true, undefined, undefined, null, 'yes', 0),
    EnableIPv4: fc.constantFrom(true, undefined, undefined, undefined, false, 'no'),
    IPAM: sometimes(record({ Driver: maybe(fc.constantFrom('default', 'netloom', 'dhcp')), Config: maybe(fc.array(maybe(pool), { maxLength: 2 })) })),
    Options: sometimes(options),
    Labels: maybe(fc.dictionary(str(4), str(4), { maxKeys: 2 })),
  },
  { requiredKeys: ['Name', 'EnableIPv6', 'EnableIPv4'] },
);
const endpoint = record({
  IPAMConfig: maybe(record({ IPv4Address: maybe(ip), IPv6Address: maybe(ip) })),
  Aliases: maybe(fc.array(fc.oneof(name, str(4)), { maxLength: 2 })),
});
const on = (verb: string) => netRef.map((n) => `/networks/${encodeURIComponent(n)}/${verb}`);
const request = fc.oneof(
  fc.record({ url: fc.constant('/networks/create'), body: createBody }),
  fc.record({ url: on('connect'), body: record({ Container: maybe(sbRef), EndpointConfig: maybe(endpoint) }) }),
  fc.record({ url: on('disconnect'), body: record({ Container: maybe(sbRef), Force: maybe(fc.boolean()) }) }),
);
/** Now and then one edit of the JSON text: delete, insert or replace a character that matters to JSON. */
const edit = fc.oneof(
  { arbitrary: fc.constant(null), weight: 3 },
  {
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom('del', 'ins', 'rep'), fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '0', 'a', '\\', ' ', 'null')),
    weight: 1,
  },
);

const DOCKER_500 = ['NL_IPAM_INVALID_CIDR', 'NL_NOT_CONNECTED'];

describe('server: fuzz', () => {
  test('random and mutated bodies to create, connect and disconnect never give a 500 Docker would not give, nor break the server', async () => {
    const { app, sys } = await serve();
    const create = (payload: object) => app.inject({ method: 'POST', url: '/networks/create', payload });
    for (const [Name, Subnet] of [
      ['front', '10.1.0.0/24'],
      ['back', '10.2.0.0/24'],
    ]) {
      assert.equal((await create({ Name, Labels: { keep: '' }, IPAM: { Config: [{ Subnet }] } })).statusCode, 201);
    }
    for (const Name of ['web', 'db']) {
      assert.equal((await app.inject({ method: 'POST', url: '/sandboxes/create', payload: { Name } })).statusCode, 201);
    }
    const pruneOthers = `/networks/prune?filters=${encodeURIComponent(JSON.stringify({ 'label!': ['keep'] }))}`;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(request, edit, async ({ url, body }, e) => {
        let payload = JSON.stringify(body) ?? '';
        if (e) {
          const [at, op, ch] = e;
          const i = at % (payload.length + 1);
          payload = payload.slice(0, i) + (op === 'del' ? '' : ch) + payload.slice(op === 'ins' ? i : i + 1);
        }
        const r = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
        // Docker's own 500s for bad input (a bad subnet, disconnecting what is not connected) only.
        assert.ok(r.statusCode < 500 || DOCKER_500.includes(r.json().code), `${url} ${payload} -> ${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400) assert.equal(typeof r.json().message, 'string', r.body);
        // Keep the default pools from running out: prune the fuzz's own unused networks now and then.
        if (++sent % 250 === 0) assert.equal((await app.inject({ method: 'POST', url: pruneOthers })).statusCode, 200);
      }),
      { numRuns: 3000 },
    );
    assert.equal((await app.inject({ method: 'GET', url: '/_ping' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/networks' })).statusCode, 200);
    assert.equal(sys.openHandles, 0);
    await app.close();
  });
});

describe('GET /info with netloomd --iptables=false', () => {
  test('Warnings says so (docker info prints it)', async () => {
    const ctl = new Controller({ store: new MemoryStore(), sys: createFakeSystem(), log: silentLogger, iptables: false });
    await ctl.start();
    const off = buildServer(ctl);
    const info = (await off.inject({ method: 'GET', url: '/info' })).json<{ Warnings: string[] }>();
    assert.ok(
      info.Warnings.some((w) => w.includes('--iptables=false')),
      JSON.stringify(info.Warnings),
    );
    const on = (await app.inject({ method: 'GET', url: '/info' })).json<{ Warnings: string[] }>();
    assert.ok(!on.Warnings.some((w) => w.includes('--iptables')));
    await off.close();
  });
});
