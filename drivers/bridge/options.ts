// Docker's bridge driver options (`-o key=value`), parsed once into a typed config.
import { invalid } from '../../common/errors.js';
import { DEFAULT_MTU } from '../shared/linuxbridge.js';
import type { PredefinedSettings } from '../driver.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  mtu: 'com.docker.network.driver.mtu',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBindingIpv4: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  /** No IPv4 gateway address on the bridge (someone else routes for the subnet). */
  inhibitIpv4: 'com.docker.network.bridge.inhibit_ipv4',
  /** Docker's generic option: sandbox interfaces are named <prefix>0, <prefix>1, ... instead of eth0. */
  ifacePrefix: 'com.docker.network.container_iface_prefix',
} as const;

const KNOWN: ReadonlySet<string> = new Set(Object.values(OPT));

export interface BridgeConfig {
  readonly bridgeName: string;
  readonly mtu: number;
  /** Whether the user set the MTU: an existing bridge netloom adopts keeps its own otherwise. */
  readonly mtuExplicit: boolean;
  readonly icc: boolean;
  readonly masquerade: boolean;
  readonly internal: boolean;
  readonly hostBindingIpv4: string;
  readonly defaultBridge: boolean;
  readonly inhibitIpv4?: boolean;
  /** Sandbox interface name prefix; undefined: eth. */
  readonly ifacePrefix?: string;
}

/** Generated bridge names carry the netloom prefix and the network id, never a user's name. */
export const generatedBridgeName = (networkId: string): string => `nlb-${networkId.slice(0, 11)}`;

/** Docker keeps options it does not know and ignores them; netloom does too, and names them in the
 *  create response's Warning so a typo does not pass unseen. */
export function unknownBridgeOptions(opts: Readonly<Record<string, string>>): string[] {
  return Object.keys(opts).filter((k) => !KNOWN.has(k));
}

function parseBool(key: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw invalid('NL_BRIDGE_BAD_OPTION', `invalid value "${v}" for --opt ${key}: expected true or false`);
}

export function parseBridgeOptions(opts: Readonly<Record<string, string>>, net: { id: string; name: string; internal: boolean }): BridgeConfig {
  const name = opts[OPT.name] ?? generatedBridgeName(net.id);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw invalid('NL_BRIDGE_BAD_OPTION', `invalid bridge name "${name}" in --opt ${OPT.name}: expected 1 to 15 letters, digits, "_", "." or "-"`);
  }
  let mtu = DEFAULT_MTU;
  const rawMtu = opts[OPT.mtu];
  if (rawMtu !== undefined) {
    mtu = /^\d+$/.test(rawMtu) ? Number(rawMtu) : NaN;
    if (!(mtu >= 68 && mtu <= 65535)) {
      throw invalid('NL_BRIDGE_BAD_OPTION', `invalid MTU "${rawMtu}" in --opt ${OPT.mtu}: expected an integer from 68 to 65535`);
    }
  }
  const hostBindingIpv4 = opts[OPT.hostBindingIpv4] ?? '0.0.0.0';
  if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(hostBindingIpv4) || hostBindingIpv4.split('.').some((o) => Number(o) > 255)) {
    throw invalid('NL_BRIDGE_BAD_OPTION', `invalid address "${hostBindingIpv4}" in --opt ${OPT.hostBindingIpv4}: expected an IPv4 address`);
  }
  const ifacePrefix = opts[OPT.ifacePrefix];
  // The kernel's 15-character limit leaves room for an index up to 999.
  if (ifacePrefix !== undefined && !/^[A-Za-z_][A-Za-z0-9_.-]{0,11}$/.test(ifacePrefix)) {
    throw invalid(
      'NL_BRIDGE_BAD_OPTION',
      `invalid interface prefix "${ifacePrefix}" in --opt ${OPT.ifacePrefix}: expected 1 to 12 letters, digits, "_", "." or "-", starting with a letter or "_"`,
    );
  }
  return {
    bridgeName: name,
    mtu,
    mtuExplicit: rawMtu !== undefined,
    icc: parseBool(OPT.icc, opts[OPT.icc], true),
    masquerade: parseBool(OPT.masquerade, opts[OPT.masquerade], true),
    internal: net.internal,
    hostBindingIpv4,
    defaultBridge: parseBool(OPT.defaultBridge, opts[OPT.defaultBridge], false),
    inhibitIpv4: parseBool(OPT.inhibitIpv4, opts[OPT.inhibitIpv4], false),
    ...(ifacePrefix !== undefined ? { ifacePrefix } : {}),
  };
}

/** The default bridge's options (like docker0's) from netloomd's flags. */
export const predefinedBridgeOptions = (s: PredefinedSettings): Record<string, string> => ({
  [OPT.defaultBridge]: 'true',
  [OPT.icc]: String(s.icc),
  [OPT.masquerade]: String(s.masquerade),
  [OPT.hostBindingIpv4]: '0.0.0.0',
  [OPT.name]: s.name,
  [OPT.mtu]: String(s.mtu),
});
