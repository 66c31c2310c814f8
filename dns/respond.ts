// The embedded DNS's hot path in one pure function: a packet in, a reply, a forward or a drop out.
// server.ts owns the sockets and forward.ts the upstream exchange; neither decides anything.

import { decide, type DecideOptions, type DnsClient } from './answer.js';
import type { Records } from './records.js';
import { RCODE, type Question } from './types.js';
import { decodeQuery, encodeAnswer, encodeError, MAX_MESSAGE } from './wire.js';

export interface RespondOptions extends DecideOptions {
  /** The query came over TCP: replies may be up to 65535 bytes instead of the UDP limit. */
  readonly tcp?: boolean;
}

export interface ForwardRequest {
  readonly upstreams: string[];
  readonly query: Buffer; // the client's packet as received; forward.ts swaps the id (withId)
  readonly question: Question;
  readonly id: number; // the client's transaction id, restored on the upstream's reply
}

export type Response = { readonly reply: Buffer } | { readonly forward: ForwardRequest } | { readonly drop: true };

const DROP: Response = Object.freeze({ drop: true } as const);

/** Authoritative for what netloom itself knows (a name's records or its absence), not for refusals. */
const isAuthoritative = (rcode: number): boolean => rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;

/**
 * Called by server.ts for every packet on a gateway's DNS socket. A source that is no endpoint on
 * the receiving network gets nothing at all, not even FORMERR: the server answers only its sandboxes.
 */
export function respond(records: Records, client: DnsClient, buf: Buffer, opts: RespondOptions): Response {
  if (!records.client(client.ip, client.via)) return DROP;
  const q = decodeQuery(buf);
  if (!q.ok) {
    if (q.action === 'drop') return DROP;
    const rcode = q.action === 'notimp' ? RCODE.NOTIMP : RCODE.FORMERR;
    return { reply: encodeError(q.id ?? 0, rcode, undefined, { rd: (buf[2]! & 1) !== 0, opcode: q.opcode }) };
  }
  const d = decide(records, client, q.question, opts);
  if (d.kind === 'refuse') return DROP;
  if (d.kind === 'forward') return { forward: { upstreams: [...d.upstreams], query: buf, question: q.question, id: q.id } };
  const reply = encodeAnswer({
    id: q.id,
    rd: q.rd,
    question: q.question,
    rcode: d.rcode,
    answers: d.answers,
    aa: isAuthoritative(d.rcode),
    edns: q.edns,
    maxSize: opts.tcp ? MAX_MESSAGE : undefined,
  });
  return { reply };
}
