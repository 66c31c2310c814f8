// Replies the server has already built, keyed by what determines them: the receiving network,
// the source address (so scoping stays per sandbox) and the query's bytes after its id (name as
// asked, type, class, flags, EDNS), plus UDP or TCP (the size limit). A hit skips decode, decide
// and encode; only the id is patched in. Only answers decided from the records alone are kept
// (NOERROR and NXDOMAIN, no rotation involved): forwards, SERVFAIL and REFUSED depend on more.
// Any add or remove in the records empties the cache (Records.generation), so a name that
// appears, disappears or changes address is never answered from before the change. `netloom dns
// explain` calls decide() directly and never reads this cache.
//
// The lookup builds no string: entries sit per source address (the UDP socket hands out the same
// string for an address every time, so its hash is computed once), then under an FNV-1a hash of
// the query's bytes, and a hit compares network, transport and bytes. A string key per query
// (the earlier form) cost an allocation, a flatten and a hash of ~80 characters each time.
import type { Records } from './records.js';
import { RCODE } from './types.js';

// Dropped wholesale past this many entries: a refill costs one respond() per distinct query.
const MAX_ENTRIES = 4096;
const HEADER = 12;

interface Entry {
  readonly via: string;
  readonly tcp: boolean;
  /** The query's bytes after its id. */
  readonly query: Buffer;
  readonly reply: Buffer;
  /** Another entry of the same source address and hash. */
  readonly next: Entry | undefined;
}

/** FNV-1a over the query's bytes after the id (the id differs on every query). */
function hashQuery(msg: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 2; i < msg.length; i++) h = Math.imul(h ^ msg[i]!, 0x01000193);
  return h >>> 0;
}

function sameQuery(msg: Buffer, query: Buffer): boolean {
  if (msg.length - 2 !== query.length) return false;
  for (let i = 0; i < query.length; i++) if (msg[i + 2] !== query[i]) return false;
  return true;
}

/** The entry of this chain kept for msg received on `via` over UDP or TCP. */
function findEntry(chain: Entry | undefined, msg: Buffer, via: string, tcp: boolean): Entry | undefined {
  let e = chain;
  while (e !== undefined && !(e.via === via && e.tcp === tcp && sameQuery(msg, e.query))) e = e.next;
  return e;
}

export class AnswerCache {
  private readonly bySource = new Map<string, Map<number, Entry>>();
  private entries = 0;
  private generation: number;

  constructor(
    private readonly records: Records,
    private readonly max = MAX_ENTRIES,
    /** Tests pass a constant to put every entry in one chain. */
    private readonly hash: (msg: Buffer) => number = hashQuery,
  ) {
    this.generation = records.generation;
  }

  /** A fresh copy of the reply cached for this query, carrying the query's id, or undefined
   *  (also for a message too short to have a header, which is never cached). */
  get(msg: Buffer, clientIp: string, via: string, tcp: boolean): Buffer | undefined {
    if (this.generation !== this.records.generation) {
      this.clear();
      this.generation = this.records.generation;
      return undefined;
    }
    if (msg.length < HEADER) return undefined;
    const e = findEntry(this.bySource.get(clientIp)?.get(this.hash(msg)), msg, via, tcp);
    if (e === undefined) return undefined;
    const out = Buffer.allocUnsafe(e.reply.length);
    e.reply.copy(out);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    return out;
  }

  /** Where the records stood before respond() ran: put() keeps its reply only if nothing moved. */
  stamp(): { readonly generation: number; readonly rotations: number } {
    return { generation: this.records.generation, rotations: this.records.rotations };
  }

  /** Keeps the reply respond() built for msg, unless the records changed or a rotation happened
   *  meanwhile (or msg has no header). */
  put(msg: Buffer, clientIp: string, via: string, tcp: boolean, reply: Buffer, before: { readonly generation: number; readonly rotations: number }): void {
    const r = this.records;
    if (msg.length < HEADER) return;
    if (before.generation !== r.generation || before.generation !== this.generation || before.rotations !== r.rotations) return;
    const rcode = reply.length >= HEADER ? reply[3]! & 0x0f : -1;
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return;
    if (this.entries >= this.max) this.clear();
    let byHash = this.bySource.get(clientIp);
    if (byHash === undefined) this.bySource.set(clientIp, (byHash = new Map()));
    const h = this.hash(msg);
    // A query must not be kept twice (the later reply would hide behind the earlier).
    const next = byHash.get(h);
    if (findEntry(next, msg, via, tcp)) return;
    // Copies: msg is a view into the socket's batch memory, reply may be reused by the caller.
    byHash.set(h, { via, tcp, query: Buffer.from(msg.subarray(2)), reply: Buffer.from(reply), next });
    this.entries++;
  }

  private clear(): void {
    this.bySource.clear();
    this.entries = 0;
  }

  get size(): number {
    return this.entries;
  }
}
