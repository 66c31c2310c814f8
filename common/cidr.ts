// IPv4/IPv6 address and CIDR math shared by IPAM and the drivers. Pure and allocation-light:
// IPv4 addresses are plain numbers (0..2^32-1) so IPAM's hot path never touches bigint; IPv6
// addresses are bigints. Parsing is strict and hand-written (not ip-cidr) because IPAM parses on
// every allocation, and because inet_aton-style leniency ("010.1.1.1" read as octal) must be refused.

import { invalid } from './errors.js';

export type Family = 4 | 6;
/** A parsed address; `family` tells whether `value` is a number (IPv4) or a bigint (IPv6). */
export type IpAddr = { readonly family: 4; readonly value: number } | { readonly family: 6; readonly value: bigint };
/** A parsed CIDR with its host bits cleared: `base` is the network address. */
export type Cidr =
  { readonly family: 4; readonly base: number; readonly prefix: number } | { readonly family: 6; readonly base: bigint; readonly prefix: number };

const ALL128 = (1n << 128n) - 1n;
export const BITS: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

/** Dotted quad to number; undefined for anything else, including leading zeros (ambiguous octal). */
export function parseIPv4(s: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (c < 48 || c > 57 || (digits === 1 && octet === 0)) return undefined;
    octet = octet * 10 + (c - 48);
    digits++;
    if (octet > 255) return undefined;
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : undefined;
}

// Octet texts, looked up rather than converted: IPAM formats an address for every allocation.
const OCTET = Array.from({ length: 256 }, (_, i) => String(i));

export function formatIPv4(n: number): string {
  return OCTET[n >>> 24]! + '.' + OCTET[(n >>> 16) & 255]! + '.' + OCTET[(n >>> 8) & 255]! + '.' + OCTET[n & 255]!;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses the groups on one side of "::"; a dotted quad may end the address (::ffff:1.2.3.4). */
function v6Groups(part: string, last: boolean): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const fields = part.split(':');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (last && i === fields.length - 1 && f.includes('.')) {
      const v4 = parseIPv4(f);
      if (v4 === undefined) return undefined;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (HEX_GROUP.test(f)) out.push(parseInt(f, 16));
    else return undefined;
  }
  return out;
}

/** RFC 4291 text to bigint; zones (%eth0) and brackets are refused. */
export function parseIPv6(s: string): bigint | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = v6Groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? v6Groups(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest (first) zero run as "::". */
export function formatIPv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 section 5: IPv4-mapped addresses keep their dotted tail.
  if (v >> 32n === 0xffffn) return `::ffff:${formatIPv4(Number(v & 0xffffffffn))}`;
  let best = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function parseIp(s: string): IpAddr | undefined {
  if (s.includes(':')) {
    const v = parseIPv6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const n = parseIPv4(s);
  return n === undefined ? undefined : { family: 4, value: n };
}

export function formatIp(ip: IpAddr): string {
  return ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value);
}

/** Strict CIDR parse; host bits are cleared (Docker accepts 10.1.0.5/24 as 10.1.0.0/24). */
export function parseCidr(s: string): Cidr | undefined {
  const parts = splitPrefixed(s);
  return parts && cidrOf(parts[0], parts[1]);
}

/** "address/prefix" parsed strictly: a valid address and a decimal prefix that fits its family. */
function splitPrefixed(s: string): [IpAddr, number] | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > BITS[ip.family]) return undefined;
  return [ip, Number(p)];
}

/** The CIDR of the given prefix length that contains `ip`. */
export function cidrOf(ip: IpAddr, prefix: number): Cidr {
  if (ip.family === 4) return { family: 4, base: ip.value - (ip.value % 2 ** (32 - prefix)), prefix };
  return { family: 6, base: ip.value - (ip.value % (1n << BigInt(128 - prefix))), prefix };
}

export function formatCidr(c: Cidr): string {
  return `${c.family === 4 ? formatIPv4(c.base) : formatIPv6(c.base)}/${c.prefix}`;
}

/** Canonical text of a CIDR (host bits cleared), or undefined when it is not one. */
export function canonicalCidr(s: string): string | undefined {
  const c = parseCidr(s);
  return c && formatCidr(c);
}

