// The overlay's two choices, pure: a network's VNI (one picker, whether the taken VNIs come from
// this host's records or from the cluster store) and a cluster-wide endpoint address (the
// lowest free host address of the subnet; the cluster claims it with a compare-and-set).
import { conflict, invalid, unavailable } from '../../common/errors.js';
import { cidrSize, contains, formatCidr, nthHost, parseCidr } from '../../common/cidr.js';

export const FIRST_VNI = 4096;

/** `want` when free, else the first free VNI from FIRST_VNI. `used`: VNI -> the network holding
 *  it (its name when known, for the message). */
export function pickVni(used: ReadonlyMap<number, string | undefined>, want: number | undefined): number {
  if (want !== undefined && used.has(want)) {
    const holder = used.get(want);
    throw conflict('NL_VNI_IN_USE', `VNI ${want} is already used by ${holder === undefined ? 'another overlay network' : `overlay network "${holder}"`}`);
  }
  let vni = want ?? FIRST_VNI;
  while (used.has(vni)) vni++;
  return vni;
}

/** An address of `subnet` that is neither the gateway nor taken: `wanted` when given (checked),
 *  else the lowest free one. Looks at most at the first 65536 addresses. */
export function pickAddress(subnet: string, gateway: string, taken: ReadonlySet<string>, wanted?: string): string {
  const c = parseCidr(subnet);
  if (!c) throw invalid('NL_IPAM_INVALID_CIDR', `invalid subnet ${subnet}`);
  if (wanted !== undefined) {
    if (!contains(subnet, wanted)) throw invalid('NL_IPAM_ADDR_OUTSIDE', `address ${wanted} is outside subnet ${subnet}`);
    if (taken.has(wanted) || wanted === gateway)
      throw conflict('NL_IPAM_ADDR_IN_USE', `address ${wanted} is already in use in overlay network ${formatCidr(c)}`);
    return wanted;
  }
  const size = Number(cidrSize(c) > 65536n ? 65536n : cidrSize(c));
  for (let k = 1; k < size - 1; k++) {
    const cand = nthHost(subnet, k);
    if (cand !== gateway && !taken.has(cand)) return cand;
  }
  throw unavailable('NL_IPAM_EXHAUSTED', `no free address left in ${subnet}`);
}
