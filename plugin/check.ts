// `netloom plugin check SOCKET`: a conformance kit for any Docker remote network + IPAM plugin.
// It plays the engine: the calls, bodies and order a real dockerd 20.10 sends
// (docs/plugin-protocol.md, "Call sequences"), plus what an engine never sends but a
// plugin must survive (repeats, unknown IDs, malformed and oversized bodies, a restart), and
// reports one PASS/FAIL line per check.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { must, ok, post, refused, show, type Reply } from './engineclient.js';
import { addressOf, contains, formatIfAddr, ifAddrIn, overlaps, parseCidr, parseIfAddr, parseIp } from '../common/cidr.js';

export { post };

export interface CheckOptions {
  readonly socket: string;
  /** Restarts the plugin (between Join and Leave); absent: the restart checks are skipped. */
  readonly restart?: () => Promise<void>;
  /** Whether Join's SrcName can be looked up here (the kit runs in the plugin's network namespace). */
  readonly linkCheck?: boolean;
  readonly onResult?: (r: CheckResult) => void;
}

export interface CheckResult {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly detail?: string;
}

const hexId = (): string => randomBytes(32).toString('hex');

/** One check: a name for its PASS/FAIL line; a fatal one skips every later check when it fails. */
interface Check {
  readonly name: string;
  readonly fatal?: boolean;
  readonly run: (k: Kit) => Promise<void>;
}

/** One run of the kit: the engine's side of the conversation, and what the plugin gave so far. */
class Kit {
  readonly results: CheckResult[] = [];
  /** An essential check failed: the rest are skipped, and what was made is undone. */
  stop = false;
  space = '';
  pool = { id: '', cidr: '', gw: '' };
  readonly netId = hexId();
  readonly epId = hexId();
  readonly addrs: string[] = [];
  srcName = '';
  constructor(readonly opts: CheckOptions) {}

  call(m: string, b?: unknown, raw?: string): Promise<Reply> {
    return post(this.opts.socket, m, b, raw);
  }
  /** Whether SrcName can be looked up here (see CheckOptions.linkCheck). */
  get linkCheck(): boolean {
    return this.opts.linkCheck !== false;
  }
  requestPool(subnet: string): Promise<Reply> {
    return this.call('IpamDriver.RequestPool', { AddressSpace: this.space, Pool: subnet, SubPool: '', Options: {}, V6: false });
  }
  async runAll(checks: readonly Check[]): Promise<void> {
    for (const c of checks) await this.run(c);
  }
  async run({ name, run, fatal = false }: Check): Promise<void> {
    let r: CheckResult;
    if (this.stop) r = { name, status: 'skip', detail: 'an earlier essential check failed' };
    else {
      try {
        await run(this);
        r = { name, status: 'pass' };
      } catch (err) {
        r = { name, status: 'fail', detail: err instanceof Error ? err.message : String(err) };
        if (fatal) this.stop = true;
      }
    }
    this.results.push(r);
    this.opts.onResult?.(r);
  }
}

// /proc/net follows the reader's network namespace (/sys/class/net follows sysfs's mount).
const linkExists = (name: string): boolean =>
  readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .some((l) => l.trim().startsWith(`${name}:`));

/** The handshake: what the engine asks before it uses a plugin. */
const HANDSHAKE: readonly Check[] = [
  {
    name: 'Plugin.Activate lists NetworkDriver and IpamDriver',
    fatal: true,
    run: async (k) => {
      const j = ok(await k.call('Plugin.Activate'), 'Plugin.Activate');
      const impl = j.Implements;
      must(Array.isArray(impl) && impl.includes('NetworkDriver') && impl.includes('IpamDriver'), `Implements is ${JSON.stringify(impl)}`);
    },
  },
  {
    name: 'NetworkDriver.GetCapabilities: Scope is local or global',
    fatal: true,
    run: async (k) => {
      const j = ok(await k.call('NetworkDriver.GetCapabilities'), 'NetworkDriver.GetCapabilities');
      must(j.Scope === 'local' || j.Scope === 'global', `Scope ${JSON.stringify(j.Scope)} would make the engine refuse the driver`);
      must([undefined, '', 'local', 'global'].includes(j.ConnectivityScope as string), `ConnectivityScope ${JSON.stringify(j.ConnectivityScope)}`);
    },
  },
  {
    name: 'IpamDriver.GetCapabilities answers JSON (or 404)',
    run: async (k) => {
      const r = await k.call('IpamDriver.GetCapabilities');
      if (r.status === 404) return;
      const j = ok(r, 'IpamDriver.GetCapabilities');
      for (const key of ['RequiresMACAddress', 'RequiresRequestReplay'])
        must(j[key] === undefined || typeof j[key] === 'boolean', `${key} is ${JSON.stringify(j[key])}`);
    },
  },
  {
    name: 'IpamDriver.GetDefaultAddressSpaces names both spaces',
    fatal: true,
    run: async (k) => {
      const j = ok(await k.call('IpamDriver.GetDefaultAddressSpaces'), 'IpamDriver.GetDefaultAddressSpaces');
      must(typeof j.LocalDefaultAddressSpace === 'string' && j.LocalDefaultAddressSpace, 'no LocalDefaultAddressSpace');
      must(typeof j.GlobalDefaultAddressSpace === 'string', 'no GlobalDefaultAddressSpace');
      k.space = String(j.LocalDefaultAddressSpace);
    },
  },
];

