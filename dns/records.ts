// The embedded DNS's names: every endpoint on a DNS-enabled network, indexed by each name a peer
// may ask for (sandbox name, aliases, and both followed by ".<network>"), by address and by sandbox.
// The controller calls add when an endpoint joins and remove when it leaves; a change touches only
// that endpoint's keys, so its cost stays flat with thousands of endpoints. JavaScript runs one
// query at a time, so a query sees the records wholly before or wholly after a change: none is lost.

import { formatIp, parseIp, type Family } from '../common/cidr.js';
import { invalid } from '../common/errors.js';
import type { DnsEndpoint } from './types.js';

/** The sandbox behind a query's source address: what it may see, and its endpoints (for upstream choice). */
export interface ClientView {
  readonly sandbox: string;
  readonly networks: ReadonlySet<string>; // network ids
  readonly endpoints: readonly DnsEndpoint[];
}

interface Entry {
  readonly ep: DnsEndpoint;
  readonly names: readonly string[]; // the lower-case keys it is filed under in byName
}

type Index = Map<string, Map<string, DnsEndpoint>>; // key -> endpointId -> endpoint

const NONE: readonly DnsEndpoint[] = Object.freeze([]);
// Rotation counters are dropped wholesale past this many names beyond the records' own: restarting
// a rotation is harmless, and it bounds the map however many distinct names are asked.
const SPARE_COUNTERS = 1024;

function file(index: Index, key: string, ep: DnsEndpoint): void {
  let m = index.get(key);
  if (!m) index.set(key, (m = new Map()));
  m.set(ep.endpointId, ep);
}

function unfile(index: Index, key: string, endpointId: string): boolean {
  const m = index.get(key);
  if (!m?.delete(endpointId) || m.size > 0) return false;
  index.delete(key);
  return true;
}

/** The canonical text of an endpoint address of the given family; throws naming the endpoint otherwise. */
function canonical(ep: DnsEndpoint, ip: string | undefined, family: Family): string | undefined {
  if (ip === undefined) return undefined;
  const a = parseIp(ip);
  if (a?.family === family) return formatIp(a);
  const example = family === 4 ? '10.1.0.2' : 'fd00::2';
  throw invalid(
    'NL_DNS_INVALID_ENDPOINT',
    `invalid IPv${family} address "${ip}" for sandbox "${ep.sandbox}" on network "${ep.network}": expected an address such as ${example}`,
  );
}

/** Every name the endpoint answers to, lower case: sandbox, aliases, and each with ".<network>". */
function namesOf(ep: DnsEndpoint): string[] {
  const net = ep.network.toLowerCase();
  const bare = new Set([ep.sandbox, ...ep.aliases].map((n) => n.toLowerCase()));
  return [...bare, ...[...bare].map((n) => `${n}.${net}`)];
}

export class Records {
  private readonly byId = new Map<string, Entry>();
  private readonly byName: Index = new Map();
  private readonly byIp: Index = new Map();
  private readonly bySandbox: Index = new Map();
  private readonly views = new Map<string, ClientView>(); // rebuilt for a sandbox when its endpoints change
  private readonly counters = new Map<string, number>();
  private changes = 0;
  private rotated = 0;

  /** Bumped by every add and every remove that found the endpoint: answers cached before are stale. */
  get generation(): number {
    return this.changes;
  }

  /** Bumped whenever rotate() reorders a list of two or more: an answer that rotated must not be cached. */
  get rotations(): number {
    return this.rotated;
  }

  /** The controller, when an endpoint joins a DNS-enabled network (and on restore). Replaces an older version. */
  add(endpoint: DnsEndpoint): void {
    const ep: DnsEndpoint = Object.freeze({
      ...endpoint,
      ipv4: canonical(endpoint, endpoint.ipv4, 4),
      ipv6: canonical(endpoint, endpoint.ipv6, 6),
      aliases: Object.freeze([...endpoint.aliases]),
    });
    this.remove(ep.endpointId); // after validation: a rejected add leaves the old version in place
    this.changes++;
    const names = namesOf(ep);
    this.byId.set(ep.endpointId, { ep, names });
    for (const n of names) file(this.byName, n, ep);
    for (const ip of [ep.ipv4, ep.ipv6]) if (ip !== undefined) file(this.byIp, ip, ep);
    file(this.bySandbox, ep.sandbox, ep);
    this.refreshView(ep.sandbox);
  }

  /** The controller, when an endpoint leaves (disconnect, sandbox or network removal). Unknown ids are fine. */
  remove(endpointId: string): void {
    const entry = this.byId.get(endpointId);
    if (!entry) return;
    const { ep, names } = entry;
    this.changes++;
    this.byId.delete(endpointId);
    for (const n of names) unfile(this.byName, n, endpointId);
    for (const ip of [ep.ipv4, ep.ipv6]) if (ip !== undefined) unfile(this.byIp, ip, endpointId);
    unfile(this.bySandbox, ep.sandbox, endpointId);
    this.refreshView(ep.sandbox);
  }

  private refreshView(sandbox: string): void {
    const eps = this.bySandbox.get(sandbox);
    if (!eps) {
      this.views.delete(sandbox);
      return;
    }
    const endpoints = Object.freeze([...eps.values()]);
    this.views.set(sandbox, Object.freeze({ sandbox, networks: new Set(endpoints.map((e) => e.networkId)), endpoints }));
  }

  /**
   * The sandbox a query's source address belongs to; respond and decide ask for every query. With
   * `via` (the network whose gateway got it), only an endpoint on that network counts: a packet
   * from elsewhere is no client of ours, and overlapping subnets on two networks cannot be confused.
   */
  client(ip: string, via?: string): ClientView | undefined {
    let eps = this.byIp.get(ip);
    if (!eps) {
      const a = parseIp(ip); // sockets report canonical text, so this runs only for strangers
      eps = a && this.byIp.get(formatIp(a));
    }
    if (!eps) return undefined;
    for (const ep of eps.values()) if (via === undefined || ep.networkId === via) return this.views.get(ep.sandbox);
    return undefined;
  }

  /**
   * Endpoints answering to `nameLower` (web, www, web.front, www.front) on the given networks, for
   * decide; on every network when none are given (explanations only: a query never sees those).
   */
  lookup(nameLower: string, networkIds?: ReadonlySet<string>): readonly DnsEndpoint[] {
    const m = this.byName.get(nameLower);
    if (!m) return NONE;
    const found: DnsEndpoint[] = [];
    for (const ep of m.values()) if (!networkIds || networkIds.has(ep.networkId)) found.push(ep);
    return found;
  }

  /** Endpoints with this (canonical) address on any network, for decide's PTR answers; decide filters. */
  ptr(ip: string): readonly DnsEndpoint[] {
    const m = this.byIp.get(ip);
    return m ? [...m.values()] : NONE;
  }

  /** For decide: the list rotated one place further each time the key is asked, so load spreads. */
  rotate<T>(key: string, list: readonly T[]): readonly T[] {
    if (list.length < 2) return list;
    this.rotated++;
    if (this.counters.size > this.byName.size + SPARE_COUNTERS) this.counters.clear();
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, (n + 1) % list.length);
    const k = n % list.length;
    return k === 0 ? list : [...list.slice(k), ...list.slice(0, k)];
  }

  /** Every endpoint, for `netloom dns` listings and checks after a restore. */
  endpoints(): DnsEndpoint[] {
    return [...this.byId.values()].map((e) => e.ep);
  }

  get size(): number {
    return this.byId.size;
  }
}
