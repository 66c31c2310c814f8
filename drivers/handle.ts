// A driver with its config type hidden behind closures, and a network bound to its driver.
// The controller holds drivers of different config types in one registry; instead of erasing
// the type (`as Driver`), `loadDriver<C>` keeps C inside: `open` parses a network's options once
// into a NetworkHandle whose verbs already carry the typed config, and the firewaller gets back
// the configs of the handles it made. Nothing here has side effects.
import { invalid } from '../common/errors.js';
import type { Table } from '../system/types.js';
import type {
  Capabilities,
  ClusterDriver,
  Driver,
  DriverEnv,
  DriverNetwork,
  EndpointInfo,
  Finding,
  KeptLines,
  NetworkInfo,
  NetworkMeta,
  Peer,
  PredefinedSettings,
} from './driver.js';

/** One network as its driver parsed it: the typed config stays inside. Cache it per network id
 *  (the options of a stored network never change) and drop it when the network is deleted. */
export interface NetworkHandle {
  readonly driver: string;
  /** The driver's capabilities, as this network's options leave them. */
  readonly caps: Capabilities;
  /** Prefix of sandbox interface names (eth when undefined). */
  readonly ifnamePrefix?: string;
  /** Option values no other network of the same driver may have. */
  readonly unique: Readonly<Record<string, string>>;
  /** Host address a published port binds to when --publish names none. */
  readonly hostBinding: string;
  createNetwork(env: DriverEnv, net: NetworkInfo): Promise<void>;
  deleteNetwork(env: DriverEnv, net: NetworkInfo): Promise<void>;
  join(env: DriverEnv, net: NetworkInfo, ep: EndpointInfo): Promise<void>;
  leave(env: DriverEnv, net: NetworkInfo, ep: EndpointInfo): Promise<void>;
  /** Removes an endpoint's published ports and nothing else (no-op without a firewall). */
  unpublish(env: DriverEnv, net: NetworkInfo, ep: EndpointInfo): Promise<void>;
  hostLinks(net: NetworkInfo, endpointIds: readonly string[]): string[];
  /** `netloom doctor`: this network's links, addresses and routes (none without a doctor). */
  check(env: DriverEnv, net: NetworkInfo, endpoints: readonly EndpointInfo[]): Promise<Finding[]>;
  /** Multi-host drivers only (no-op / no findings otherwise). */
  setPeers(env: DriverEnv, net: NetworkInfo, peers: readonly Peer[]): Promise<void>;
  checkPeers(env: DriverEnv, net: NetworkInfo, peers: readonly Peer[]): Promise<Finding[]>;
}

/** A network of one driver with its endpoints, as the firewaller rebuilds and compares them. */
export interface BoundNetwork {
  readonly handle: NetworkHandle;
  readonly net: NetworkInfo;
  readonly endpoints: readonly EndpointInfo[];
}

/** The firewaller of a loaded driver: takes handles that driver opened. */
export interface LoadedFirewaller {
  restore(env: DriverEnv, nets: readonly BoundNetwork[], keep?: KeptLines): Promise<void>;
  lines(nets: readonly BoundNetwork[]): Record<4 | 6, Record<Table, string[]>>;
  ownLines(save: string, table: Table): string[];
  readonly unorderedChains: ReadonlySet<string>;
  isPortLine(line: string): boolean;
}

/** What the controller holds per driver name. */
export interface LoadedDriver {
  readonly name: string;
  readonly caps: Capabilities;
  /** Parses the options (throws NetloomError naming a bad one) and binds the network. */
  open(options: Readonly<Record<string, string>>, net: NetworkMeta): NetworkHandle;
  /** Option keys the driver keeps but ignores (for the create response's Warning). */
  unknownOptions(options: Readonly<Record<string, string>>): string[];
  /** The options of its predefined network ({} for a driver without options). */
  predefinedOptions(s: PredefinedSettings): Record<string, string>;
  init?(env: DriverEnv): Promise<void>;
  readonly firewall?: LoadedFirewaller;
  readonly cluster?: ClusterDriver;
}

const NONE: ReadonlySet<string> = new Set();

export function loadDriver<C>(d: Driver<C>): LoadedDriver {
  const configs = new WeakMap<NetworkHandle, C>();
  const configOf = (h: NetworkHandle): C => {
    const c = configs.get(h);
    if (c === undefined) throw invalid('NL_UNKNOWN_DRIVER', `a ${h.driver} network was handed to driver ${d.name}`);
    return c;
  };
  const typed = (nets: readonly BoundNetwork[]): DriverNetwork<C>[] => nets.map((n) => ({ net: n.net, config: configOf(n.handle), endpoints: n.endpoints }));
  const { lifecycle: life, firewall: fw, doctor, peers, options: o, init } = d;

  function open(options: Readonly<Record<string, string>>, meta: NetworkMeta): NetworkHandle {
    const c = o.parse(options, meta);
    const handle: NetworkHandle = {
      driver: d.name,
      caps: { ...d.caps, ...o.capabilities?.(c) },
      ifnamePrefix: o.ifnamePrefix?.(c),
      unique: o.unique?.(c) ?? {},
      hostBinding: o.hostBinding?.(c) ?? '0.0.0.0',
      createNetwork: async (env, net) => life?.createNetwork(env, net, c),
      deleteNetwork: async (env, net) => life?.deleteNetwork(env, net, c),
      join: async (env, net, ep) => life?.join(env, net, c, ep),
      leave: async (env, net, ep) => life?.leave(env, net, c, ep),
      unpublish: async (env, net, ep) => fw?.unpublish?.(env, net, c, ep),
      hostLinks: (net, ids) => life?.hostLinks(net, c, ids) ?? [],
      check: async (env, net, endpoints) => (doctor ? doctor.check(env, { net, config: c, endpoints }) : []),
      setPeers: async (env, net, ps) => peers?.set(env, net, c, ps),
      checkPeers: async (env, net, ps) => (peers ? peers.check(env, net, c, ps) : []),
    };
    configs.set(handle, c);
    return handle;
  }

  return {
    name: d.name,
    caps: d.caps,
    open,
    unknownOptions: (options) => o.unknown?.(options) ?? [],
    predefinedOptions: (s) => o.predefined?.(s) ?? {},
    ...(init ? { init: (env: DriverEnv) => init(env) } : {}),
    ...(d.cluster ? { cluster: d.cluster } : {}),
    ...(fw
      ? {
          firewall: {
            restore: async (env, nets, keep) => fw.restore(env, typed(nets), keep),
            lines: (nets) => fw.lines(typed(nets)),
            ownLines: (save, table) => fw.ownLines(save, table),
            unorderedChains: fw.unorderedChains ?? NONE,
            isPortLine: (line) => fw.isPortLine?.(line) ?? false,
          } satisfies LoadedFirewaller,
        }
      : {}),
  };
}
