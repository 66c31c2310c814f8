// What the controller persists. Every record carries a state so that a crash between the store
// write and the kernel work is always resolvable: "creating" is rolled back, "deleting" is
// finished, "ready" is re-applied to the kernel (reconcile.ts).
import { formatIfAddr, type IfAddr } from '../common/cidr.js';
import type { PortBinding } from '../common/ports.js';
import type { ExposedPort, ExtraHost, SandboxLink } from './sandboxopts.js';

/** One IPAM config as requested (--subnet, --ip-range, --gateway, --aux-address). */
export interface IpamConfigSpec {
  readonly subnet?: string;
  readonly ipRange?: string;
  readonly gateway?: string;
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

export type RecState = 'creating' | 'ready' | 'deleting';

export interface NetworkRecord {
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly created: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly enableIPv6: boolean;
  readonly ipamDriver: string;
  readonly ipamOptions: Readonly<Record<string, string>> | null;
  readonly options: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly pools: readonly string[];
  readonly predefined: boolean;
  /** Upstream DNS servers for names netloom does not own (--dns at network create). */
  readonly dns?: readonly string[];
  /** --config-only: the configuration its --config-from networks take (the record has no pools,
   *  driver "null", empty options); absent on every other network. */
  readonly configOnly?: { readonly ipam: readonly IpamConfigSpec[]; readonly options: Readonly<Record<string, string>> };
  /** --config-from: the name of the configuration network this one was made from. */
  readonly configFrom?: string;
  /** 'docker': made by a Docker engine through the plugin (plugin/); only Docker may change it. */
  readonly origin?: 'docker' | 'cluster';
  readonly state: RecState;
}

export interface EndpointRecord {
  readonly id: string;
  readonly network: string; // network id
  /** sandbox id; a Docker endpoint (external) has no sandbox record and keeps its own docker-<id> name here */
  readonly sandbox: string;
  readonly ifname: string;
  readonly mac: string;
  readonly ipv4?: IfAddr;
  readonly ipv6?: IfAddr;
  readonly aliases: readonly string[];
  readonly defaultRoute: boolean;
  /** Upstream DNS servers for this endpoint (--dns at connect). */
  readonly dns?: readonly string[];
  /** Who plumbs the sandbox side: absent, netloom does, into the netloom sandbox named `sandbox`;
   *  an engine attachment, an outside container engine does (controller/attachment.ts). */
  readonly attachment?: EngineAttachment;
  /** Published ports, host ports resolved (--publish). */
  readonly ports?: readonly PortBinding[];
  readonly created: string;
  readonly state: RecState;
}

/** An endpoint whose sandbox side a container engine plumbs (Docker, through plugin/): netloom
 *  makes the veth and leaves its container end, named `ifname`, unconfigured in the host
 *  namespace; the engine moves it into a namespace of its own. `sandbox` is then only a label. */
export interface EngineAttachment {
  readonly kind: 'engine';
  /** The engine's namespace (a path), from attach to detach: the veth exists only meanwhile. */
  readonly sandboxKey?: string;
  /** Ports to publish when the engine asks (--publish specs). */
  readonly publish?: readonly string[];
}

export type SandboxMode =
  { readonly kind: 'own' } | { readonly kind: 'none' } | { readonly kind: 'host' } | { readonly kind: 'container'; readonly target: string };

export interface SandboxRecord {
  readonly id: string;
  readonly name: string;
  readonly mode: SandboxMode;
  /** --dns, --dns-search, --dns-option at sandbox create. */
  readonly dns?: readonly string[];
  readonly dnsSearch?: readonly string[];
  readonly dnsOptions?: readonly string[];
  /** --hostname/--domainname: the sandbox has its own UTS namespace with these names. */
  readonly hostname?: string;
  readonly domainname?: string;
  /** --add-host, host-gateway resolved to an address at create. */
  readonly extraHosts?: readonly ExtraHost[];
  /** --link: legacy links on the default bridge (one-way hosts entry; ICC-off rules). */
  readonly links?: readonly SandboxLink[];
  /** --expose: ports the sandbox offers (opened by links under ICC off, published by -P). */
  readonly expose?: readonly ExposedPort[];
  readonly publishAll?: boolean;
  readonly created: string;
  readonly state: RecState;
}

/** An endpoint address as the API shows it ("10.1.0.2/24"), or '' when there is none. */
export const addrText = (a: IfAddr | undefined): string => (a ? formatIfAddr(a) : '');

export const sameAddr = (a: IfAddr | undefined, b: IfAddr | undefined): boolean => addrText(a) === addrText(b);

export const key = {
  net: (id: string) => `net/${id}`,
  netName: (name: string) => `netname/${name}`,
  ep: (id: string) => `ep/${id}`,
  sb: (name: string) => `sb/${name}`,
  instance: 'meta/instance',
  /** The shape of the records (absent: format 1, before typed records); see migrate.ts. */
  recordFormat: 'meta/record-format',
} as const;
