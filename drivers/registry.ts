// The drivers a controller knows, by name. Docker's "null" is also reachable as "none".
import { notFound } from '../common/errors.js';
import { createBridgeDriver, type BridgeHost } from './bridge/index.js';
import { loadDriver, type LoadedDriver } from './handle.js';
import { hostDriver } from './host/index.js';
import { noneDriver } from './none/index.js';
import { createOverlayDriver, type OverlayHost } from './overlay/index.js';

export type { OverlayHost };

export type DriverRegistry = ReadonlyMap<string, LoadedDriver>;

const SINGLE_HOST: OverlayHost = { port: 4789, underlayMtu: 1500 };

export function defaultDrivers(overlay: () => OverlayHost = () => SINGLE_HOST, bridgeHost?: BridgeHost): DriverRegistry {
  return new Map<string, LoadedDriver>([
    ['bridge', loadDriver(createBridgeDriver(bridgeHost))],
    ['host', loadDriver(hostDriver)],
    ['null', loadDriver(noneDriver)],
    ['overlay', loadDriver(createOverlayDriver(overlay, { iptables: bridgeHost?.iptables ?? true }))],
  ]);
}

export function lookupDriver(reg: DriverRegistry, name: string): LoadedDriver {
  const d = reg.get(name === 'none' ? 'null' : name);
  if (!d) throw notFound('NL_UNKNOWN_DRIVER', `unknown driver "${name}": available drivers are ${[...reg.keys()].join(', ')}`);
  return d;
}
