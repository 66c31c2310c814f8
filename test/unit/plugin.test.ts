// The Docker plugin face (plugin/server.ts, mapping.ts and ipam.ts over the controller) through fastify inject(),
// on system/fake and MemoryStore: the engine's call sequences from the wire spec, the error
// shapes it reads, the two faces sharing one IPAM, a restart, and fuzzed bodies.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import { buildPluginServer } from '../../plugin/server.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

interface World {
  store: MemoryStore;
  sys: FakeSystem;
  ctl: Controller;
  app: FastifyInstance;
}

async function start(store = new MemoryStore(), sys = createFakeSystem()): Promise<World> {
  const ctl = new Controller({ store, sys, log: silentLogger });
  await ctl.start();
  return { store, sys, ctl, app: buildPluginServer(ctl, silentLogger) };
}

type J = Record<string, unknown>;
async function call(w: World, method: string, body?: unknown, raw?: string): Promise<{ status: number; json: J }> {
  const payload = raw ?? (body === undefined ? '' : `${JSON.stringify(body)}\n`);
  // No Content-Type, as the engine sends.
  const r = await w.app.inject({ method: 'POST', url: `/${method}`, payload, headers: { 'content-type': undefined as unknown as string } });
  return { status: r.statusCode, json: JSON.parse(r.body) as J };
}

