// respond() under hostile input: random bytes, structured-but-random queries, mutated real queries
// and every single-byte change of a few templates. It must never throw, and whatever it sends back
// must be a well-formed DNS response with the query's id, within the size the client can take.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Records } from '../../dns/records.js';
import { respond, type RespondOptions } from '../../dns/respond.js';
import { QTYPE, type DnsEndpoint } from '../../dns/types.js';
import { decodeQuery, encodeQuery, maxReplySize, ptrName } from '../../dns/wire.js';

const front = { networkId: 'n-front', network: 'front', internal: false, aliases: [] as string[] };
const records = new Records();
const eps: DnsEndpoint[] = [
  { ...front, endpointId: 'e1', sandbox: 'api', ipv4: '10.1.0.2', ipv6: 'fd00::2' },
  ...Array.from({ length: 40 }, (_, i): DnsEndpoint => ({
    ...front,
    endpointId: `w${i}`,
    sandbox: `web${i}`,
    ipv4: `10.1.1.${i}`,
    ipv6: `fd00::1:${i}`,
    aliases: ['many'],
  })), // 40 A + 40 AAAA answers: too big for 512 bytes, so TC paths run
  { endpointId: 'e2', sandbox: 'secret', networkId: 'n-vault', network: 'vault', internal: false, aliases: [], ipv4: '10.9.0.2' },
];
for (const e of eps) records.add(e);
const CLIENT = { ip: '10.1.0.2', via: 'n-front' };
const NAMES = [
  'api',
  'API.front',
  'many',
  'secret',
  'nosuch',
  'nosuch.front',
  'example.com',
  '',
  ptrName('10.1.0.2')!,
  ptrName('fd00::2')!,
  ptrName('10.9.0.2')!,
  ptrName('192.0.2.1')!,
  '1.10.in-addr.arpa',
];
const TYPES = [QTYPE.A, QTYPE.AAAA, QTYPE.ANY, QTYPE.PTR, QTYPE.MX, QTYPE.TXT, QTYPE.OPT, 0, 252, 65535];

/** Walks a name in a reply; a pointer is allowed only where we write one: to the question at 12. */
function skipName(b: Buffer, off: number, pointerOk: boolean): number {
  let total = 1;
  for (;;) {
    assert.ok(off < b.length, 'name runs past the end');
    const len = b[off]!;
    if (len === 0) return off + 1;
    if (len >= 0xc0) {
      assert.ok(pointerOk && b.readUInt16BE(off) === 0xc00c, 'only 0xC00C pointers, only in answers');
      return off + 2;
    }
    assert.ok(len <= 63, 'label over 63');
    total += len + 1;
    assert.ok(total <= 255, 'name over 255');
    off += len + 1;
  }
}

function skipAnswer(b: Buffer, off: number, hasQuestion: boolean): number {
  off = skipName(b, off, hasQuestion);
  const [type, cls, rdlen] = [b.readUInt16BE(off), b.readUInt16BE(off + 2), b.readUInt16BE(off + 8)];
  assert.equal(cls, 1);
  const end = off + 10 + rdlen;
  if (type === QTYPE.A) assert.equal(rdlen, 4);
  else if (type === QTYPE.AAAA) assert.equal(rdlen, 16);
  else if (type === QTYPE.PTR) assert.equal(skipName(b, off + 10, false), end);
  else assert.fail(`unexpected answer type ${type}`);
  return end;
}

/** A reply is a response to this query: id, QR, sections that parse to the last byte, size within limits. */
function checkReply(reply: Buffer, query: Buffer, tcp: boolean): void {
  assert.ok(reply.length >= 12);
  assert.equal(reply.readUInt16BE(0), query.readUInt16BE(0), 'id echoed');
  assert.equal(reply[2]! & 0x80, 0x80, 'QR set');
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((o) => reply.readUInt16BE(o)) as [number, number, number, number];
  assert.ok(qd <= 1 && ns === 0 && ar <= 1);
  let off = 12;
  if (qd === 1) off = skipName(reply, off, false) + 4;
  for (let i = 0; i < an; i++) off = skipAnswer(reply, off, qd === 1);
  if (ar === 1) {
    assert.equal(reply.toString('hex', off, off + 3), '000029');
    off += 11;
  }
  assert.equal(off, reply.length, 'nothing after the last record');
  const q = decodeQuery(query);
  if (!q.ok) return assert.equal(qd, 0, 'a fault reply carries no question');
  assert.ok(reply.subarray(12, q.qnameEnd + 4).equals(query.subarray(12, q.qnameEnd + 4)), 'question echoed byte for byte');
  assert.equal(ar, q.edns ? 1 : 0, 'OPT only for EDNS queries');
  assert.ok(reply.length <= (tcp ? 65535 : maxReplySize(q.edns)), `reply of ${reply.length} bytes is too big`);
}