/** The pool a network gets, and its gateway. */
const POOL: readonly Check[] = [
  {
    name: 'RequestPool without a subnet picks one and gives a gateway',
    fatal: true,
    run: async (k) => {
      const j = ok(await k.requestPool(''), 'RequestPool');
      must(typeof j.PoolID === 'string' && j.PoolID, `PoolID ${JSON.stringify(j.PoolID)}`);
      must(parseCidr(String(j.Pool)), `Pool ${JSON.stringify(j.Pool)} is not a CIDR`);
      const gw = (j.Data as Record<string, string> | undefined)?.['com.docker.network.gateway'];
      k.pool = { id: String(j.PoolID), cidr: String(j.Pool), gw: gw ? addressOf(gw) : '' };
    },
  },
  {
    name: "a second RequestPool never returns an allocated pool (the engine's host-overlap loop ends)",
    run: async (k) => {
      const j = ok(await k.requestPool(''), 'RequestPool');
      must(!overlaps(String(j.Pool), k.pool.cidr), `${String(j.Pool)} overlaps ${k.pool.cidr}, still allocated`);
      ok(await k.call('IpamDriver.ReleasePool', { PoolID: j.PoolID }), 'ReleasePool');
    },
  },
  {
    name: 'RequestPool of an allocated subnet is refused with "Error"',
    run: async (k) => {
      refused(await k.requestPool(k.pool.cidr), 'IpamDriver.RequestPool');
    },
  },
  {
    name: 'gateway RequestAddress answers address/prefix inside the pool',
    fatal: true,
    run: async (k) => {
      const { pool } = k;
      const j = ok(
        await k.call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: pool.gw, Options: { RequestAddressType: 'com.docker.network.gateway' } }),
        'RequestAddress',
      );
      const a = parseIfAddr(String(j.Address));
      const ip = a?.ip ?? '';
      must(a && contains(pool.cidr, ip), `Address ${JSON.stringify(j.Address)} is not an address/prefix in ${pool.cidr}`);
      pool.gw = ip;
    },
  },
];

const NO_PORTS = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] };