async function okCall(w: World, method: string, body?: unknown): Promise<J> {
  const r = await call(w, method, body);
  assert.equal(r.status, 200, `${method}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.Err ?? r.json.Error, undefined, `${method}: ${JSON.stringify(r.json)}`);
  return r.json;
}

const hex = (): string => randomBytes(32).toString('hex');
const noPorts = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] };

/** docker network create -d netloom --ipam-driver netloom [--subnet ...] [-o ...], in the engine's order. */
async function dockerNetworkCreate(
  w: World,
  o: { subnet?: string; gateway?: string; ipRange?: string; aux?: Record<string, string>; opts?: Record<string, string>; internal?: boolean } = {},
) {
  await okCall(w, 'Plugin.Activate');
  const pool = await okCall(w, 'IpamDriver.RequestPool', {
    AddressSpace: 'netloom-local',
    Pool: o.subnet ?? '',
    SubPool: o.ipRange ?? '',
    Options: {},
    V6: false,
  });
  const prefix = String(pool.Pool).split('/')[1];
  let gw = String((pool.Data as J)['com.docker.network.gateway']);
  if (o.gateway)
    gw = String(
      (await okCall(w, 'IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: o.gateway, Options: { RequestAddressType: 'com.docker.network.gateway' } }))
        .Address,
    );
  for (const ip of Object.values(o.aux ?? {})) await okCall(w, 'IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: ip, Options: null });
  const id = hex();
  const aux = o.aux ? { AuxAddresses: Object.fromEntries(Object.entries(o.aux).map(([k, v]) => [k, `${v}/${prefix}`])) } : {};
  const r = await call(w, 'NetworkDriver.CreateNetwork', {
    NetworkID: id,
    Options: {
      'com.docker.network.enable_ipv6': false,
      'com.docker.network.generic': o.opts ?? {},
      ...(o.internal ? { 'com.docker.network.internal': true } : {}),
    },
    IPv4Data: [{ AddressSpace: 'netloom-local', ...aux, Gateway: gw, Pool: pool.Pool }],
    IPv6Data: [],
  });
  return { id, poolId: String(pool.PoolID), pool: String(pool.Pool), gw: gw.split('/')[0], reply: r };
}

/** docker run --network: RequestAddress, CreateEndpoint, Join, ProgramExternalConnectivity, EndpointOperInfo x2. */
async function dockerRun(w: World, net: { id: string; poolId: string }, address = '') {
  const a = String((await okCall(w, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: address, Options: null })).Address);
  const ep = hex();
  const created = await okCall(w, 'NetworkDriver.CreateEndpoint', {
    NetworkID: net.id,
    EndpointID: ep,
    Interface: { Address: a, AddressIPv6: '', MacAddress: '' },
    Options: noPorts,
  });
  const join = await okCall(w, 'NetworkDriver.Join', { NetworkID: net.id, EndpointID: ep, SandboxKey: '/var/run/docker/netns/abc', Options: noPorts });
  await okCall(w, 'NetworkDriver.ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep, Options: noPorts });
  for (let i = 0; i < 2; i++) assert.deepEqual(await okCall(w, 'NetworkDriver.EndpointOperInfo', { NetworkID: net.id, EndpointID: ep }), { Value: {} });
  return { ep, address: a, created, join };
}

/** docker rm -f: Revoke, Leave, DeleteEndpoint, ReleaseAddress. */
async function dockerRm(w: World, net: { id: string; poolId: string }, c: { ep: string; address: string }) {
  for (const m of ['NetworkDriver.RevokeExternalConnectivity', 'NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint'])
    await okCall(w, m, { NetworkID: net.id, EndpointID: c.ep });
  await okCall(w, 'IpamDriver.ReleaseAddress', { PoolID: net.poolId, Address: c.address.split('/')[0] });
}

/** docker network rm: ReleaseAddress(gateway, aux...), ReleasePool, DeleteNetwork. */
async function dockerNetworkRm(w: World, net: { id: string; poolId: string; gw: string }, aux: string[] = []) {
  for (const ip of [net.gw, ...aux]) await okCall(w, 'IpamDriver.ReleaseAddress', { PoolID: net.poolId, Address: ip });
  await okCall(w, 'IpamDriver.ReleasePool', { PoolID: net.poolId });
  await okCall(w, 'NetworkDriver.DeleteNetwork', { NetworkID: net.id });
}

const dockerKeys = async (store: MemoryStore): Promise<string[]> =>
  (await store.list('')).map((e) => e.key).filter((k) => k.includes('dk-') || /^(net|ep)\/[0-9a-f]{64}$/.test(k) || k.startsWith('netname/docker-'));

describe("plugin: the engine's sequences", () => {
  test('create (subnet, gateway, ip-range, aux, mtu), run, rm -f, network rm leave nothing behind', async () => {
    const w = await start();
    const before = w.sys.snapshot();
    const storeBefore = await dockerKeys(w.store);
    const net = await dockerNetworkCreate(w, {
      subnet: '10.98.0.0/16',
      gateway: '10.98.0.254',
      ipRange: '10.98.5.0/24',
      aux: { a1: '10.98.0.10' },
      opts: { 'com.docker.network.driver.mtu': '1400' },
    });
    assert.equal(net.reply.status, 200);
    assert.deepEqual(net.reply.json, {});
    const view = w.ctl.inspectNetwork(net.id);
    assert.equal(view.Name, `docker-${net.id.slice(0, 12)}`);
    assert.deepEqual(view.IPAM.Config[0], { Subnet: '10.98.0.0/16', IPRange: '10.98.5.0/24', Gateway: '10.98.0.254' });
    const bridge = w.sys.snapshot().namespaces.self.links.find((l) => l.kind === 'bridge' && l.alias?.includes(net.id.slice(0, 12)));
    assert.equal(bridge?.mtu, 1400, 'the driver applies the MTU (Docker does not for remote drivers)');

    const c1 = await dockerRun(w, net);
    assert.match(c1.address, /^10\.98\.5\.\d+\/16$/, 'dynamic addresses come from the ip-range');
    assert.deepEqual(c1.created, {
      Interface: { MacAddress: '02:42:0a:62:05:' + Number(c1.address.split('.')[3].split('/')[0]).toString(16).padStart(2, '0') },
    });
    const src = (c1.join.InterfaceName as J).SrcName as string;
    assert.deepEqual(c1.join, { InterfaceName: { SrcName: src, DstPrefix: 'eth' }, Gateway: '10.98.0.254' });
    const links = w.sys.snapshot().namespaces.self.links;
    const peer = links.find((l) => l.name === src);
    assert.equal(peer?.mtu, 1400, 'the container end has the MTU too');
    assert.equal(links.find((l) => l.peer === `self:${src}`)?.master, bridge?.name);
    assert.equal(Object.keys(w.ctl.inspectNetwork(net.id).Containers).length, 1);

    const c2 = await dockerRun(w, net, '10.98.0.20');
    assert.equal(c2.address, '10.98.0.20/16', 'a static --ip outside the ip-range but inside the subnet');
    await dockerRm(w, net, c1);
    await dockerRm(w, net, c2);
    await dockerNetworkRm(w, net, ['10.98.0.10']);
    assert.deepEqual(w.sys.snapshot(), before, 'no bridge, veth or rule left');
    assert.deepEqual(await dockerKeys(w.store), storeBefore, 'no pool, allocation or record left');
    assert.equal(w.ctl.listNetworks().length, 3);
  });

  test('internal networks: no gateway in Join, DisableGatewayService instead', async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w, { internal: true });
    assert.equal(net.reply.status, 200);
    const c = await dockerRun(w, net);
    assert.deepEqual(c.join, { InterfaceName: { SrcName: (c.join.InterfaceName as J).SrcName, DstPrefix: 'eth' }, DisableGatewayService: true });
    assert.equal(w.ctl.inspectNetwork(net.id).Internal, true);
  });

  test("a network on Docker's own IPAM still reserves its subnet against netloom's networks", async () => {
    const w = await start();
    const id = hex();
    await okCall(w, 'NetworkDriver.CreateNetwork', {
      NetworkID: id,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '10.77.0.1/24', Pool: '10.77.0.0/24' }],
      IPv6Data: [],
    });
    await assert.rejects(w.ctl.createNetwork({ name: 'clash', ipam: [{ subnet: '10.77.0.0/25' }] }), /overlaps/);
  });

  test('repeats succeed: CreateNetwork, Leave, DeleteEndpoint, ReleaseAddress, ReleasePool, DeleteNetwork', async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w);
    const c = await dockerRun(w, net);
    await dockerRm(w, net, c);
    await dockerRm(w, net, c);
    await dockerNetworkRm(w, net);
    await dockerNetworkRm(w, net);
  });

  test('IPv6: the engine asks for a v6 pool with no subnet; netloom picks one', async () => {
    const w = await start();
    const p = await okCall(w, 'IpamDriver.RequestPool', { AddressSpace: 'netloom-local', Pool: '', SubPool: '', Options: {}, V6: true });
    assert.match(String(p.Pool), /^fd6e:6c6f:6f6d:[0-9a-f:]*\/64$/);
    assert.match(String((p.Data as J)['com.docker.network.gateway']), /::1\/64$/);
  });
});

describe('plugin: one IPAM for both faces', () => {
  test('a subnet of a netloom network is refused to Docker, and an auto pool avoids it', async () => {
    const w = await start();
    await w.ctl.createNetwork({ name: 'mine', ipam: [{ subnet: '172.18.0.0/16' }] });
    const r = await call(w, 'IpamDriver.RequestPool', { AddressSpace: 'x', Pool: '172.18.0.0/24', SubPool: '', Options: {}, V6: false });
    assert.equal(r.status, 200);
    assert.match(String(r.json.Error), /172\.18\.0\.0\/24 overlaps network "mine"/);
    const auto = await okCall(w, 'IpamDriver.RequestPool', { AddressSpace: 'x', Pool: '', SubPool: '', Options: {}, V6: false });
    assert.equal(auto.Pool, '172.19.0.0/16', 'the first default pool free of the bridge and "mine"');
    const cli = await w.ctl.createNetwork({ name: 'after' });
    assert.notEqual(w.ctl.inspectNetwork(cli.id).IPAM.Config[0].Subnet, '172.19.0.0/16', 'and the CLI never gets the pool Docker holds');
  });

  test("netloom refuses to change a Docker network behind the engine's back", async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w);
    const name = `docker-${net.id.slice(0, 12)}`;
    await w.ctl.createSandbox({ name: 'web' });
    await assert.rejects(w.ctl.connect(name, 'web'), /made by Docker.*connect containers to it with docker/);
    await assert.rejects(w.ctl.removeNetwork(name), /made by Docker.*remove it with docker/);
    assert.deepEqual(await w.ctl.pruneNetworks(), []);
  });
});

describe('plugin: errors the engine reads', () => {
  test('IPAM errors use "Error", driver errors "Err"; unknown IDs are named; unknown methods 404', async () => {
    const w = await start();
    const nid = hex();
    const a = await call(w, 'IpamDriver.RequestAddress', { PoolID: 'dk-nosuch', Address: '', Options: null });
    assert.deepEqual([a.status, Object.keys(a.json)], [200, ['Error']]);
    assert.match(String(a.json.Error), /pool dk-nosuch not found/);
    const e = await call(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: nid,
      EndpointID: hex(),
      Interface: { Address: '', AddressIPv6: '', MacAddress: '' },
      Options: {},
    });
    assert.deepEqual([e.status, Object.keys(e.json)], [200, ['Err']]);
    assert.match(String(e.json.Err), new RegExp(`network ${nid} not found`));
    const j = await call(w, 'NetworkDriver.Join', { NetworkID: nid, EndpointID: 'e1', SandboxKey: '/x', Options: {} });
    assert.match(String(j.json.Err), /not found/);
    const op = await call(w, 'NetworkDriver.EndpointOperInfo', { NetworkID: nid, EndpointID: 'e9' });
    assert.match(String(op.json.Err), /endpoint e9 not found/);
    assert.equal((await call(w, 'NetworkDriver.Nope', {})).status, 404);
  });

  test('invalid option values and unsupported options are refused naming them, and nothing is created', async () => {
    const w = await start();
    const before = [w.sys.snapshot(), await w.store.list('')];
    const net = await dockerNetworkCreate(w, { opts: { 'com.docker.network.driver.mtu': 'abc' } });
    assert.match(String(net.reply.json.Err), /invalid MTU "abc"/);
    // The engine's rollback after a failed CreateNetwork.
    await okCall(w, 'IpamDriver.ReleaseAddress', { PoolID: net.poolId, Address: net.gw });
    await okCall(w, 'IpamDriver.ReleasePool', { PoolID: net.poolId });
    assert.deepEqual([w.sys.snapshot(), await w.store.list('')], before);
    const ipamOpt = await call(w, 'IpamDriver.RequestPool', { AddressSpace: 'x', Pool: '', SubPool: '', Options: { foo: 'bar' }, V6: false });
    assert.match(String(ipamOpt.json.Error), /unsupported --ipam-opt foo/);
    const good = await dockerNetworkCreate(w);
    const a = String((await okCall(w, 'IpamDriver.RequestAddress', { PoolID: good.poolId, Address: '', Options: null })).Address);
    const pm = await call(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: good.id,
      EndpointID: hex(),
      Interface: { Address: a, AddressIPv6: '', MacAddress: '' },
      Options: { dk: 'dv' },
    });
    assert.match(String(pm.json.Err), /unsupported endpoint option dk/);
    const mac = await call(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: good.id,
      EndpointID: hex(),
      Interface: { Address: a, AddressIPv6: '', MacAddress: 'zz:11' },
      Options: {},
    });
    assert.match(String(mac.json.Err), /Interface\.MacAddress.*"zz:11"/);
    const outside = await call(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: good.id,
      EndpointID: hex(),
      Interface: { Address: '192.0.2.9/24', AddressIPv6: '', MacAddress: '' },
      Options: {},
    });
    assert.match(String(outside.json.Err), /192\.0\.2\.9\/24 is outside/);
  });

  test('a user MAC (base64 option or Interface) is used and not echoed back', async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w);
    const a = String((await okCall(w, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: '', Options: null })).Address);
    const ep = hex();
    const r = await okCall(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: net.id,
      EndpointID: ep,
      Interface: { Address: a, AddressIPv6: '', MacAddress: '' },
      Options: { 'com.docker.network.endpoint.macaddress': 'AkKqu8zd' },
    });
    assert.deepEqual(r, {});
    assert.equal(
      w.ctl.inspectNetwork(net.id).Containers[`docker-${ep.slice(0, 12)}`]?.MacAddress ?? Object.values(w.ctl.inspectNetwork(net.id).Containers)[0].MacAddress,
      '02:42:aa:bb:cc:dd',
    );
  });
});

describe('plugin: docker run -p', () => {
  test('the port map is published at ProgramExternalConnectivity and removed at Revoke; a taken port fails the program', async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w, { subnet: '10.97.0.0/24' });
    const portmap = [
      { Proto: 6, IP: '', Port: 80, HostIP: '127.0.0.1', HostPort: 18080, HostPortEnd: 18080 },
      { Proto: 17, IP: '', Port: 53, HostIP: '', HostPort: 0, HostPortEnd: 0 },
    ];
    const opts = { 'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }], 'com.docker.network.portmap': portmap };
    const a = String((await okCall(w, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: '', Options: null })).Address);
    const ep = hex();
    await okCall(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: net.id,
      EndpointID: ep,
      Interface: { Address: a, AddressIPv6: '', MacAddress: '' },
      Options: opts,
    });
    await okCall(w, 'NetworkDriver.Join', { NetworkID: net.id, EndpointID: ep, SandboxKey: '/var/run/docker/netns/x', Options: opts });
    const dnat = () => w.sys.snapshot().firewall.ipv4.nat.NETLOOM.rules.filter((r) => r.includes('DNAT'));
    assert.deepEqual(dnat(), [], 'nothing is published before ProgramExternalConnectivity');
    await okCall(w, 'NetworkDriver.ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep, Options: opts });
    await okCall(w, 'NetworkDriver.ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep, Options: opts });
    assert.deepEqual(dnat(), [
      `-d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -j DNAT --to-destination ${a.split('/')[0]}:80`,
      `-p udp -m udp --dport 32768 -j DNAT --to-destination ${a.split('/')[0]}:53`,
    ]);
    assert.deepEqual(Object.values(w.ctl.inspectNetwork(net.id).Containers)[0].Ports, ['127.0.0.1:18080->80/tcp', '0.0.0.0:32768->53/udp']);
    // A second container asking for the same host port: refused at Program, naming the holder.
    const b = String((await okCall(w, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: '', Options: null })).Address);
    const ep2 = hex();
    await okCall(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: net.id,
      EndpointID: ep2,
      Interface: { Address: b, AddressIPv6: '', MacAddress: '' },
      Options: opts,
    });
    await okCall(w, 'NetworkDriver.Join', { NetworkID: net.id, EndpointID: ep2, SandboxKey: '/var/run/docker/netns/y', Options: opts });
    const clash = await call(w, 'NetworkDriver.ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep2, Options: opts });
    assert.match(String(clash.json.Err), /host port 127\.0\.0\.1:18080\/tcp is already in use: sandbox docker-/);
    await okCall(w, 'NetworkDriver.RevokeExternalConnectivity', { NetworkID: net.id, EndpointID: ep });
    assert.deepEqual(dnat(), []);
    const bad = await call(w, 'NetworkDriver.CreateEndpoint', {
      NetworkID: net.id,
      EndpointID: hex(),
      Interface: { Address: b, AddressIPv6: '', MacAddress: '' },
      Options: { 'com.docker.network.portmap': [{ Proto: 132, Port: 80 }] },
    });
    assert.match(String(bad.json.Err), /Proto: expected 6 \(tcp\) or 17 \(udp\), got 132/);
  });
});

describe('plugin: restart', () => {
  test("a restarted daemon keeps Docker's networks, endpoints and addresses (no replay needed)", async () => {
    const store = new MemoryStore();
    const sys = createFakeSystem();
    const w = await start(store, sys);
    const net = await dockerNetworkCreate(w);
    const c = await dockerRun(w, net);
    const kernel = sys.snapshot();
    const w2 = await start(store, sys);
    assert.deepEqual(sys.snapshot(), kernel, 'reconcile keeps the joined veth and the bridge');
    assert.deepEqual(await okCall(w2, 'NetworkDriver.EndpointOperInfo', { NetworkID: net.id, EndpointID: c.ep }), { Value: {} });
    const next = await okCall(w2, 'IpamDriver.RequestAddress', { PoolID: net.poolId, Address: '', Options: null });
    assert.notEqual(next.Address, c.address);
    await dockerRm(w2, net, c);
    await dockerNetworkRm(w2, net);
  });
});

describe('plugin: fuzzed bodies', () => {
  const methods = [
    'NetworkDriver.CreateNetwork',
    'NetworkDriver.DeleteNetwork',
    'NetworkDriver.CreateEndpoint',
    'NetworkDriver.DeleteEndpoint',
    'NetworkDriver.Join',
    'NetworkDriver.Leave',
    'NetworkDriver.EndpointOperInfo',
    'NetworkDriver.ProgramExternalConnectivity',
    'IpamDriver.RequestPool',
    'IpamDriver.ReleasePool',
    'IpamDriver.RequestAddress',
    'IpamDriver.ReleaseAddress',
  ];
  const fields = [
    'NetworkID',
    'EndpointID',
    'PoolID',
    'Pool',
    'SubPool',
    'Address',
    'V6',
    'Options',
    'Interface',
    'SandboxKey',
    'IPv4Data',
    'IPv6Data',
    'AddressSpace',
  ];

  test('3,000 arbitrary bodies: always a JSON object the engine can read, never a 5xx', async () => {
    const w = await start();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify({ NetworkID: v })),
        ),
        async (m, raw) => {
          const r = await call(w, m, undefined, raw);
          assert.ok(r.status === 200 || r.status === 400, `${m} ${raw}: ${r.status}`);
          assert.equal(typeof r.json, 'object');
        },
      ),
      { numRuns: 3000 },
    );
    assert.equal((await call(w, 'Plugin.Activate')).status, 200);
  });

  test("2,000 mistyped bodies: refused with the interface's error key, state unchanged", async () => {
    const w = await start();
    const net = await dockerNetworkCreate(w);
    await dockerRun(w, net);
    const before = [w.sys.snapshot(), await w.store.list('')];
    const wrongType = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.constant({ x: 1 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.constantFrom(...fields), wrongType, async (m, f, v) => {
        // A well-formed body with one field of the wrong type: the error must name that field.
        const ids = { NetworkID: hex(), EndpointID: hex() };
        const base: Record<string, J> = {
          'NetworkDriver.CreateNetwork': { NetworkID: hex(), Options: {}, IPv4Data: [], IPv6Data: [] },
          'NetworkDriver.DeleteNetwork': { NetworkID: hex() },
          'IpamDriver.RequestPool': { AddressSpace: 'x', Pool: '', SubPool: '', Options: {}, V6: false },
          'IpamDriver.ReleasePool': { PoolID: 'dk-x' },
          'IpamDriver.RequestAddress': { PoolID: 'dk-x', Address: '', Options: null },
          'IpamDriver.ReleaseAddress': { PoolID: 'dk-x', Address: '10.0.0.1' },
        };
        const body = base[m] ?? ids;
        const relevant = Object.keys(body);
        const field = relevant.includes(f) ? f : relevant[0];
        // Values of the right type are not what this property is about.
        if (field === 'Options' && typeof v === 'object' && !Array.isArray(v)) return;
        if (field === 'V6' && typeof v === 'boolean') return;
        if (/^IPv[46]Data$/.test(field) && Array.isArray(v) && v.length === 0) return;
        const r = await call(w, m, { ...body, [field]: v });
        const key = m.startsWith('IpamDriver.') ? 'Error' : 'Err';
        assert.equal(r.status, 200);
        assert.match(String(r.json[key]), new RegExp(field), `${m} ${field}=${JSON.stringify(v)}: ${JSON.stringify(r.json)}`);
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual([w.sys.snapshot(), await w.store.list('')], before);
  });

  test('an oversized body is refused with Err and HTTP 413', async () => {
    const w = await start();
    const r = await call(w, 'NetworkDriver.CreateNetwork', undefined, `{"NetworkID":"${'a'.repeat(2 << 20)}"}`);
    assert.equal(r.status, 413);
    assert.match(String(r.json.Err), /too large/i);
  });
});