const seen = new Set<string>(); // outcomes reached, so a fuzzer that stopped reaching a path fails loudly

function check(buf: Buffer, tcp = false): void {
  const opts: RespondOptions = { defaultUpstreams: ['192.0.2.53'], ttl: 60, tcp };
  const r = respond(records, CLIENT, buf, opts);
  if ('reply' in r) {
    checkReply(r.reply, buf, tcp);
    seen.add(r.reply[2]! & 0x02 ? 'truncated' : `rcode ${r.reply[3]! & 0x0f}${r.reply.readUInt16BE(6) > 0 ? ' with answers' : ''}`);
  } else if ('forward' in r) {
    assert.equal(r.forward.id, buf.readUInt16BE(0));
    assert.equal(r.forward.query, buf);
    assert.deepEqual(r.forward.upstreams, ['192.0.2.53']);
    seen.add('forward');
  } else {
    assert.ok(buf.length < 12 || (buf[2]! & 0x80) !== 0, 'only short packets and responses are dropped');
    seen.add('drop');
  }
}

const question = fc.record({ name: fc.constantFrom(...NAMES), type: fc.constantFrom(...TYPES), qclass: fc.constantFrom(1, 3, 255, 254) });
const query = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), question, fc.boolean(), fc.option(fc.integer({ min: 0, max: 0xffff })))
  .map(([id, q, rd, size]) => encodeQuery(id, q, { rd, ...(size === null ? {} : { edns: { udpSize: size } }) }));
const mutation = fc.tuple(fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 }));

function mutate(buf: Buffer, muts: [string, number, number][]): Buffer {
  let b = Buffer.from(buf);
  for (const [kind, pos, v] of muts) {
    const at = b.length === 0 ? 0 : pos % b.length;
    if (kind === 'flip' && b.length > 0) b[at]! ^= 1 << (v & 7);
    else if (kind === 'set' && b.length > 0) b[at] = v;
    else if (kind === 'cut') b = b.subarray(0, at);
    else if (kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + (v & 3), v), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + (v & 3))]);
  }
  return b;
}

describe('respond fuzzing', () => {
  test('random bytes never throw and get a well-formed reply or nothing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (b, tcp) => check(Buffer.from(b), tcp)),
      { numRuns: 10_000 },
    );
  });

  test('random queries, with and without EDNS, over UDP and TCP', () => {
    fc.assert(
      fc.property(query, fc.boolean(), (b, tcp) => check(b, tcp)),
      { numRuns: 10_000 },
    );
  });

  test('mutated queries: flipped bits, overwritten, cut, inserted and deleted bytes', () => {
    fc.assert(
      fc.property(query, fc.array(mutation, { minLength: 1, maxLength: 4 }), (b, muts) => check(mutate(b, muts))),
      { numRuns: 10_000 },
    );
  });

  test('every single-byte value at every position of a few template queries', () => {
    const templates = [
      encodeQuery(7, { name: 'many', type: QTYPE.A, qclass: 1 }, { edns: { udpSize: 1232 } }),
      encodeQuery(8, { name: ptrName('10.1.0.2')!, type: QTYPE.PTR, qclass: 1 }),
    ];
    let runs = 0;
    for (const t of templates) {
      for (let at = 0; at < t.length; at++) {
        for (let v = 0; v < 256; v++, runs++) check(mutate(t, [['set', at, v]]));
      }
      for (let n = 0; n <= t.length; n++, runs++) check(t.subarray(0, n));
    }
    assert.ok(runs > 18_000);
  });

  test('the inputs above reached every kind of outcome', () => {
    const want = ['drop', 'forward', 'truncated', 'rcode 0 with answers', 'rcode 0', 'rcode 1', 'rcode 3', 'rcode 4', 'rcode 5'];
    assert.deepEqual(
      want.filter((w) => !seen.has(w)),
      [],
    );
  });
});
