// The Docker plugin protocol's request bodies, checked field by field into the controller's
// request types. Pure: every bad body becomes one NetloomError naming the field and the value.
// Field names and shapes: docs/plugin-protocol.md.
import { invalid } from '../common/errors.js';
import type { AddressRequest, PoolRequest } from './ipam.js';
import type { DockerEndpointRequest, DockerNetworkRequest, IpamData } from './mapping.js';

type Obj = Record<string, unknown>;

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

const bad = (field: string, want: string, got: unknown) => invalid('NL_BAD_REQUEST', `invalid ${field}: expected ${want}, got ${show(got)}`);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The body as an object (an empty body is an empty object). */
export function body(raw: unknown): Obj {
  if (raw === undefined) return {};
  if (!isObj(raw)) throw bad('request body', 'a JSON object', raw);
  return raw;
}

function str(o: Obj, field: string, opts: { required?: boolean; path?: string } = {}): string {
  const v = o[field];
  const name = opts.path ? `${opts.path}.${field}` : field;
  if (v === undefined || v === null) {
    if (opts.required) throw invalid('NL_BAD_REQUEST', `missing ${name}`);
    return '';
  }
  if (typeof v !== 'string') throw bad(name, 'a string', v);
  return v;
}

function bool(o: Obj, field: string): boolean {
  const v = o[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw bad(field, 'true or false', v);
  return v;
}

function obj(o: Obj, field: string): Obj {
  const v = o[field];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw bad(field, 'an object', v);
  return v;
}

function strMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw bad(field, 'an object of strings', v);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw bad(`${field}["${k}"]`, 'a string', x);
  return v as Record<string, string>;
}

function arr(o: Obj, field: string): unknown[] {
  const v = o[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(field, 'an array', v);
  return v;
}

export const id = (o: Obj, field: 'NetworkID' | 'EndpointID' | 'PoolID'): string => str(o, field, { required: true });

/** NetworkID and EndpointID, both required strings (every endpoint verb carries both). */
export const endpointIds = (o: Obj): { networkId: string; endpointId: string } => ({ networkId: id(o, 'NetworkID'), endpointId: id(o, 'EndpointID') });

export function poolRequest(o: Obj): PoolRequest {
  return {
    addressSpace: str(o, 'AddressSpace'),
    pool: str(o, 'Pool'),
    subPool: str(o, 'SubPool'),
    options: strMap(o.Options, 'Options'),
    v6: bool(o, 'V6'),
  };
}

export function addressRequest(o: Obj): AddressRequest {
  return {
    poolId: id(o, 'PoolID'),
    address: str(o, 'Address'),
    options: o.Options === null || o.Options === undefined ? null : strMap(o.Options, 'Options'),
  };
}

export function releaseAddressRequest(o: Obj): { poolId: string; address: string } {
  return { poolId: id(o, 'PoolID'), address: str(o, 'Address', { required: true }) };
}

function ipamData(v: unknown, field: string): IpamData {
  if (!isObj(v)) throw bad(field, 'an object', v);
  return {
    subnet: str(v, 'Pool', { required: true, path: field }),
    gateway: str(v, 'Gateway', { path: field }) || undefined,
    auxAddresses: strMap(v.AuxAddresses, `${field}.AuxAddresses`),
  };
}

const NETWORK_OPTIONS = {
  ipv6: 'com.docker.network.enable_ipv6',
  generic: 'com.docker.network.generic',
  internal: 'com.docker.network.internal',
} as const;

export function createNetworkRequest(o: Obj): DockerNetworkRequest {
  const options = obj(o, 'Options');
  const generic = strMap(options[NETWORK_OPTIONS.generic], `Options["${NETWORK_OPTIONS.generic}"]`);
  return {
    networkId: id(o, 'NetworkID'),
    enableIPv6: bool(options, NETWORK_OPTIONS.ipv6),
    internal: bool(options, NETWORK_OPTIONS.internal),
    options: generic,
    ipv4: arr(o, 'IPv4Data').map((d, i) => ipamData(d, `IPv4Data[${i}]`)),
    ipv6: arr(o, 'IPv6Data').map((d, i) => ipamData(d, `IPv6Data[${i}]`)),
  };
}

const EP_OPTIONS = {
  exposed: 'com.docker.network.endpoint.exposedports',
  portmap: 'com.docker.network.portmap',
  mac: 'com.docker.network.endpoint.macaddress',
} as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function createEndpointRequest(o: Obj): DockerEndpointRequest {
  const iface = obj(o, 'Interface');
  const options = obj(o, 'Options');
  let mac = str(iface, 'MacAddress', { path: 'Interface' }).toLowerCase();
  if (mac && !MAC.test(mac)) throw bad('Interface.MacAddress', 'a MAC address such as 02:42:ac:11:00:02', mac);
  const b64 = options[EP_OPTIONS.mac];
  if (!mac && b64 !== undefined) {
    const raw = typeof b64 === 'string' ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (raw.length !== 6) throw bad(`Options["${EP_OPTIONS.mac}"]`, 'the base64 of 6 bytes', b64);
    mac = [...raw].map((x) => x.toString(16).padStart(2, '0')).join(':');
  }
  const portmap = arr(options, EP_OPTIONS.portmap).map((m, i) => publishSpec(m, `Options["${EP_OPTIONS.portmap}"][${i}]`));
  arr(options, EP_OPTIONS.exposed); // metadata only (EXPOSE): checked for shape, not used
  const known = new Set<string>(Object.values(EP_OPTIONS));
  return {
    networkId: id(o, 'NetworkID'),
    endpointId: id(o, 'EndpointID'),
    address: str(iface, 'Address', { path: 'Interface' }),
    addressIPv6: str(iface, 'AddressIPv6', { path: 'Interface' }),
    mac,
    portmap,
    // The engine adds informational keys of its own (e.g. ...endpoint.dnsservers with --dns);
    // anything else came from the user's --driver-opt and must mean something to us.
    unknownOptions: Object.keys(options).filter((k) => !known.has(k) && !k.startsWith('com.docker.')),
  };
}

/** One entry of the engine's port map as a --publish spec: {Proto: 6|17, IP, Port, HostIP,
 *  HostPort (0 = pick), HostPortEnd} -> "[hostIP:]hostPort[-end]:port/proto". */
function publishSpec(m: unknown, field: string): string {
  if (!isObj(m)) throw bad(field, 'an object', m);
  const int = (k: string, min: number): number => {
    const v = m[k] ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) throw bad(`${field}.${k}`, `a port number`, v);
    return v;
  };
  const proto = m.Proto === 6 ? 'tcp' : m.Proto === 17 ? 'udp' : undefined;
  if (!proto) throw bad(`${field}.Proto`, '6 (tcp) or 17 (udp)', m.Proto);
  const port = int('Port', 1);
  const hostPort = int('HostPort', 0);
  const hostEnd = int('HostPortEnd', 0);
  const hostIP = str(m, 'HostIP', { path: field });
  const ip = hostIP ? (hostIP.includes(':') ? `[${hostIP}]:` : `${hostIP}:`) : '';
  const hp = hostPort === 0 ? '' : hostEnd > hostPort ? `${hostPort}-${hostEnd}` : `${hostPort}`;
  return `${ip}${hp}:${port}/${proto}`;
}

export function joinRequest(o: Obj): { networkId: string; endpointId: string; sandboxKey: string } {
  obj(o, 'Options'); // exposed ports and port map again: CreateEndpoint's copy is the one used
  return { networkId: id(o, 'NetworkID'), endpointId: id(o, 'EndpointID'), sandboxKey: str(o, 'SandboxKey', { required: true }) };
}
