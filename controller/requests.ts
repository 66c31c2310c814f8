// What callers ask the controller for: the network create request (the CLI, the Engine API, the
// default bridge and configuration networks build it) and the default bridge's settings (netloomd's
// flags). Types only, so that the modules that build and take them need not import each other.
import type { IpamConfigSpec } from './records.js';

export type IpamConfigRequest = IpamConfigSpec;

export interface CreateNetworkRequest {
  readonly name: string;
  readonly driver?: string;
  readonly internal?: boolean;
  readonly attachable?: boolean;
  readonly enableIPv6?: boolean;
  readonly ipamDriver?: string;
  readonly ipamOptions?: Readonly<Record<string, string>>;
  readonly ipam?: readonly IpamConfigRequest[];
  readonly options?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  /** Upstream DNS servers for names netloom does not own. */
  readonly dns?: readonly string[];
  /** Docker's --scope: "", local, or global for a global driver. */
  readonly scope?: string;
  /** --config-only: record the configuration, create nothing (controller/configs.ts). */
  readonly configOnly?: boolean;
  /** --config-from: the configuration network to take IPAM, options and labels from. */
  readonly configFrom?: string;
}

export interface DefaultBridgeSettings {
  /** --bip: the bridge's address with its subnet's prefix (10.99.0.1/24). */
  readonly bip?: string;
  /** -b/--bridge: an existing Linux bridge to use; 'none' = no default bridge. */
  readonly bridge?: string;
  /** --fixed-cidr: sandboxes' addresses come from here (inside the --bip subnet). */
  readonly fixedCidr?: string;
  /** --default-gateway: the sandboxes' default route goes there instead of the bridge. */
  readonly defaultGateway?: string;
  readonly mtu?: number;
  readonly icc: boolean;
  readonly ipMasq: boolean;
}