/** A network, two addresses, an endpoint joined to a sandbox. */
const ENDPOINT: readonly Check[] = [
  {
    name: 'CreateNetwork',
    fatal: true,
    run: async (k) => {
      ok(
        await k.call('NetworkDriver.CreateNetwork', {
          NetworkID: k.netId,
          Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
          IPv4Data: [{ AddressSpace: k.space, Gateway: formatIfAddr(ifAddrIn(k.pool.gw, k.pool.cidr)), Pool: k.pool.cidr }],
          IPv6Data: [],
        }),
        'CreateNetwork',
      );
    },
  },
  {
    name: 'RequestAddress hands out distinct addresses, never the gateway',
    fatal: true,
    run: async (k) => {
      const { pool, addrs } = k;
      for (let i = 0; i < 2; i++) {
        const j = ok(await k.call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: '', Options: null }), 'RequestAddress');
        const ip = addressOf(String(j.Address));
        must(
          contains(pool.cidr, ip) && ip !== pool.gw && !addrs.includes(ip),
          `got ${String(j.Address)} (gateway ${pool.gw}, earlier ${addrs.join(', ') || 'none'})`,
        );
        addrs.push(ip);
      }
    },
  },
  {
    name: 'RequestAddress of an address in use is refused with "Error"',
    run: async (k) => {
      refused(await k.call('IpamDriver.RequestAddress', { PoolID: k.pool.id, Address: k.addrs[0], Options: null }), 'IpamDriver.RequestAddress');
    },
  },
  {
    name: 'CreateEndpoint accepts the IPAM address and does not echo it',
    fatal: true,
    run: async (k) => {
      const j = ok(
        await k.call('NetworkDriver.CreateEndpoint', {
          NetworkID: k.netId,
          EndpointID: k.epId,
          Interface: { Address: formatIfAddr(ifAddrIn(k.addrs[0]!, k.pool.cidr)), AddressIPv6: '', MacAddress: '' },
          Options: NO_PORTS,
        }),
        'CreateEndpoint',
      );
      const iface = j.Interface as Record<string, string> | undefined;
      must(!iface?.Address && !iface?.AddressIPv6, `the engine fails a create whose reply sets an address: ${JSON.stringify(iface)}`);
    },
  },
  {
    name: 'Join returns an existing host interface and a gateway',
    fatal: true,
    run: async (k) => {
      const j = ok(
        await k.call('NetworkDriver.Join', { NetworkID: k.netId, EndpointID: k.epId, SandboxKey: '/var/run/docker/netns/nlcheck', Options: NO_PORTS }),
        'Join',
      );
      const n = j.InterfaceName as Record<string, string> | undefined;
      must(n?.SrcName && n.SrcName.length <= 15, `InterfaceName.SrcName ${JSON.stringify(n?.SrcName)}`);
      must(n?.DstPrefix, 'InterfaceName.DstPrefix is empty: the interface would be named "0"');
      must(
        (j.Gateway && parseIp(String(j.Gateway))) || j.DisableGatewayService === true,
        'neither a Gateway (plain IP) nor DisableGatewayService: the engine would add docker_gwbridge',
      );
      k.srcName = String(n?.SrcName);
      if (k.linkCheck) must(linkExists(k.srcName), `SrcName ${k.srcName} does not exist in this network namespace`);
    },
  },
  {
    name: 'EndpointOperInfo answers a JSON object',
    run: async (k) => {
      ok(await k.call('NetworkDriver.EndpointOperInfo', { NetworkID: k.netId, EndpointID: k.epId }), 'EndpointOperInfo');
    },
  },
  {
    name: 'Program/RevokeExternalConnectivity succeed (or 404)',
    run: async (k) => {
      for (const m of ['NetworkDriver.ProgramExternalConnectivity', 'NetworkDriver.RevokeExternalConnectivity']) {
        const r = await k.call(m, { NetworkID: k.netId, EndpointID: k.epId, Options: {} });
        if (r.status !== 404) ok(r, m);
      }
    },
  },
];

const restartCheck = (restart: () => Promise<void>): Check => ({
  name: 'after a plugin restart: the endpoint, its interface and the addresses survive',
  run: async (k) => {
    await restart();
    ok(await k.call('NetworkDriver.EndpointOperInfo', { NetworkID: k.netId, EndpointID: k.epId }), 'EndpointOperInfo after restart');
    if (k.linkCheck) must(linkExists(k.srcName), `${k.srcName} is gone after the restart`);
    const j = ok(await k.call('IpamDriver.RequestAddress', { PoolID: k.pool.id, Address: '', Options: null }), 'RequestAddress after restart');
    const ip = addressOf(String(j.Address));
    must(!k.addrs.includes(ip) && ip !== k.pool.gw, `after the restart the IPAM handed out ${ip} again`);
    k.addrs.push(ip);
  },
});

/** What an engine never sends but a plugin must survive. */
const ROBUSTNESS: readonly Check[] = [
  {
    name: 'unknown IDs are refused, naming them',
    run: async (k) => {
      const other = hexId();
      refused(
        await k.call('NetworkDriver.CreateEndpoint', {
          NetworkID: other,
          EndpointID: hexId(),
          Interface: { Address: '', AddressIPv6: '', MacAddress: '' },
          Options: {},
        }),
        'NetworkDriver.CreateEndpoint',
        other,
      );
      refused(await k.call('NetworkDriver.Join', { NetworkID: k.netId, EndpointID: other, SandboxKey: '/x', Options: {} }), 'NetworkDriver.Join', other);
      refused(
        await k.call('IpamDriver.RequestAddress', { PoolID: `nosuch-${other.slice(0, 8)}`, Address: '', Options: null }),
        'IpamDriver.RequestAddress',
        `nosuch-${other.slice(0, 8)}`,
      );
    },
  },
  {
    name: 'malformed, mistyped and oversized bodies get an error the engine can read',
    run: async (k) => {
      const bodies: [string, string][] = [
        ['NetworkDriver.CreateNetwork', '{'],
        ['NetworkDriver.CreateNetwork', '[]'],
        ['NetworkDriver.CreateNetwork', '{"NetworkID":5}'],
        ['NetworkDriver.CreateEndpoint', `{"NetworkID":"${k.netId}","EndpointID":"${hexId()}","Interface":"x"}`],
        ['NetworkDriver.Join', '{"NetworkID":null}'],
        ['IpamDriver.RequestPool', '{"Pool":7,"V6":"yes"}'],
        ['IpamDriver.RequestAddress', '"str"'],
        ['IpamDriver.ReleaseAddress', '{"PoolID":{}}'],
        ['NetworkDriver.CreateNetwork', `{"NetworkID":"${'a'.repeat(2 << 20)}"}`],
      ];
      for (const [m, raw] of bodies) {
        const r = await k.call(m, undefined, raw);
        const label = `${m} ${raw.length > 40 ? `${raw.slice(0, 20)}... (${raw.length} bytes)` : raw}`;
        refused(r, label);
      }
      ok(await k.call('Plugin.Activate'), 'Plugin.Activate after the bad bodies');
    },
  },
  {
    name: 'an unknown method is 404',
    run: async (k) => {
      const r = await k.call('NetworkDriver.NoSuchMethod', {});
      must(r.status === 404, `got ${show(r)}`);
    },
  },
];

