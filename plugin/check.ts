// `netloom plugin check SOCKET`: a conformance kit for any Docker remote network + IPAM plugin.
// It plays the engine: the calls, bodies and order a real dockerd 20.10 sends
// (docs/plugin-protocol.md, "Call sequences"), plus what an engine never sends but a
// plugin must survive (repeats, unknown IDs, malformed and oversized bodies, a restart), and
// reports one PASS/FAIL line per check.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { addressOf, contains, formatIfAddr, ifAddrIn, overlaps, parseCidr, parseIfAddr, parseIp } from '../common/cidr.js';

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

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly json?: Record<string, unknown>;
}

/** POST like the engine: no Content-Type, compact JSON and a newline, or an empty body. Raw
 *  HTTP/1.1 over the socket, so a server that answers before reading all of an oversized body
 *  (and closes) is still heard, as Go's client hears it; node's http client would only see EPIPE. */
export function post(socket: string, method: string, body?: unknown, raw?: string): Promise<Reply> {
  const data = Buffer.from(raw ?? (body === undefined ? '' : `${JSON.stringify(body)}\n`));
  const head =
    `POST /${method} HTTP/1.1\r\nHost: \r\nUser-Agent: netloom-plugin-check\r\n` +
    `Accept: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(socket);
    const timer = setTimeout(() => sock.destroy(new Error(`${method}: no answer within 30 s`)), 30_000);
    sock.on('connect', () => {
      // One write, and no half-close: some servers drop a request whose client has sent FIN.
      sock.write(Buffer.concat([Buffer.from(head, 'latin1'), data]));
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Writing into a closed connection: the answer may already be in; 'close' decides.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const reply = parseResponse(Buffer.concat(chunks));
      if (reply) resolve(reply);
      else reject(new Error(`${method}: the connection closed without an HTTP answer`));
    });
  });
}

function parseResponse(buf: Buffer): Reply | undefined {
  const split = buf.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const [statusLine, ...headers] = buf.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  if (!status) return undefined;
  const h = new Map(headers.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let bodyBuf = buf.subarray(split + 4);
  if (h.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = bodyBuf.indexOf('\r\n', at);
      const size = eol < 0 ? 0 : parseInt(bodyBuf.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(bodyBuf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    bodyBuf = Buffer.concat(parts);
  } else if (h.has('content-length')) {
    bodyBuf = bodyBuf.subarray(0, Number(h.get('content-length')));
  }
  const text = bodyBuf.toString('utf8');
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {
    /* left undefined: the checks say so */
  }
  return { status, text, json };
}

class Failed extends Error {}
const must = (ok: unknown, msg: string): void => {
  if (!ok) throw new Failed(msg);
};
const hexId = (): string => randomBytes(32).toString('hex');
const show = (r: Reply): string => `HTTP ${r.status} ${r.text.trim().slice(0, 200)}`;

/** A success: 200, a JSON object, no error key. */
function ok(r: Reply, method: string): Record<string, unknown> {
  must(r.status === 200, `${method}: expected HTTP 200, got ${show(r)}`);
  must(r.json, `${method}: expected a JSON object, got ${JSON.stringify(r.text.slice(0, 80))}`);
  const err = r.json?.Err ?? r.json?.Error;
  must(!err, `${method}: failed: ${String(err)}`);
  return r.json ?? {};
}

/** A refusal the engine can read: 200 + the interface's key, or non-200 + Err. */
function refused(r: Reply, method: string, mention?: string): string {
  const key = method.startsWith('IpamDriver.') && r.status === 200 ? 'Error' : 'Err';
  const msg = r.json?.[key];
  must(typeof msg === 'string' && msg.length > 0, `${method}: expected an error in "${key}", got ${show(r)}`);
  if (mention) must(String(msg).includes(mention), `${method}: the error should name ${mention}: ${String(msg)}`);
  return String(msg);
}

export async function runChecks(opts: CheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const s = opts.socket;
  const call = (m: string, b?: unknown, raw?: string) => post(s, m, b, raw);
  let stop = false;
  const check = async (name: string, fn: () => Promise<void>, fatal = false): Promise<boolean> => {
    let r: CheckResult;
    if (stop) r = { name, status: 'skip', detail: 'an earlier essential check failed' };
    else {
      try {
        await fn();
        r = { name, status: 'pass' };
      } catch (err) {
        r = { name, status: 'fail', detail: err instanceof Error ? err.message : String(err) };
        if (fatal) stop = true;
      }
    }
    results.push(r);
    opts.onResult?.(r);
    return r.status === 'pass';
  };
  // /proc/net follows the reader's network namespace (/sys/class/net follows sysfs's mount).
  const linkExists = (name: string): boolean =>
    readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .some((l) => l.trim().startsWith(`${name}:`));

  let space = '';
  let pool = { id: '', cidr: '', gw: '' };
  const netId = hexId();
  const epId = hexId();
  const addrs: string[] = [];
  let srcName = '';

  await check(
    'Plugin.Activate lists NetworkDriver and IpamDriver',
    async () => {
      const j = ok(await call('Plugin.Activate'), 'Plugin.Activate');
      const impl = j.Implements;
      must(Array.isArray(impl) && impl.includes('NetworkDriver') && impl.includes('IpamDriver'), `Implements is ${JSON.stringify(impl)}`);
    },
    true,
  );
  await check(
    'NetworkDriver.GetCapabilities: Scope is local or global',
    async () => {
      const j = ok(await call('NetworkDriver.GetCapabilities'), 'NetworkDriver.GetCapabilities');
      must(j.Scope === 'local' || j.Scope === 'global', `Scope ${JSON.stringify(j.Scope)} would make the engine refuse the driver`);
      must([undefined, '', 'local', 'global'].includes(j.ConnectivityScope as string), `ConnectivityScope ${JSON.stringify(j.ConnectivityScope)}`);
    },
    true,
  );
  await check('IpamDriver.GetCapabilities answers JSON (or 404)', async () => {
    const r = await call('IpamDriver.GetCapabilities');
    if (r.status === 404) return;
    const j = ok(r, 'IpamDriver.GetCapabilities');
    for (const k of ['RequiresMACAddress', 'RequiresRequestReplay']) must(j[k] === undefined || typeof j[k] === 'boolean', `${k} is ${JSON.stringify(j[k])}`);
  });
  await check(
    'IpamDriver.GetDefaultAddressSpaces names both spaces',
    async () => {
      const j = ok(await call('IpamDriver.GetDefaultAddressSpaces'), 'IpamDriver.GetDefaultAddressSpaces');
      must(typeof j.LocalDefaultAddressSpace === 'string' && j.LocalDefaultAddressSpace, 'no LocalDefaultAddressSpace');
      must(typeof j.GlobalDefaultAddressSpace === 'string', 'no GlobalDefaultAddressSpace');
      space = String(j.LocalDefaultAddressSpace);
    },
    true,
  );
  await check(
    'RequestPool without a subnet picks one and gives a gateway',
    async () => {
      const j = ok(await call('IpamDriver.RequestPool', { AddressSpace: space, Pool: '', SubPool: '', Options: {}, V6: false }), 'RequestPool');
      must(typeof j.PoolID === 'string' && j.PoolID, `PoolID ${JSON.stringify(j.PoolID)}`);
      must(parseCidr(String(j.Pool)), `Pool ${JSON.stringify(j.Pool)} is not a CIDR`);
      const gw = (j.Data as Record<string, string> | undefined)?.['com.docker.network.gateway'];
      pool = { id: String(j.PoolID), cidr: String(j.Pool), gw: gw ? addressOf(gw) : '' };
    },
    true,
  );
  await check("a second RequestPool never returns an allocated pool (the engine's host-overlap loop ends)", async () => {
    const j = ok(await call('IpamDriver.RequestPool', { AddressSpace: space, Pool: '', SubPool: '', Options: {}, V6: false }), 'RequestPool');
    must(!overlaps(String(j.Pool), pool.cidr), `${String(j.Pool)} overlaps ${pool.cidr}, still allocated`);
    ok(await call('IpamDriver.ReleasePool', { PoolID: j.PoolID }), 'ReleasePool');
  });
  await check('RequestPool of an allocated subnet is refused with "Error"', async () => {
    refused(await call('IpamDriver.RequestPool', { AddressSpace: space, Pool: pool.cidr, SubPool: '', Options: {}, V6: false }), 'IpamDriver.RequestPool');
  });
  await check(
    'gateway RequestAddress answers address/prefix inside the pool',
    async () => {
      const j = ok(
        await call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: pool.gw, Options: { RequestAddressType: 'com.docker.network.gateway' } }),
        'RequestAddress',
      );
      const a = parseIfAddr(String(j.Address));
      const ip = a?.ip ?? '';
      must(a && contains(pool.cidr, ip), `Address ${JSON.stringify(j.Address)} is not an address/prefix in ${pool.cidr}`);
      pool.gw = ip;
    },
    true,
  );
  await check(
    'CreateNetwork',
    async () => {
      ok(
        await call('NetworkDriver.CreateNetwork', {
          NetworkID: netId,
          Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
          IPv4Data: [{ AddressSpace: space, Gateway: formatIfAddr(ifAddrIn(pool.gw, pool.cidr)), Pool: pool.cidr }],
          IPv6Data: [],
        }),
        'CreateNetwork',
      );
    },
    true,
  );
  await check(
    'RequestAddress hands out distinct addresses, never the gateway',
    async () => {
      for (let i = 0; i < 2; i++) {
        const j = ok(await call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: '', Options: null }), 'RequestAddress');
        const ip = addressOf(String(j.Address));
        must(
          contains(pool.cidr, ip) && ip !== pool.gw && !addrs.includes(ip),
          `got ${String(j.Address)} (gateway ${pool.gw}, earlier ${addrs.join(', ') || 'none'})`,
        );
        addrs.push(ip);
      }
    },
    true,
  );
  await check('RequestAddress of an address in use is refused with "Error"', async () => {
    refused(await call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: addrs[0], Options: null }), 'IpamDriver.RequestAddress');
  });
  await check(
    'CreateEndpoint accepts the IPAM address and does not echo it',
    async () => {
      const j = ok(
        await call('NetworkDriver.CreateEndpoint', {
          NetworkID: netId,
          EndpointID: epId,
          Interface: { Address: formatIfAddr(ifAddrIn(addrs[0]!, pool.cidr)), AddressIPv6: '', MacAddress: '' },
          Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] },
        }),
        'CreateEndpoint',
      );
      const iface = j.Interface as Record<string, string> | undefined;
      must(!iface?.Address && !iface?.AddressIPv6, `the engine fails a create whose reply sets an address: ${JSON.stringify(iface)}`);
    },
    true,
  );
  await check(
    'Join returns an existing host interface and a gateway',
    async () => {
      const j = ok(
        await call('NetworkDriver.Join', {
          NetworkID: netId,
          EndpointID: epId,
          SandboxKey: '/var/run/docker/netns/nlcheck',
          Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] },
        }),
        'Join',
      );
      const n = j.InterfaceName as Record<string, string> | undefined;
      must(n?.SrcName && n.SrcName.length <= 15, `InterfaceName.SrcName ${JSON.stringify(n?.SrcName)}`);
      must(n?.DstPrefix, 'InterfaceName.DstPrefix is empty: the interface would be named "0"');
      must(
        (j.Gateway && parseIp(String(j.Gateway))) || j.DisableGatewayService === true,
        'neither a Gateway (plain IP) nor DisableGatewayService: the engine would add docker_gwbridge',
      );
      srcName = String(n?.SrcName);
      if (opts.linkCheck !== false) must(linkExists(srcName), `SrcName ${srcName} does not exist in this network namespace`);
    },
    true,
  );
  await check('EndpointOperInfo answers a JSON object', async () => {
    ok(await call('NetworkDriver.EndpointOperInfo', { NetworkID: netId, EndpointID: epId }), 'EndpointOperInfo');
  });
  await check('Program/RevokeExternalConnectivity succeed (or 404)', async () => {
    for (const m of ['NetworkDriver.ProgramExternalConnectivity', 'NetworkDriver.RevokeExternalConnectivity']) {
      const r = await call(m, { NetworkID: netId, EndpointID: epId, Options: {} });
      if (r.status !== 404) ok(r, m);
    }
  });
  if (opts.restart) {
    const restart = opts.restart;
    await check('after a plugin restart: the endpoint, its interface and the addresses survive', async () => {
      await restart();
      ok(await call('NetworkDriver.EndpointOperInfo', { NetworkID: netId, EndpointID: epId }), 'EndpointOperInfo after restart');
      if (opts.linkCheck !== false) must(linkExists(srcName), `${srcName} is gone after the restart`);
      const j = ok(await call('IpamDriver.RequestAddress', { PoolID: pool.id, Address: '', Options: null }), 'RequestAddress after restart');
      const ip = addressOf(String(j.Address));
      must(!addrs.includes(ip) && ip !== pool.gw, `after the restart the IPAM handed out ${ip} again`);
      addrs.push(ip);
    });
  } else {
    results.push({ name: 'plugin restart', status: 'skip', detail: 'no --restart-cmd given' });
  }
  await check('unknown IDs are refused, naming them', async () => {
    const other = hexId();
    refused(
      await call('NetworkDriver.CreateEndpoint', {
        NetworkID: other,
        EndpointID: hexId(),
        Interface: { Address: '', AddressIPv6: '', MacAddress: '' },
        Options: {},
      }),
      'NetworkDriver.CreateEndpoint',
      other,
    );
    refused(await call('NetworkDriver.Join', { NetworkID: netId, EndpointID: other, SandboxKey: '/x', Options: {} }), 'NetworkDriver.Join', other);
    refused(
      await call('IpamDriver.RequestAddress', { PoolID: `nosuch-${other.slice(0, 8)}`, Address: '', Options: null }),
      'IpamDriver.RequestAddress',
      `nosuch-${other.slice(0, 8)}`,
    );
  });
  await check('malformed, mistyped and oversized bodies get an error the engine can read', async () => {
    const bodies: [string, string][] = [
      ['NetworkDriver.CreateNetwork', '{'],
      ['NetworkDriver.CreateNetwork', '[]'],
      ['NetworkDriver.CreateNetwork', '{"NetworkID":5}'],
      ['NetworkDriver.CreateEndpoint', `{"NetworkID":"${netId}","EndpointID":"${hexId()}","Interface":"x"}`],
      ['NetworkDriver.Join', '{"NetworkID":null}'],
      ['IpamDriver.RequestPool', '{"Pool":7,"V6":"yes"}'],
      ['IpamDriver.RequestAddress', '"str"'],
      ['IpamDriver.ReleaseAddress', '{"PoolID":{}}'],
      ['NetworkDriver.CreateNetwork', `{"NetworkID":"${'a'.repeat(2 << 20)}"}`],
    ];
    for (const [m, raw] of bodies) {
      const r = await call(m, undefined, raw);
      const label = `${m} ${raw.length > 40 ? `${raw.slice(0, 20)}... (${raw.length} bytes)` : raw}`;
      refused(r, label);
    }
    ok(await call('Plugin.Activate'), 'Plugin.Activate after the bad bodies');
  });
  await check('an unknown method is 404', async () => {
    const r = await call('NetworkDriver.NoSuchMethod', {});
    must(r.status === 404, `got ${show(r)}`);
  });
  await check('Leave, then Leave again, succeed', async () => {
    for (let i = 0; i < 2; i++) ok(await call('NetworkDriver.Leave', { NetworkID: netId, EndpointID: epId }), 'Leave');
  });
  await check('DeleteEndpoint twice succeeds; the interface is gone (the driver deletes its veth here at the latest)', async () => {
    for (let i = 0; i < 2; i++) ok(await call('NetworkDriver.DeleteEndpoint', { NetworkID: netId, EndpointID: epId }), 'DeleteEndpoint');
    if (opts.linkCheck !== false) must(!linkExists(srcName), `${srcName} still exists after DeleteEndpoint`);
  });
  await check('ReleaseAddress twice succeeds (and for the gateway)', async () => {
    for (const ip of [...addrs, pool.gw]) {
      for (let i = 0; i < 2; i++) ok(await call('IpamDriver.ReleaseAddress', { PoolID: pool.id, Address: ip }), `ReleaseAddress ${ip}`);
    }
  });
  await check("ReleasePool, DeleteNetwork (the engine's order), each twice, succeed", async () => {
    for (let i = 0; i < 2; i++) ok(await call('IpamDriver.ReleasePool', { PoolID: pool.id }), 'ReleasePool');
    for (let i = 0; i < 2; i++) ok(await call('NetworkDriver.DeleteNetwork', { NetworkID: netId }), 'DeleteNetwork');
  });
  await check('nothing leaked: the same subnet can be requested again', async () => {
    const j = ok(await call('IpamDriver.RequestPool', { AddressSpace: space, Pool: pool.cidr, SubPool: '', Options: {}, V6: false }), 'RequestPool');
    ok(await call('IpamDriver.ReleasePool', { PoolID: j.PoolID }), 'ReleasePool');
  });
  if (stop) {
    // An essential check failed midway: undo what the kit made, as the engine's rollback would.
    const ids = { NetworkID: netId, EndpointID: epId };
    const steps: [string, unknown][] = [
      ['NetworkDriver.Leave', ids],
      ['NetworkDriver.DeleteEndpoint', ids],
      ...[...addrs, pool.gw].map((ip): [string, unknown] => ['IpamDriver.ReleaseAddress', { PoolID: pool.id, Address: ip }]),
      ['IpamDriver.ReleasePool', { PoolID: pool.id }],
      ['NetworkDriver.DeleteNetwork', { NetworkID: netId }],
    ];
    for (const [m, b] of steps) await call(m, b).catch(() => undefined);
  }
  return results;
}
