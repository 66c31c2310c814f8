// The shared IPAM, pure: the controller plans and commits pools and addresses through `Ipam`
// (book.ts), and commits the store writes its *Ops methods return (store.ts spells the keys).

export { Ipam } from './book.js';
export { DEFAULT_POOLS4, DEFAULT_POOLS6 } from './defaults.js';
export { type IpamOps, type IpamSnapshot, joinOps } from './store.js';
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
