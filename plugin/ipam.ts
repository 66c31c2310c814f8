// Docker's remote IPAM verbs, mapped onto the controller's reserved pools and addresses
// (controller/reserved.ts). What each verb receives and answers: docs/plugin-protocol.md.
import { parseIp } from '../common/cidr.js';
import { invalid } from '../common/errors.js';
import type { Controller } from '../controller/index.js';

/** The address spaces GetDefaultAddressSpaces names; netloom has one IPAM, so they are labels. */
export const ADDRESS_SPACES = { local: 'netloom-local', global: 'netloom-global' } as const;
/** RequestAddress's Options.RequestAddressType when the engine asks for a network's gateway. */
const GATEWAY_TYPE = 'com.docker.network.gateway';

export interface PoolRequest {
  readonly addressSpace: string;
  readonly pool: string;
  readonly subPool: string;
  readonly options: Readonly<Record<string, string>>;
  readonly v6: boolean;
}

export interface AddressRequest {
  readonly poolId: string;
  readonly address: string;
  readonly options: Readonly<Record<string, string>> | null;
}

export interface PoolReply {
  readonly poolId: string;
  readonly pool: string;
  /** The gateway as address/prefix: handing it over spares the engine a RequestAddress. */
  readonly gateway: string;
}

function checkAddress(address: string): void {
  if (address && !parseIp(address)) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid address "${address}": expected a plain IP address`);
}

export async function requestPool(ctl: Controller, req: PoolRequest): Promise<PoolReply> {
  const opts = Object.keys(req.options);
  if (opts.length) throw invalid('NL_UNSUPPORTED_OPTION', `unsupported --ipam-opt ${opts.join(', ')}: netloom's IPAM takes none`);
  const p = await ctl.external.reservePool({ family: req.v6 ? 6 : 4, subnet: req.pool || undefined, ipRange: req.subPool || undefined });
  return { poolId: p.id, pool: p.subnet, gateway: `${p.gateway}/${p.subnet.split('/')[1]}` };
}

/** Returns address/prefix: the gateway (moved to the one asked for, --gateway) or an address. */
export async function requestAddress(ctl: Controller, req: AddressRequest): Promise<string> {
  checkAddress(req.address);
  if (req.options?.RequestAddressType === GATEWAY_TYPE) {
    const p = await ctl.external.setPoolGateway(req.poolId, req.address || undefined);
    return `${p.gateway}/${p.subnet.split('/')[1]}`;
  }
  return ctl.external.reserveAddress(req.poolId, req.address || undefined);
}

export async function releaseAddress(ctl: Controller, poolId: string, address: string): Promise<void> {
  if (!parseIp(address)) throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid address "${address}": expected a plain IP address`);
  await ctl.external.releaseAddress(poolId, address);
}

export const releasePool = (ctl: Controller, poolId: string): Promise<void> => ctl.external.releasePool(poolId);
