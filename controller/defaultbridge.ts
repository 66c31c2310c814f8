// The predefined "bridge" network as netloomd's flags describe it (dockerd's --bip, -b,
// --fixed-cidr, --default-gateway, --mtu, --icc, --ip-masq), and applying a changed description
// at start: the default bridge is remade when nothing uses it, and kept as it is (with a warning
// saying why) while sandboxes do.
import { addressOf, canonicalCidr, formatIfAddr, ifAddrIn, prefixLength } from '../common/cidr.js';
import { invalid } from '../common/errors.js';
import type { LoadedDriver } from '../drivers/handle.js';
import { poolsOf, type Ctx } from './context.js';
import type { CreateNetworkRequest, DefaultBridgeSettings } from './requests.js';
import type { NetworkRecord } from './records.js';

/** Docker's IPAM key for a default gateway other than the bridge's own address. */
export const DEFAULT_GATEWAY_AUX = 'DefaultGatewayIPv4';
export const DEFAULT_BRIDGE_NAME = 'netloom0';

export const DEFAULT_SETTINGS: DefaultBridgeSettings = { icc: true, ipMasq: true };

/** The create request of the default bridge, its options as `driver` (bridge) makes them from
 *  the settings; `bridgeAddr` is the IPv4 address an existing -b bridge already has (Docker
 *  takes its subnet when --bip is not given). */
export function defaultBridgeRequest(s: DefaultBridgeSettings, driver: LoadedDriver, bridgeAddr?: string): CreateNetworkRequest {
  const bip = s.bip ?? bridgeAddr;
  if (!bip && (s.fixedCidr || s.defaultGateway)) {
    throw invalid(
      'NL_BAD_DAEMON_CONFIG',
      `--${s.fixedCidr ? 'fixed-cidr' : 'default-gateway'} ${s.fixedCidr ?? s.defaultGateway} needs --bip (or a --bridge with an address): it must lie inside the default bridge's subnet`,
    );
  }
  return {
    name: 'bridge',
    driver: driver.name,
    options: driver.predefinedOptions({ name: s.bridge ?? DEFAULT_BRIDGE_NAME, mtu: s.mtu ?? 1500, icc: s.icc, masquerade: s.ipMasq }),
    ...(bip
      ? {
          ipam: [
            {
              subnet: canonicalCidr(bip),
              gateway: addressOf(bip),
              ...(s.fixedCidr ? { ipRange: s.fixedCidr } : {}),
              ...(s.defaultGateway ? { auxAddresses: { [DEFAULT_GATEWAY_AUX]: s.defaultGateway } } : {}),
            },
          ],
        }
      : {}),
  };
}

/** What differs between the default bridge as it is and as requested; empty = the same. */
export function bridgeChanges(ctx: Ctx, n: NetworkRecord, want: CreateNetworkRequest): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want.options ?? {})) if (n.options[k] !== v) out.push(`${k} ${n.options[k] ?? '(unset)'} -> ${v}`);
  const p = poolsOf(ctx, n).find((x) => x.family === 4);
  const w = want.ipam?.[0];
  if (!w) {
    if (p?.userSubnet) out.push(`subnet ${p.subnet} -> one from the default pools`);
    return out;
  }
  if (p?.subnet !== w.subnet || p?.gateway !== w.gateway)
    out.push(`bip ${p && formatIfAddr(ifAddrIn(p.gateway, p.subnet))} -> ${w.gateway}/${w.subnet && prefixLength(w.subnet)}`);
  if ((p?.ipRange ?? '') !== (w.ipRange ?? '')) out.push(`fixed-cidr ${p?.ipRange ?? '(none)'} -> ${w.ipRange ?? '(none)'}`);
  const gw = (a?: Readonly<Record<string, string>>) => a?.[DEFAULT_GATEWAY_AUX] ?? '(none)';
  if (gw(p?.aux) !== gw(w.auxAddresses)) out.push(`default-gateway ${gw(p?.aux)} -> ${gw(w.auxAddresses)}`);
  return out;
}

/** -b NAME: the bridge must exist (Docker does not make a named one either). Checked at start,
 *  before anything touches the kernel. */
export async function checkBridgeExists(ctx: Ctx): Promise<void> {
  const name = ctx.defaultBridge?.bridge;
  if (!name || name === 'none') return;
  const l = await ctx.env.sys.host.link(name);
  if (l?.kind !== 'bridge') {
    throw invalid(
      'NL_BAD_DAEMON_CONFIG',
      `--bridge ${name}: ${l ? `${name} is not a bridge` : 'no such bridge'}: create it first (ip link add ${name} type bridge) or leave --bridge out`,
    );
  }
}
