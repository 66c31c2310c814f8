// The shared IPAM, pure: the controller plans and commits pools and addresses through `Ipam`
// and persists what pools(), allocations() and cursor() return.

export { Ipam } from './allocator.js';
export { DEFAULT_POOLS4, DEFAULT_POOLS6 } from './defaults.js';
export {
  type Allocation,
  type DefaultPool,
  type Family,
  type IpamErrorCode,
  type IpamOptions,
  type PoolRecord,
  type PoolRequest,
  IPAM_ERROR_CODES,
  MAX_PREFIX,
} from './types.js';
