// Replies the server has already built, keyed by what determines them: the receiving network,
// the source address (so scoping stays per sandbox) and the query's bytes after its id (name as
// asked, type, class, flags, EDNS), plus UDP or TCP (the size limit). A hit skips decode, decide
// and encode; only the id is patched in. Only answers decided from the records alone are kept
// (NOERROR and NXDOMAIN, no rotation involved): forwards, SERVFAIL and REFUSED depend on more.
// Any add or remove in the records empties the cache (Records.generation), so a name that
// appears, disappears or changes address is never answered from before the change. `netloom dns
// explain` calls decide() directly and never reads this cache.
import type { Records } from './records.js';
import { RCODE } from './types.js';

// Dropped wholesale past this many entries: a refill costs one respond() per distinct query.
const MAX_ENTRIES = 4096;
const HEADER = 12;

export class AnswerCache {
  private readonly replies = new Map<string, Buffer>();
  private generation: number;

  constructor(
    private readonly records: Records,
    private readonly max = MAX_ENTRIES,
  ) {
    this.generation = records.generation;
  }

  /** The key of a query, or undefined for one too short to have a header (never cached). */
  key(msg: Buffer, clientIp: string, via: string, tcp: boolean): string | undefined {
    if (msg.length < HEADER) return undefined;
    return `${tcp ? 't' : 'u'}${via}\0${clientIp}\0${msg.toString('latin1', 2)}`;
  }

  /** A fresh copy of the cached reply carrying the query's id, or undefined. */
  get(key: string, msg: Buffer): Buffer | undefined {
    if (this.generation !== this.records.generation) {
      this.replies.clear();
      this.generation = this.records.generation;
      return undefined;
    }
    const t = this.replies.get(key);
    if (t === undefined) return undefined;
    const out = Buffer.allocUnsafe(t.length);
    t.copy(out);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    return out;
  }

  /** Where the records stood before respond() ran: put() keeps its reply only if nothing moved. */
  stamp(): { readonly generation: number; readonly rotations: number } {
    return { generation: this.records.generation, rotations: this.records.rotations };
  }

  /** Keeps a reply respond() built, unless the records changed or a rotation happened meanwhile. */
  put(key: string, reply: Buffer, before: { readonly generation: number; readonly rotations: number }): void {
    const r = this.records;
    if (before.generation !== r.generation || before.generation !== this.generation || before.rotations !== r.rotations) return;
    const rcode = reply.length >= HEADER ? reply[3]! & 0x0f : -1;
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return;
    if (this.replies.size >= this.max) this.replies.clear();
    this.replies.set(key, Buffer.from(reply));
  }

  get size(): number {
    return this.replies.size;
  }
}
