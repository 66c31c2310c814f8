// The IPAM's data shapes. Records and allocations are what the controller persists, so they stay
// plain JSON (strings, booleans, no bigint) and readonly.

import type { Family } from '../common/cidr.js';

export type { Family } from '../common/cidr.js';

/** What a user asks for: the IPAM flags of `docker network create`. */
export interface PoolRequest {
  /** unique pool id chosen by the caller, e.g. `${networkId}:4` */
  readonly id: string;
  /** network id */
  readonly owner: string;
  /** network name, used in messages */
  readonly ownerName: string;
  readonly family: Family;
  /** --subnet; absent = pick from the default pools */
  readonly subnet?: string;
  /** --ip-range: dynamic addresses come only from here; must be inside the subnet */
  readonly ipRange?: string;
  /** --gateway: plain address inside the subnet, not its network or broadcast address */
  readonly gateway?: string;
  /** --aux-address name=ip: reserved addresses inside the subnet, not the gateway */
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

/** What is persisted for a pool; every address and CIDR is in canonical text form. */
export interface PoolRecord {
  readonly id: string;
  readonly owner: string;
  readonly ownerName: string;
  readonly family: Family;
  readonly subnet: string;
  readonly ipRange?: string;
  /** when the user gave none: the first host address of the subnet, like Docker */
  readonly gateway: string;
  /** true when --gateway was given (Docker's inspect shows Gateway for user subnets only then) */
  readonly userGateway: boolean;
  readonly aux: Readonly<Record<string, string>>;
  /** false when the subnet was picked from the default pools */
  readonly userSubnet: boolean;
}

/** One address held by one owner (an endpoint, usually) in one pool. */
export interface Allocation {
  readonly pool: string;
  readonly ip: string;
  readonly owner: string;
}

/** A default address pool, as in Docker's `default-address-pools`: `base` is cut into /`size` subnets. */
export interface DefaultPool {
  readonly base: string;
  readonly size: number;
}

export interface IpamOptions {
  readonly defaults4?: readonly DefaultPool[];
  readonly defaults6?: readonly DefaultPool[];
}

/**
 * Longest prefix a pool may have: a v4 /30 still leaves two hosts once the network and broadcast
 * addresses are reserved; IPv6 stops at /126 to match.
 */
export const MAX_PREFIX: Readonly<Record<Family, number>> = { 4: 30, 6: 126 };

/** Every code the IPAM throws (all NetloomError), for the README's error table. */
export const IPAM_ERROR_CODES = [
  'NL_IPAM_INVALID_CIDR',
  'NL_IPAM_INVALID_ADDRESS',
  'NL_IPAM_GATEWAY_OUTSIDE',
  'NL_IPAM_RANGE_OUTSIDE',
  'NL_IPAM_AUX_OUTSIDE',
  'NL_IPAM_AUX_CONFLICT',
  'NL_IPAM_FAMILY_MISMATCH',
  'NL_IPAM_PREFIX_TOO_LONG',
  'NL_IPAM_POOL_EXISTS',
  'NL_IPAM_POOL_OVERLAP',
  'NL_IPAM_NO_DEFAULT_POOL',
  'NL_IPAM_ADDR_IN_USE',
  'NL_IPAM_ADDR_RESERVED',
  'NL_IPAM_ADDR_OUTSIDE',
  'NL_IPAM_EXHAUSTED',
  'NL_IPAM_POOL_NOT_FOUND',
] as const;
export type IpamErrorCode = (typeof IPAM_ERROR_CODES)[number];
