// The addresses of one pool's range: which are taken (and by whom), which are reserved, and where
// the next dynamic search starts. IPv4 ranges are paged bitmaps; IPv6 ranges are too big for one,
// and their taken addresses are few, so a map and a bounded walk. Pure, no validation: the book
// (book.ts) checks an address before it reaches here.

import type { Cidr, IpAddr } from '../common/cidr.js';

/** Which addresses of one pool are taken and by whom, and where the next dynamic search starts. */
export interface AddressBook {
  holder(ip: IpAddr): string | undefined;
  take(ip: IpAddr, owner: string): void;
  drop(ip: IpAddr): void;
  /** The first address after the cursor that is neither taken nor reserved, wrapping within the range. */
  next(): IpAddr | undefined;
  /** Whether `ip` is what next() would return; cheaper than next() on the allocation path. */
  isNext(ip: IpAddr): boolean;
  cursor: IpAddr | undefined;
  /** IPv4 in address order, IPv6 in allocation order. */
  entries(): Iterable<[IpAddr, string]>;
}

/** The book of `range` with `reserved` (address values of the range's family) never handed out. */
export function addressBook(range: Cidr, reserved: readonly (number | bigint)[]): AddressBook {
  return range.family === 4 ? new V4Book(range, reserved as number[]) : new V6Book(range, reserved as bigint[]);
}

const PAGE = 65536; // one bitmap page per /16: 8 KiB, made only once an address in it is marked
const CHUNK = 256; // owners are kept in arrays of 256: a Map with an entry per address is 5x slower

/** IPv4: a paged bitmap of taken-or-reserved addresses, so a /8 pool costs nothing until used. */
class V4Book implements AddressBook {
  private readonly pages = new Map<number, Uint32Array>();
  private readonly owners = new Map<number, (string | undefined)[]>();
  private readonly lo: number;
  private readonly hi: number;
  private last = -1;

  constructor(range: Cidr, reserved: readonly number[]) {
    this.lo = range.base as number;
    this.hi = this.lo + 2 ** (32 - range.prefix) - 1;
    for (const r of reserved) this.mark(r, true);
  }
  get cursor(): IpAddr | undefined {
    return this.last < 0 ? undefined : { family: 4, value: this.last };
  }
  set cursor(ip: IpAddr | undefined) {
    this.last = ip === undefined ? -1 : (ip.value as number);
  }
  holder(ip: IpAddr): string | undefined {
    const v = ip.value as number;
    return this.owners.get(Math.floor(v / CHUNK))?.[v % CHUNK];
  }
  take(ip: IpAddr, owner: string): void {
    const v = ip.value as number;
    let chunk = this.owners.get(Math.floor(v / CHUNK));
    if (!chunk) this.owners.set(Math.floor(v / CHUNK), (chunk = new Array<string | undefined>(CHUNK)));
    chunk[v % CHUNK] = owner;
    this.mark(v, true);
  }
  drop(ip: IpAddr): void {
    const v = ip.value as number;
    const chunk = this.owners.get(Math.floor(v / CHUNK));
    if (chunk?.[v % CHUNK] === undefined) return;
    chunk[v % CHUNK] = undefined;
    this.mark(v, false);
  }
  next(): IpAddr | undefined {
    const v = this.nextValue();
    return v < 0 ? undefined : { family: 4, value: v };
  }
  isNext(ip: IpAddr): boolean {
    return this.nextValue() === ip.value;
  }
  /** In address order, so persisted allocations read naturally. */
  *entries(): Iterable<[IpAddr, string]> {
    for (const key of [...this.owners.keys()].sort((a, b) => a - b)) {
      const chunk = this.owners.get(key)!;
      for (let i = 0; i < CHUNK; i++) {
        const owner = chunk[i];
        if (owner !== undefined) yield [{ family: 4, value: key * CHUNK + i }, owner];
      }
    }
  }
  private nextValue(): number {
    const from = this.last >= this.lo && this.last < this.hi ? this.last + 1 : this.lo;
    const v = this.scan(from, this.hi + 1);
    return v >= 0 ? v : this.scan(this.lo, from);
  }
  private mark(v: number, used: boolean): void {
    let page = this.pages.get(v >>> 16);
    if (!page) {
      if (!used) return;
      page = new Uint32Array(PAGE / 32);
      this.pages.set(v >>> 16, page);
    }
    const j = v & 0xffff;
    if (used) page[j >>> 5]! |= 1 << (j & 31);
    else page[j >>> 5]! &= ~(1 << (j & 31));
  }
  /** First unmarked address in [from, to), or -1. A missing page is entirely free. */
  private scan(from: number, to: number): number {
    for (let v = from; v < to;) {
      const p = v >>> 16;
      const page = this.pages.get(p);
      if (!page) return v;
      const end = Math.min(to, (p + 1) * PAGE);
      const j = scanPage(page, v - p * PAGE, end - p * PAGE);
      if (j >= 0) return p * PAGE + j;
      v = end;
    }
    return -1;
  }
}

/** First clear bit in [from, to) of one page, a 32-bit word at a time; -1 when none. */
function scanPage(page: Uint32Array, from: number, to: number): number {
  for (let j = from; j < to; j = (j | 31) + 1) {
    const free = ~page[j >>> 5]! & (-1 << (j & 31));
    if (free !== 0) {
      const k = (j & ~31) + 31 - Math.clz32(free & -free);
      return k < to ? k : -1;
    }
  }
  return -1;
}

/** IPv6: subnets are too big for a bitmap, and taken addresses are few, so a map and a walk. */
class V6Book implements AddressBook {
  private readonly holders = new Map<bigint, string>();
  private readonly reserved: ReadonlySet<bigint>;
  private readonly lo: bigint;
  private readonly hi: bigint;
  cursor: IpAddr | undefined;

  constructor(range: Cidr, reserved: readonly bigint[]) {
    this.lo = BigInt(range.base);
    this.hi = this.lo + (1n << BigInt(128 - range.prefix)) - 1n;
    this.reserved = new Set(reserved);
  }
  holder(ip: IpAddr): string | undefined {
    return this.holders.get(ip.value as bigint);
  }
  take(ip: IpAddr, owner: string): void {
    this.holders.set(ip.value as bigint, owner);
  }
  drop(ip: IpAddr): void {
    this.holders.delete(ip.value as bigint);
  }
  next(): IpAddr | undefined {
    const last = this.cursor?.value as bigint | undefined;
    let v = last !== undefined && last >= this.lo && last < this.hi ? last + 1n : this.lo;
    // Of any k+1 consecutive addresses, k = taken + reserved, one is free: the walk is bounded.
    const size = this.hi - this.lo + 1n;
    const limit = this.holders.size + this.reserved.size + 1;
    for (let n = 0; n < limit && BigInt(n) < size; n++) {
      if (!this.holders.has(v) && !this.reserved.has(v)) return { family: 6, value: v };
      v = v === this.hi ? this.lo : v + 1n;
    }
    return undefined;
  }
  isNext(ip: IpAddr): boolean {
    return this.next()?.value === ip.value;
  }
  *entries(): Iterable<[IpAddr, string]> {
    for (const [v, owner] of this.holders) yield [{ family: 6, value: v }, owner];
  }
}
