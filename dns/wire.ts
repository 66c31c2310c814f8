// DNS wire format for the embedded server's hot path (RFC 1035 section 4, EDNS per RFC 6891).
// Hand-written instead of dns2's Packet, which reads bit by bit and builds an object per field;
// bench/dns-codec.bench.ts measures the difference. Decoding checks everything a query may carry
// and never throws: a malformed packet becomes a fault the server answers (FORMERR, NOTIMP) or
// drops. A name costs one string: its text is assembled in a scratch buffer, then sliced once.

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../common/cidr.js';
import { QTYPE, type Answer, type Question } from './types.js';

const HEADER = 12;
const MAX_LABEL = 63; // larger length bytes are pointers (0xC0) or the reserved 0x40/0x80 types
const MAX_NAME = 255; // wire octets including the root label (RFC 1035 2.3.4)
const MAX_QUERY = 4096; // no real query is larger; bounds the work one packet can cost
const PLAIN_UDP = 512; // RFC 1035 4.2.1, and the floor for an EDNS size (RFC 6891 6.2.5)
export const EDNS_UDP_SIZE = 4096; // what we advertise, and the most we send over UDP
export const MAX_MESSAGE = 65535; // TCP's two-byte length prefix

export interface Edns {
  readonly udpSize: number;
}

export interface DecodedQuery {
  readonly ok: true;
  readonly id: number;
  readonly rd: boolean;
  readonly opcode: number;
  readonly question: Question;
  readonly edns?: Edns;
  /** Offset just past the question's name, where QTYPE starts. */
  readonly qnameEnd: number;
}

export interface QueryFault {
  readonly ok: false;
  readonly action: 'drop' | 'formerr' | 'notimp';
  readonly id?: number;
  readonly opcode?: number; // NOTIMP replies echo the opcode they refuse
}

// Name text in presentation form: "\." and "\\" escape a dot or backslash inside a label, \DDD any
// byte outside printable ASCII, as dig prints them, so a label with a dot in it never reads as two.
const text = Buffer.allocUnsafe(MAX_NAME * 4);
let textLen = 0;
// One reply is assembled here and copied out: room for the largest TCP message plus one more answer.
const out = Buffer.allocUnsafe(MAX_MESSAGE + 2048);

const DROP: QueryFault = { ok: false, action: 'drop' };

function putChar(c: number, at: number): number {
  if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) {
    text[at] = c;
    return at + 1;
  }
  text[at] = 0x5c;
  if (c === 0x2e || c === 0x5c) {
    text[at + 1] = c;
    return at + 2;
  }
  text[at + 1] = 0x30 + ((c / 100) | 0);
  text[at + 2] = 0x30 + (((c / 10) % 10) | 0);
  text[at + 3] = 0x30 + (c % 10);
  return at + 4;
}

/** Reads the question's name into `text`; the offset after it, or -1 when malformed (pointers included). */
function readName(buf: Buffer, off: number): number {
  let at = 0;
  let total = 1;
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off++]!;
    if (len === 0) break;
    total += len + 1;
    if (len > MAX_LABEL || total > MAX_NAME || off + len > buf.length) return -1;
    if (at > 0) text[at++] = 0x2e;
    for (const end = off + len; off < end; off++) at = putChar(buf[off]!, at);
  }
  textLen = at;
  return off;
}

/** Checks the OPT pseudo-record at `off` (root name, type 41, version 0, well-formed options); its end or -1. */
function readOpt(buf: Buffer, off: number): number {
  if (off + 11 > buf.length || buf[off] !== 0 || buf.readUInt16BE(off + 1) !== QTYPE.OPT) return -1;
  // Version 1+ would need BADVERS, an extended RCODE; no client sends it, so FORMERR does.
  const end = off + 11 + buf.readUInt16BE(off + 9);
  if (buf[off + 6] !== 0 || end > buf.length) return -1;
  let p = off + 11;
  while (p < end) {
    if (p + 4 > end) return -1;
    p += 4 + buf.readUInt16BE(p + 2);
  }
  return p === end ? end : -1;
}

export function decodeQuery(buf: Buffer): DecodedQuery | QueryFault {
  if (buf.length < HEADER || (buf[2]! & 0x80) !== 0) return DROP; // answering a response invites loops
  const id = buf.readUInt16BE(0);
  const opcode = (buf[2]! >> 3) & 0x0f;
  if (opcode !== 0) return { ok: false, action: 'notimp', id, opcode };
  const arcount = buf.readUInt16BE(10);
  if (buf.length > MAX_QUERY || buf.readUInt16BE(4) !== 1 || buf.readUInt32BE(6) !== 0 || arcount > 1) return formerr(id);
  const qnameEnd = readName(buf, HEADER);
  if (qnameEnd < 0 || qnameEnd + 4 > buf.length) return formerr(id);
  const type = buf.readUInt16BE(qnameEnd);
  if (type === QTYPE.OPT) return formerr(id);
  const question: Question = { name: text.toString('latin1', 0, textLen), type, qclass: buf.readUInt16BE(qnameEnd + 2) };
  const rd = (buf[2]! & 1) !== 0;
  const end = qnameEnd + 4;
  if (arcount === 0) return end === buf.length ? { ok: true, id, rd, opcode, question, qnameEnd } : formerr(id);
  if (readOpt(buf, end) !== buf.length) return formerr(id); // also when readOpt says -1
  const edns = { udpSize: Math.max(buf.readUInt16BE(end + 3), PLAIN_UDP) }; // the OPT record's CLASS field
  return { ok: true, id, rd, opcode, question, edns, qnameEnd };
}