/** Like parseIp, but throws NL_IPAM_INVALID_ADDRESS naming `what` (e.g. `gateway`). */
export function toIp(x: IpAddr | string, what = 'address'): IpAddr {
  if (typeof x !== 'string') return x;
  const ip = parseIp(x);
  if (ip) return ip;
  throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid ${what} "${x}": expected an IPv4 or IPv6 address such as 10.1.0.1`);
}

/** Like parseCidr, but throws NL_IPAM_INVALID_CIDR naming `what` (e.g. `subnet`). */
export function toCidr(x: Cidr | string, what = 'subnet'): Cidr {
  if (typeof x !== 'string') return x;
  const c = parseCidr(x);
  if (c) return c;
  throw invalid('NL_IPAM_INVALID_CIDR', `invalid ${what} "${x}": expected an IPv4 or IPv6 CIDR such as 10.1.0.0/24`);
}

/** Family of an address or CIDR text, undefined when it is neither. */
export function ipFamily(s: string): Family | undefined {
  return (s.includes('/') ? parseCidr(s) : parseIp(s))?.family;
}

export function prefixLength(c: Cidr | string): number {
  return toCidr(c).prefix;
}

/** Number of addresses in the CIDR, network and broadcast included. */
export function cidrSize(c: Cidr | string): bigint {
  const cidr = toCidr(c);
  return 1n << BigInt(BITS[cidr.family] - cidr.prefix);
}

/** First and last address as bigints, for family-independent comparisons. */
function bounds(c: Cidr): [bigint, bigint] {
  const first = BigInt(c.base);
  return [first, first + (1n << BigInt(BITS[c.family] - c.prefix)) - 1n];
}

export function contains(c: Cidr | string, ip: IpAddr | string): boolean {
  const cidr = toCidr(c);
  const a = toIp(ip);
  if (a.family !== cidr.family) return false;
  // IPv4 compares the leading bits with 32-bit integer ops: this runs for every allocation.
  if (a.family === 4) return cidr.prefix === 0 || (a.value ^ (cidr.base as number)) >>> (32 - cidr.prefix) === 0;
  return a.value >> BigInt(128 - cidr.prefix) === (cidr.base as bigint) >> BigInt(128 - cidr.prefix);
}

/** True when the two share any address; CIDRs are nested or disjoint, so compare at the shorter prefix. */
export function overlaps(a: Cidr | string, b: Cidr | string): boolean {
  const x = toCidr(a);
  const y = toCidr(b);
  if (x.family !== y.family) return false;
  const [x0, x1] = bounds(x);
  const [y0, y1] = bounds(y);
  return x0 <= y1 && y0 <= x1;
}

/** The n-th address of the CIDR (0 = network address); negative n counts back from the last (-1). */
export function nthHost(c: Cidr | string, n: number | bigint): string {
  const cidr = toCidr(c);
  const [first, last] = bounds(cidr);
  const v = BigInt(n) >= 0n ? first + BigInt(n) : last + 1n + BigInt(n);
  if (v < first || v > last) {
    throw invalid('NL_IPAM_INVALID_ADDRESS', `host number ${n} is outside ${formatCidr(cidr)}: expected 0 to ${last - first}`);
  }
  return cidr.family === 4 ? formatIPv4(Number(v)) : formatIPv6(v);
}

/** Netmask text (255.255.255.0) to prefix length; undefined when the mask is not contiguous. */
export function maskToPrefix(mask: string): number | undefined {
  const ip = parseIp(mask);
  if (!ip) return undefined;
  const inv = ip.family === 4 ? BigInt(ip.value) ^ 0xffffffffn : ip.value ^ ALL128;
  if ((inv & (inv + 1n)) !== 0n) return undefined;
  return BITS[ip.family] - (inv === 0n ? 0 : inv.toString(2).length);
}

export function prefixToMask(prefix: number, family: Family = 4): string {
  const bits = BITS[family];
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw invalid('NL_IPAM_INVALID_CIDR', `invalid prefix length ${prefix}: expected 0 to ${bits}`);
  }
  const all = (1n << BigInt(bits)) - 1n;
  const mask = all ^ ((1n << BigInt(bits - prefix)) - 1n);
  return family === 4 ? formatIPv4(Number(mask)) : formatIPv6(mask);
}

/** Network-order bytes, as netlink wants them: 4 for IPv4, 16 for IPv6. */
export function ipToBytes(ip: IpAddr | string): Buffer {
  const a = toIp(ip);
  if (a.family === 4) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(a.value);
    return b;
  }
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(a.value >> 64n, 0);
  b.writeBigUInt64BE(a.value & 0xffffffffffffffffn, 8);
  return b;
}

export function bytesToIp(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 4) return formatIPv4(b.readUInt32BE(0));
  if (b.length === 16) return formatIPv6((b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8));
  throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid address of ${b.length} bytes: expected 4 (IPv4) or 16 (IPv6)`);
}

/** Docker's container MAC: 02:42 (locally administered) followed by the IPv4 address, e.g. 02:42:ac:11:00:02. */
export function macFromIPv4(ip: string | number): string {
  const n = typeof ip === 'number' ? ip : parseIPv4(ip);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw invalid('NL_IPAM_INVALID_ADDRESS', `invalid IPv4 address "${ip}" for a MAC: expected a dotted quad such as 172.17.0.2`);
  }
  const hex = (x: number): string => x.toString(16).padStart(2, '0');
  return `02:42:${hex(n >>> 24)}:${hex((n >>> 16) & 255)}:${hex((n >>> 8) & 255)}:${hex(n & 255)}`;
}

/** An address on an interface: a host address and the prefix length of its subnet (10.1.0.2/24).
 *  Unlike a Cidr the host bits are the point; `ip` is canonical text, so the value is plain JSON. */
export interface IfAddr {
  readonly ip: string;
  readonly prefix: number;
}

/** Strict parse of "address/prefix"; the address comes back in canonical text, host bits kept. */
export function parseIfAddr(s: string): IfAddr | undefined {
  const parts = splitPrefixed(s);
  return parts && { ip: formatIp(parts[0]), prefix: parts[1] };
}

export function formatIfAddr(a: IfAddr): string {
  return `${a.ip}/${a.prefix}`;
}

/** `ip` as an address on an interface of `subnet`: with the subnet's prefix length. */
export function ifAddrIn(ip: string, subnet: Cidr | string): IfAddr {
  return { ip, prefix: prefixLength(subnet) };
}

/** The address of "address/prefix" text, or the text itself when it has no prefix. Not checked:
 *  for text netloom wrote itself (records, the kernel's address dumps). */
export function addressOf(s: string): string {
  const slash = s.indexOf('/');
  return slash < 0 ? s : s.slice(0, slash);
}
