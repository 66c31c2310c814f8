// Request bodies of netloomd's API, which speaks the network subset of Docker's Engine API
// (docs/engine-api.md) plus /sandboxes. Every field is type-checked here, so a wrong type becomes
// a 400 naming the field, never a crash deeper down.
import { invalid } from '../common/errors.js';
import type { ConnectRequest } from '../controller/endpoints.js';
import type { CreateNetworkRequest, IpamConfigRequest } from '../controller/requests.js';
import type { CreateSandboxRequest } from '../controller/sandboxes.js';

type Json = Record<string, unknown>;

function obj(v: unknown, field: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('NL_BAD_REQUEST', `field ${field} must be an object`);
  return v as Json;
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid('NL_BAD_REQUEST', `field ${field} must be a string`);
  return v;
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid('NL_BAD_REQUEST', `field ${field} must be true or false`);
  return v;
}

function strMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = obj(v, field);
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'string') throw invalid('NL_BAD_REQUEST', `field ${field}.${k} must be a string`);
  }
  return o as Record<string, string>;
}

function strList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid('NL_BAD_REQUEST', `field ${field} must be a list of strings`);
  return v as string[];
}

/** netloom's own additions to Docker's bodies appear in the request only when given. */
const optional = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : { [k]: v }) as Partial<Record<K, V>>;

export function parseCreateNetwork(body: unknown): CreateNetworkRequest {
  const b = obj(body, 'body');
  const name = str(b.Name, 'Name');
  if (!name) throw invalid('NL_BAD_NAME', 'invalid name: a network needs a name');
  const ipam = obj(b.IPAM, 'IPAM');
  const config = ipam.Config ?? [];
  if (!Array.isArray(config)) throw invalid('NL_BAD_REQUEST', 'field IPAM.Config must be a list');
  const pools: IpamConfigRequest[] = config.map((c, i) => {
    const o = obj(c, `IPAM.Config[${i}]`);
    return {
      subnet: str(o.Subnet, `IPAM.Config[${i}].Subnet`),
      ipRange: str(o.IPRange, `IPAM.Config[${i}].IPRange`),
      gateway: str(o.Gateway, `IPAM.Config[${i}].Gateway`),
      auxAddresses: strMap(o.AuxiliaryAddresses, `IPAM.Config[${i}].AuxiliaryAddresses`),
    };
  });
  if (bool(b.EnableIPv4, 'EnableIPv4') === false) throw invalid('NL_BAD_REQUEST', 'EnableIPv4=false is not supported: every network has IPv4');
  return {
    name,
    driver: str(b.Driver, 'Driver'),
    internal: bool(b.Internal, 'Internal'),
    attachable: bool(b.Attachable, 'Attachable'),
    enableIPv6: bool(b.EnableIPv6, 'EnableIPv6'),
    ipamDriver: str(ipam.Driver, 'IPAM.Driver'),
    ipamOptions: strMap(ipam.Options, 'IPAM.Options'),
    ipam: pools,
    options: strMap(b.Options, 'Options'),
    labels: strMap(b.Labels, 'Labels'),
    ...optional('dns', strList(b.Dns, 'Dns')),
    ...optional('scope', str(b.Scope, 'Scope')),
    ...optional('configOnly', bool(b.ConfigOnly, 'ConfigOnly') || undefined),
    // Docker sends "ConfigFrom": null without --config-from, {"Network": name} with it.
    ...optional('configFrom', str(obj(b.ConfigFrom, 'ConfigFrom').Network, 'ConfigFrom.Network')),
  };
}

function endpointConfig(v: unknown, field: string): ConnectRequest {
  const ec = obj(v, field);
  const ipamCfg = obj(ec.IPAMConfig, `${field}.IPAMConfig`);
  return {
    ipv4Address: str(ipamCfg.IPv4Address, `${field}.IPAMConfig.IPv4Address`),
    ipv6Address: str(ipamCfg.IPv6Address, `${field}.IPAMConfig.IPv6Address`),
    aliases: strList(ec.Aliases, `${field}.Aliases`),
    ...optional('dns', strList(ec.Dns, `${field}.Dns`)),
    // netloom's own field: `--publish` specs, parsed (and refused naming the value) by the controller.
    ...optional('publish', strList(ec.Publish, `${field}.Publish`)),
  };
}

export function parseConnect(body: unknown): { container: string; req: ConnectRequest } {
  const b = obj(body, 'body');
  const container = str(b.Container, 'Container');
  if (!container) throw invalid('NL_BAD_REQUEST', 'field Container must name a sandbox');
  return { container, req: endpointConfig(b.EndpointConfig, 'EndpointConfig') };
}

export function parseDisconnect(body: unknown): { container: string; force: boolean } {
  const b = obj(body, 'body');
  const container = str(b.Container, 'Container');
  if (!container) throw invalid('NL_BAD_REQUEST', 'field Container must name a sandbox');
  return { container, force: bool(b.Force, 'Force') ?? false };
}

export function parseCreateSandbox(body: unknown): CreateSandboxRequest {
  const b = obj(body, 'body');
  const name = str(b.Name, 'Name');
  if (!name) throw invalid('NL_BAD_NAME', 'invalid name: a sandbox needs a name');
  return {
    name,
    network: str(b.Network, 'Network'),
    ...endpointConfig(b.EndpointConfig, 'EndpointConfig'),
    ...optional('dnsSearch', strList(b.DnsSearch, 'DnsSearch')),
    ...optional('dnsOptions', strList(b.DnsOptions, 'DnsOptions')),
    ...sandboxFlags(b),
  };
}

/** The `docker run` flags of a sandbox (netloom's own top-level fields, Docker's names). A
 *  top-level Dns adds to EndpointConfig.Dns; MacAddress is the first endpoint's. */
function sandboxFlags(b: Json): Partial<CreateSandboxRequest> {
  const dns = [...(strList(obj(b.EndpointConfig, 'EndpointConfig').Dns, 'EndpointConfig.Dns') ?? []), ...(strList(b.Dns, 'Dns') ?? [])];
  return {
    ...optional('hostname', str(b.Hostname, 'Hostname')),
    ...optional('domainname', str(b.Domainname, 'Domainname')),
    ...optional('links', strList(b.Links, 'Links')),
    ...optional('extraHosts', strList(b.ExtraHosts, 'ExtraHosts')),
    ...(dns.length ? { dns } : {}),
    ...optional('macAddress', str(b.MacAddress, 'MacAddress')),
    ...optional('expose', strList(b.Expose, 'Expose')),
    ...optional('publishAll', bool(b.PublishAll, 'PublishAll')),
  };
}