/** The engine's teardown, each step twice; then nothing is left. */
const TEARDOWN: readonly Check[] = [
  {
    name: 'Leave, then Leave again, succeed',
    run: async (k) => {
      for (let i = 0; i < 2; i++) ok(await k.call('NetworkDriver.Leave', { NetworkID: k.netId, EndpointID: k.epId }), 'Leave');
    },
  },
  {
    name: 'DeleteEndpoint twice succeeds; the interface is gone (the driver deletes its veth here at the latest)',
    run: async (k) => {
      for (let i = 0; i < 2; i++) ok(await k.call('NetworkDriver.DeleteEndpoint', { NetworkID: k.netId, EndpointID: k.epId }), 'DeleteEndpoint');
      if (k.linkCheck) must(!linkExists(k.srcName), `${k.srcName} still exists after DeleteEndpoint`);
    },
  },
  {
    name: 'ReleaseAddress twice succeeds (and for the gateway)',
    run: async (k) => {
      for (const ip of [...k.addrs, k.pool.gw]) {
        for (let i = 0; i < 2; i++) ok(await k.call('IpamDriver.ReleaseAddress', { PoolID: k.pool.id, Address: ip }), `ReleaseAddress ${ip}`);
      }
    },
  },
  {
    name: "ReleasePool, DeleteNetwork (the engine's order), each twice, succeed",
    run: async (k) => {
      for (let i = 0; i < 2; i++) ok(await k.call('IpamDriver.ReleasePool', { PoolID: k.pool.id }), 'ReleasePool');
      for (let i = 0; i < 2; i++) ok(await k.call('NetworkDriver.DeleteNetwork', { NetworkID: k.netId }), 'DeleteNetwork');
    },
  },
  {
    name: 'nothing leaked: the same subnet can be requested again',
    run: async (k) => {
      const j = ok(await k.requestPool(k.pool.cidr), 'RequestPool');
      ok(await k.call('IpamDriver.ReleasePool', { PoolID: j.PoolID }), 'ReleasePool');
    },
  },
];

/** An essential check failed midway: undo what the kit made, as the engine's rollback would. */
async function undo(k: Kit): Promise<void> {
  const ids = { NetworkID: k.netId, EndpointID: k.epId };
  const steps: [string, unknown][] = [
    ['NetworkDriver.Leave', ids],
    ['NetworkDriver.DeleteEndpoint', ids],
    ...[...k.addrs, k.pool.gw].map((ip): [string, unknown] => ['IpamDriver.ReleaseAddress', { PoolID: k.pool.id, Address: ip }]),
    ['IpamDriver.ReleasePool', { PoolID: k.pool.id }],
    ['NetworkDriver.DeleteNetwork', { NetworkID: k.netId }],
  ];
  for (const [m, b] of steps) await k.call(m, b).catch(() => undefined);
}

export async function runChecks(opts: CheckOptions): Promise<CheckResult[]> {
  const k = new Kit(opts);
  await k.runAll([...HANDSHAKE, ...POOL, ...ENDPOINT]);
  if (opts.restart) await k.run(restartCheck(opts.restart));
  else k.results.push({ name: 'plugin restart', status: 'skip', detail: 'no --restart-cmd given' });
  await k.runAll([...ROBUSTNESS, ...TEARDOWN]);
  if (k.stop) await undo(k);
  return k.results;
}
