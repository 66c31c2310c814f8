// Docker-shaped views of the records (`docker network inspect` / `network ls` JSON). Pure.
import type { PoolRecord } from '../ipam/types.js';
import { bindingSummary, type PortBinding } from '../common/ports.js';
import { addrText, type EndpointRecord, type IpamConfigSpec, type NetworkRecord, type SandboxRecord } from './records.js';
import { showExposed } from './sandboxopts.js';

export interface IpamConfigView {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface ContainerView {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
  /** Published ports (netloom's addition), e.g. "*:8080->80/tcp"; absent when none. */
  Ports?: string[];
}

export interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local' | 'global';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfigView[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: false;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, ContainerView>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** Overlay networks: the hosts with endpoints on it (as Docker shows them). */
  Peers?: { Name: string; IP: string; ID?: string }[];
  /** Overlay networks: endpoints on other hosts (netloom's addition). */
  RemoteEndpoints?: Record<string, { Name: string; Host: string; HostID?: string; IPv4Address: string; MacAddress: string }>;
}

function ipamConfig(p: PoolRecord): IpamConfigView {
  const c: IpamConfigView = { Subnet: p.subnet };
  if (p.ipRange) c.IPRange = p.ipRange;
  // Docker 20.10 shows the gateway of a subnet the user gave only when the user gave the gateway
  // too; of a subnet its IPAM chose, always. (The record always has it: DNS and routes use it.)
  if (!p.userSubnet || p.userGateway) c.Gateway = p.gateway;
  if (Object.keys(p.aux).length) c.AuxiliaryAddresses = { ...p.aux };
  return c;
}

/** A config-only network's IPAM config, shown as the user gave it. */
function requestedConfig(c: IpamConfigSpec): IpamConfigView {
  return {
    ...(c.subnet ? { Subnet: c.subnet } : {}),
    ...(c.ipRange ? { IPRange: c.ipRange } : {}),
    ...(c.gateway ? { Gateway: c.gateway } : {}),
    ...(c.auxAddresses && Object.keys(c.auxAddresses).length ? { AuxiliaryAddresses: { ...c.auxAddresses } } : {}),
  } as IpamConfigView;
}

export function networkView(
  n: NetworkRecord,
  pools: readonly PoolRecord[],
  endpoints: readonly EndpointRecord[],
  sandboxes: ReadonlyMap<string, SandboxRecord>,
  scope: 'local' | 'global',
  withContainers = true,
): NetworkView {
  const containers: Record<string, ContainerView> = {};
  if (withContainers) {
    for (const e of endpoints) {
      if (e.state !== 'ready') continue;
      const sb = sandboxes.get(e.sandbox);
      containers[sb?.id ?? e.sandbox] = {
        Name: sb?.name ?? e.sandbox,
        EndpointID: e.id,
        MacAddress: e.mac,
        IPv4Address: addrText(e.ipv4),
        IPv6Address: addrText(e.ipv6),
        ...(e.ports?.length ? { Ports: e.ports.map(bindingSummary) } : {}),
      };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: scope,
    Driver: n.driver,
    EnableIPv6: n.enableIPv6,
    IPAM: {
      Driver: n.ipamDriver,
      Options: n.ipamOptions ? { ...n.ipamOptions } : null,
      Config: n.configOnly ? n.configOnly.ipam.map(requestedConfig) : pools.map(ipamConfig),
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: n.configFrom ?? '' },
    ConfigOnly: Boolean(n.configOnly),
    Containers: containers,
    Options: { ...(n.configOnly?.options ?? n.options) },
    Labels: { ...n.labels },
  };
}

export interface SandboxView {
  Name: string;
  Id: string;
  Created: string;
  NetworkMode: string;
  /** Per network, as Docker's container inspect (NetworkSettings.Networks): Gateway and
   *  IPv6Gateway are the network's gateways even where network inspect hides an automatic one. */
  Networks: Record<
    string,
    {
      NetworkID: string;
      EndpointID: string;
      Interface: string;
      MacAddress: string;
      IPv4Address: string;
      IPv6Address: string;
      Gateway: string;
      IPv6Gateway: string;
      Aliases: string[];
      Ports?: PortBinding[];
    }
  >;
  /** What `docker run` flags gave it (Docker's Config and HostConfig fields of these names). */
  Hostname: string;
  Domainname: string;
  Dns: string[];
  DnsSearch: string[];
  DnsOptions: string[];
  /** NAME:IP, host-gateway shown resolved. */
  ExtraHosts: string[];
  /** NAME:ALIAS */
  Links: string[];
  /** PORT[-END]/PROTO */
  ExposedPorts: string[];
  PublishAllPorts: boolean;
}

export function sandboxView(
  sb: SandboxRecord,
  eps: readonly EndpointRecord[],
  nets: ReadonlyMap<string, NetworkRecord>,
  gatewayOf: (network: NetworkRecord, family: 4 | 6) => string | undefined = () => undefined,
): SandboxView {
  const mode = sb.mode.kind === 'container' ? `container:${sb.mode.target}` : sb.mode.kind === 'own' ? 'bridge' : sb.mode.kind;
  const networks: SandboxView['Networks'] = {};
  for (const e of eps) {
    const n = nets.get(e.network);
    networks[n?.name ?? e.network] = {
      NetworkID: e.network,
      EndpointID: e.id,
      Interface: e.ifname,
      MacAddress: e.mac,
      IPv4Address: addrText(e.ipv4),
      IPv6Address: addrText(e.ipv6),
      Gateway: (e.ipv4 && n && gatewayOf(n, 4)) || '',
      IPv6Gateway: (e.ipv6 && n && gatewayOf(n, 6)) || '',
      Aliases: [...e.aliases],
      ...(e.ports?.length ? { Ports: e.ports.map((b) => ({ ...b })) } : {}),
    };
  }
  return {
    Name: sb.name,
    Id: sb.id,
    Created: sb.created,
    NetworkMode: mode,
    Networks: networks,
    Hostname: sb.hostname ?? '',
    Domainname: sb.domainname ?? '',
    Dns: [...(sb.dns ?? [])],
    DnsSearch: [...(sb.dnsSearch ?? [])],
    DnsOptions: [...(sb.dnsOptions ?? [])],
    ExtraHosts: (sb.extraHosts ?? []).map((h) => `${h.name}:${h.ip}`),
    Links: (sb.links ?? []).map((l) => `${l.name}:${l.alias}`),
    ExposedPorts: (sb.expose ?? []).map(showExposed),
    PublishAllPorts: sb.publishAll ?? false,
  };
}