function formerr(id: number): QueryFault {
  return { ok: false, action: 'formerr', id };
}

/** Writes a presentation-form name as labels at `off`; the offset after it, or -1 when it cannot be encoded. */
function writeName(name: string, off: number): number {
  if (name === '.') name = '';
  const start = off;
  let lenAt = off++;
  let label = 0;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return -1;
      out[lenAt] = label;
      lenAt = off++;
      label = 0;
      continue;
    }
    if (c === 0x5c) {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) [c, i] = [Number(d), i + 3];
      else if (i + 1 < name.length) c = name.charCodeAt(++i);
      else return -1;
    }
    if (c > 0xff || ++label > MAX_LABEL || off - start >= MAX_NAME - 1) return -1;
    out[off++] = c;
  }
  if (label > 0) out[lenAt] = label;
  else off = lenAt; // "", "." and "a." end with the root label at lenAt
  out[off++] = 0;
  return off;
}

/** The reply size limit for a query: 512 without EDNS, else what the client offers, at most 4096. */
export function maxReplySize(edns?: Edns): number {
  return edns ? Math.min(Math.max(edns.udpSize, PLAIN_UDP), EDNS_UDP_SIZE) : PLAIN_UDP;
}

/** Writes one answer record at `off`; the offset after it, or -1 for data that cannot be encoded. */
function writeAnswer(a: Answer, off: number, qname: string | undefined): number {
  const same = qname !== undefined && a.name.length === qname.length;
  if (same && (a.name === qname || a.name.toLowerCase() === qname.toLowerCase())) {
    out.writeUInt16BE(0xc00c, off); // a pointer to the question's name, always at offset 12
    off += 2;
  } else off = writeName(a.name, off);
  if (off < 0) return -1;
  out.writeUInt16BE(a.data.type, off);
  out.writeUInt16BE(1, off + 2);
  out.writeUInt32BE(Math.min(Math.max(Math.floor(a.ttl), 0), 0x7fffffff) || 0, off + 4); // RFC 2181 8
  const rdata = off + 10;
  let end = -1;
  if (a.data.type === QTYPE.A) {
    const v = parseIPv4(a.data.address);
    if (v !== undefined) end = out.writeUInt32BE(v, rdata);
  } else if (a.data.type === QTYPE.AAAA) {
    const v = parseIPv6(a.data.address);
    if (v !== undefined) end = out.writeBigUInt64BE(v & 0xffffffffffffffffn, out.writeBigUInt64BE(v >> 64n, rdata));
  } else if (a.data.type === QTYPE.PTR) end = writeName(a.data.target, rdata);
  if (end < 0) return -1;
  out.writeUInt16BE(end - rdata, off + 8);
  return end;
}

export interface AnswerMessage {
  readonly id: number;
  readonly rd: boolean;
  readonly question: Question;
  readonly rcode: number;
  readonly answers: readonly Answer[];
  readonly aa: boolean;
  readonly edns?: Edns | undefined;
  /** Defaults to maxReplySize(edns); a TCP server passes MAX_MESSAGE. */
  readonly maxSize?: number | undefined;
}

type Message = Omit<AnswerMessage, 'question'> & { readonly question?: Question | undefined; readonly opcode?: number | undefined };

/** A reply to a decoded query: answers (or none, for NXDOMAIN/NODATA/REFUSED/SERVFAIL), TC when too big. */
export function encodeAnswer(m: AnswerMessage): Buffer {
  return encode(m);
}

function encode(m: Message): Buffer {
  const max = Math.min(Math.max(m.maxSize ?? maxReplySize(m.edns), HEADER), MAX_MESSAGE);
  const opt = m.edns ? 11 : 0;
  let off = m.question ? writeName(m.question.name, HEADER) : -1;
  const qdcount = off < 0 ? 0 : 1;
  if (off < 0)
    off = HEADER; // a name we cannot echo is left out rather than sent mangled
  else off = out.writeUInt16BE(m.question!.qclass, out.writeUInt16BE(m.question!.type, off));
  const afterQuestion = off;
  let ancount = 0;
  for (const a of m.answers) {
    if (off + opt > max) break; // already too big: the rest cannot make it fit
    const end = writeAnswer(a, off, qdcount ? m.question!.name : undefined);
    if (end < 0) continue; // bad data is skipped: a reply is never malformed and this path never throws
    [off, ancount] = [end, ancount + 1];
  }
  // Too big: send no answers and set TC, so the client retries over TCP (RFC 2181 9).
  const tc = off + opt > max;
  if (tc) [off, ancount] = [afterQuestion, 0];
  if (m.edns) off = writeOpt(off);
  out.writeUInt16BE(m.id & 0xffff, 0);
  out[2] = 0x80 | (((m.opcode ?? 0) & 0x0f) << 3) | (m.aa ? 0x04 : 0) | (tc ? 0x02 : 0) | (m.rd ? 0x01 : 0);
  out[3] = 0x80 | (m.rcode & 0x0f); // RA: we recurse, through the upstreams
  out.writeUInt16BE(qdcount, 4);
  out.writeUInt16BE(ancount, 6);
  out.writeUInt32BE(m.edns ? 1 : 0, 8); // NSCOUNT 0, ARCOUNT
  return Buffer.from(out.subarray(0, off)); // a copy: the scratch is reused by the next reply
}

function writeOpt(off: number, udpSize = EDNS_UDP_SIZE): number {
  out[off] = 0;
  out.writeUInt16BE(QTYPE.OPT, off + 1);
  out.writeUInt16BE(udpSize & 0xffff, off + 3);
  out.writeUInt32BE(0, off + 5); // extended RCODE, version 0, DO clear: we do no DNSSEC
  out.writeUInt16BE(0, off + 9);
  return off + 11;
}

/** A reply with no answers, for FORMERR/NOTIMP (no question when it could not be read), REFUSED, SERVFAIL. */
export function encodeError(id: number, rcode: number, question?: Question, flags?: { readonly rd?: boolean; readonly opcode?: number }): Buffer {
  return encode({ id, rcode, question, answers: [], aa: false, rd: flags?.rd ?? false, opcode: flags?.opcode });
}

/** A standard query (RD set unless told), for `dns explain` asking an upstream itself, and for tests. */
export function encodeQuery(id: number, question: Question, opts?: { readonly rd?: boolean; readonly edns?: Edns }): Buffer {
  const off = writeName(question.name, HEADER);
  if (off < 0) throw new RangeError(`cannot encode the name "${question.name}" as DNS labels`);
  let end = out.writeUInt16BE(question.qclass, out.writeUInt16BE(question.type, off));
  if (opts?.edns) end = writeOpt(end, opts.edns.udpSize);
  out.writeUInt16BE(id & 0xffff, 0);
  out[2] = opts?.rd === false ? 0 : 0x01;
  out[3] = 0;
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  out.writeUInt16BE(opts?.edns ? 1 : 0, 10);
  return Buffer.from(out.subarray(0, end));
}

/** The transaction id of a message; -1, which matches no query, when it is too short to have one. */
export function readId(buf: Buffer): number {
  return buf.length >= 2 ? buf.readUInt16BE(0) : -1;
}

/** A copy of the message with another transaction id: the forwarder's id upstream, the client's on return. */
export function withId(buf: Buffer, id: number): Buffer {
  const copy = Buffer.from(buf);
  if (copy.length >= 2) copy.writeUInt16BE(id & 0xffff, 0);
  return copy;
}

export function isTruncated(buf: Buffer): boolean {
  return buf.length >= HEADER && (buf[2]! & 0x02) !== 0;
}

/** The header's RCODE; -1 when the message is shorter than a header. */
export function rcodeOf(buf: Buffer): number {
  return buf.length >= HEADER ? buf[3]! & 0x0f : -1;
}

/** The reverse name of an address: 5.0.1.10.in-addr.arpa, or 32 nibbles then ip6.arpa; undefined for a non-address. */
export function ptrName(ip: string): string | undefined {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return `${v4 & 255}.${(v4 >>> 8) & 255}.${(v4 >>> 16) & 255}.${v4 >>> 24}.in-addr.arpa`;
  const v6 = ip.includes(':') ? parseIPv6(ip) : undefined;
  if (v6 === undefined) return undefined;
  return `${[...v6.toString(16).padStart(32, '0')].reverse().join('.')}.ip6.arpa`;
}

const NIBBLES = /^([0-9a-f]\.){32}ip6\.arpa$/;

/** The address a full reverse name stands for, canonical; undefined for partial or malformed names. */
export function ipFromPtrName(name: string): string | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.in-addr.arpa')) {
    const octets = n.slice(0, -'.in-addr.arpa'.length).split('.');
    const v4 = octets.length === 4 ? parseIPv4(octets.reverse().join('.')) : undefined;
    return v4 === undefined ? undefined : formatIPv4(v4);
  }
  if (!NIBBLES.test(n)) return undefined;
  let hex = '';
  for (let i = 62; i >= 0; i -= 2) hex += n[i];
  return formatIPv6(BigInt(`0x${hex}`));
}
