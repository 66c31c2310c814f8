// dns/wire.ts: the hot-path codec. Queries are decoded strictly (every fault is a drop, FORMERR or
// NOTIMP, never an exception); replies are checked byte by byte and against dns2's parser.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dns2 from 'dns2';
import fc from 'fast-check';
import { QTYPE, RCODE, type Answer, type Question } from '../../dns/types.js';
import {
  decodeQuery,
  encodeAnswer,
  encodeError,
  encodeQuery,
  ipFromPtrName,
  isTruncated,
  MAX_MESSAGE,
  ptrName,
  rcodeOf,
  readId,
  withId,
  type DecodedQuery,
} from '../../dns/wire.js';

const A = (name: string, address: string): Answer => ({ name, ttl: 60, data: { type: QTYPE.A, address } });
const WEB: Question = { name: 'web.front', type: QTYPE.A, qclass: 1 };
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// id 0xabcd, RD, one question: web.front A IN
const QUERY = hex('abcd 0100 0001 0000 0000 0000 03776562 0566726f6e74 00 0001 0001');
const OPT = hex('00 0029 1000 00000000 0000'); // root, OPT, udp 4096, ttl 0, rdlen 0

function decoded(buf: Buffer): DecodedQuery {
  const d = decodeQuery(buf);
  assert.ok(d.ok, `expected a query, got ${JSON.stringify(d)}`);
  return d;
}

function patched(base: Buffer, at: number, bytes: string): Buffer {
  const b = Buffer.from(base);
  hex(bytes).copy(b, at);
  return b;
}

describe('decodeQuery: well-formed queries', () => {
  test('a standard query yields id, RD, opcode, the question and where its name ends', () => {
    assert.deepEqual(decodeQuery(QUERY), { ok: true, id: 0xabcd, rd: true, opcode: 0, question: WEB, qnameEnd: 23 });
  });

  test('an EDNS OPT record gives the client UDP size; sizes under 512 count as 512 (RFC 6891 6.2.5)', () => {
    const withOpt = (opt: Buffer): Buffer => patched(Buffer.concat([QUERY, opt]), 10, '0001');
    assert.deepEqual(decoded(withOpt(OPT)).edns, { udpSize: 4096 });
    assert.deepEqual(decoded(withOpt(patched(OPT, 3, '0100'))).edns, { udpSize: 512 });
    const cookie = hex('00 0029 04d0 00000000 000c 000a 0008 0102030405060708'); // a client cookie option
    assert.deepEqual(decoded(withOpt(cookie)).edns, { udpSize: 1232 });
  });

  test('case is kept and bytes that are not plain text are escaped, so a dot inside a label stays one label', () => {
    const q = decoded(hex('0001 0000 0001 0000 0000 0000 03 572e42 02 ff20 00 0001 0001'));
    assert.equal(q.question.name, 'W\\.B.\\255\\032');
    assert.equal(q.rd, false);
  });

  test('the root name decodes as the empty name', () => {
    assert.equal(decoded(hex('0001 0100 0001 0000 0000 0000 00 0002 0001')).question.name, '');
  });

  test('encodeQuery and decodeQuery round-trip any name, type, class and EDNS size', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.from(b));
    fc.assert(
      fc.property(
        fc.array(label, { maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.option(fc.integer({ min: 512, max: 0xffff })),
        (labels, type, size) => {
          const wire = Buffer.concat([...labels.flatMap((l) => [Buffer.of(l.length), l]), Buffer.of(0)]);
          const raw = Buffer.concat([hex('0007 0100 0001 0000 0000 0000'), wire, hex('0000 0001')]);
          raw.writeUInt16BE(type === QTYPE.OPT ? 1 : type, raw.length - 4);
          const q = decoded(raw).question;
          const again = encodeQuery(7, q, size === null ? {} : { edns: { udpSize: size } });
          assert.deepEqual(decoded(again).question, q);
          assert.deepEqual(decoded(again).edns, size === null ? undefined : { udpSize: size });
          assert.ok(again.subarray(12, raw.length).equals(raw.subarray(12)), 'the same question bytes come back');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decodeQuery: faults', () => {
  test('fewer than 12 bytes, or a response (QR set), are dropped', () => {
    for (let n = 0; n < 12; n++) assert.deepEqual(decodeQuery(QUERY.subarray(0, n)), { ok: false, action: 'drop' });
    assert.deepEqual(decodeQuery(patched(QUERY, 2, '81')), { ok: false, action: 'drop' });
  });

  test('any opcode but QUERY is NOTIMP, with the id and opcode to echo', () => {
    for (let op = 1; op < 16; op++) {
      const b = Buffer.from(QUERY);
      b[2] = (op << 3) | 1;
      assert.deepEqual(decodeQuery(b), { ok: false, action: 'notimp', id: 0xabcd, opcode: op });
    }
  });

  const longName = Buffer.concat([...Array.from({ length: 4 }, () => Buffer.concat([Buffer.of(63), Buffer.alloc(63, 0x61)])), Buffer.of(0)]);
  const cases: [string, Buffer][] = [
    ['no question', patched(QUERY, 4, '0000')],
    ['two questions', patched(QUERY, 4, '0002')],
    ['an answer record in a query', patched(QUERY, 6, '0001')],
    ['an authority record in a query', patched(QUERY, 8, '0001')],
    ['two additional records', patched(Buffer.concat([QUERY, OPT, OPT]), 10, '0002')],
    ['a label length of 64 (reserved 0x40 type)', patched(QUERY, 12, '40')],
    ['a 0x80 label type', patched(QUERY, 12, '80')],
    ['a compression pointer in the question', hex('abcd 0100 0001 0000 0000 0000 03776562 c00c 0001 0001')],
    ['a pointer to itself (a loop)', hex('abcd 0100 0001 0000 0000 0000 c00c 0001 0001')],
    ['a label running past the end', QUERY.subarray(0, 15)],
    ['a name with no root label', QUERY.subarray(0, 22)],
    ['no QTYPE and QCLASS', QUERY.subarray(0, 23)],
    ['half a QCLASS', QUERY.subarray(0, 26)],
    ['a name over 255 octets', Buffer.concat([hex('abcd 0100 0001 0000 0000 0000'), longName, hex('0001 0001')])],
    ['trailing garbage', Buffer.concat([QUERY, hex('00')])],
    ['an additional count with no record', patched(QUERY, 10, '0001')],
    ['an OPT record with a name', patched(Buffer.concat([QUERY, hex('01 61'), OPT]), 10, '0001')],
    ['an additional record that is not OPT', patched(Buffer.concat([QUERY, patched(OPT, 1, '00fa')]), 10, '0001')],
    ['EDNS version 1', patched(Buffer.concat([QUERY, patched(OPT, 6, '01')]), 10, '0001')],
    ['OPT data longer than the packet', patched(Buffer.concat([QUERY, patched(OPT, 9, '0004')]), 10, '0001')],
    ['an OPT option overrunning its record', patched(Buffer.concat([QUERY, hex('00 0029 1000 00000000 0006 000a 0008 0102')]), 10, '0001')],
    ['bytes after the OPT record', patched(Buffer.concat([QUERY, OPT, hex('ff')]), 10, '0001')],
    ['a question of type OPT', patched(QUERY, 23, '0029')],
    ['a query over 4096 bytes', patched(Buffer.concat([QUERY, hex('00 0029 1000 00000000 0ffc 0001 0ff8'), Buffer.alloc(0xff8)]), 10, '0001')],
  ];
  for (const [what, buf] of cases) {
    test(`${what} is FORMERR with the id`, () => assert.deepEqual(decodeQuery(buf), { ok: false, action: 'formerr', id: 0xabcd }));
  }

  test('a label of exactly 63 bytes and a name of exactly 255 octets are accepted', () => {
    const name = Buffer.concat([
      ...Array.from({ length: 3 }, () => Buffer.concat([Buffer.of(63), Buffer.alloc(63, 0x61)])),
      Buffer.of(61),
      Buffer.alloc(61, 0x62),
      Buffer.of(0),
    ]);
    assert.equal(name.length, 255);
    assert.equal(decoded(Buffer.concat([hex('abcd 0100 0001 0000 0000 0000'), name, hex('0001 0001')])).question.name.length, 253);
  });

  test('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const d = decodeQuery(Buffer.from(b));
        assert.ok(d.ok || ['drop', 'formerr', 'notimp'].includes(d.action));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encodeAnswer', () => {
  const q = decoded(QUERY);
  const reply = (answers: Answer[], more: Partial<Parameters<typeof encodeAnswer>[0]> = {}): Buffer =>
    encodeAnswer({ id: q.id, rd: q.rd, question: q.question, rcode: RCODE.NOERROR, answers, aa: true, ...more });

  test('sets QR, AA as given, RA, echoes RD and the question, and counts its sections', () => {
    const r = reply([A('web.front', '10.1.0.2')]);
    assert.equal(r.toString('hex', 0, 12), 'abcd858000010001' + '00000000');
    assert.ok(r.subarray(12, 27).equals(QUERY.subarray(12, 27)), 'question echoed byte for byte');
    const nx = encodeAnswer({ id: 1, rd: false, question: WEB, rcode: RCODE.NXDOMAIN, answers: [], aa: false });
    assert.equal(nx.toString('hex', 0, 4), '00018083');
  });

  test('an answer for the question name points back at it (0xC00C); another name is written out', () => {
    const r = reply([A('WEB.front', '10.1.0.2'), A('db.back', '10.2.0.3')]);
    assert.equal(r.toString('hex', 27, 43), 'c00c' + '0001' + '0001' + '0000003c' + '0004' + '0a010002');
    assert.equal(r.toString('hex', 43, 52), '026462046261636b00');
  });

  test('A, AAAA and PTR records read back the same through dns2', () => {
    const answers: Answer[] = [
      A('web.front', '10.1.0.2'),
      { name: 'web.front', ttl: 5, data: { type: QTYPE.AAAA, address: 'fd00:1::2' } },
      { name: '2.0.1.10.in-addr.arpa', ttl: 5, data: { type: QTYPE.PTR, target: 'web.front' } },
    ];
    const p = dns2.Packet.parse(reply(answers));
    assert.deepEqual(
      p.answers.map((a) => [a.name, a.type, a.address ?? a.domain]),
      [
        ['web.front', 1, '10.1.0.2'],
        ['web.front', 28, 'fd00:1::2'],
        ['2.0.1.10.in-addr.arpa', 12, 'web.front'],
      ],
    );
  });

  test('without EDNS, 30 A records fit in 512 bytes and 31 set TC with no answers', () => {
    const many = (n: number): Answer[] => Array.from({ length: n }, (_, i) => A('web.front', `10.1.0.${i + 1}`));
    const fits = reply(many(30));
    assert.equal(fits.length, 507);
    assert.equal(isTruncated(fits), false);
    const tc = reply(many(31));
    assert.ok(isTruncated(tc));
    assert.equal(tc.readUInt16BE(6), 0);
    assert.equal(tc.length, 27, 'header and question only');
  });

  test('with EDNS the limit is the client size, at most 4096, and the reply carries our OPT record', () => {
    const many = (n: number): Answer[] => Array.from({ length: n }, (_, i) => A('web.front', `10.1.${i >> 8}.${i & 255}`));
    const big = reply(many(31), { edns: { udpSize: 1232 } });
    assert.equal(isTruncated(big), false);
    assert.equal(big.readUInt16BE(10), 1);
    assert.equal(big.toString('hex', big.length - 11), '0000291000000000000000');
    assert.ok(isTruncated(reply(many(80), { edns: { udpSize: 1232 } })));
    assert.ok(isTruncated(reply(many(300), { edns: { udpSize: 65000 } })), 'capped at 4096');
    const tcp = reply(many(3000), { maxSize: MAX_MESSAGE });
    assert.equal(isTruncated(tcp), false);
    assert.equal(tcp.readUInt16BE(6), 3000);
  });

  test('an answer whose data cannot be encoded is left out rather than sent malformed', () => {
    const r = reply([A('web.front', 'not-an-ip'), A('web.front', '10.1.0.2')]);
    assert.equal(r.readUInt16BE(6), 1);
    assert.equal(dns2.Packet.parse(r).answers[0]?.address, '10.1.0.2');
  });
});

describe('encodeError and the forwarding helpers', () => {
  test('FORMERR without a question is a bare header; REFUSED echoes the question; NOTIMP echoes the opcode', () => {
    assert.equal(encodeError(0xabcd, RCODE.FORMERR).toString('hex'), 'abcd' + '8081' + '0000'.repeat(4));
    const refused = encodeError(0xabcd, RCODE.REFUSED, WEB, { rd: true });
    assert.ok(refused.equals(Buffer.concat([hex('abcd 8185 0001 0000 0000 0000'), QUERY.subarray(12)])));
    assert.equal(encodeError(9, RCODE.NOTIMP, undefined, { opcode: 2 }).toString('hex', 2, 4), '9084');
  });

  test('readId, withId, isTruncated and rcodeOf read the header; withId copies', () => {
    const r = encodeError(0x1234, RCODE.SERVFAIL, WEB);
    assert.equal(readId(r), 0x1234);
    const moved = withId(r, 0xbeef);
    assert.equal(readId(moved), 0xbeef);
    assert.equal(readId(r), 0x1234, 'the original is untouched');
    assert.equal(rcodeOf(r), RCODE.SERVFAIL);
    assert.equal(isTruncated(r), false);
    assert.equal(readId(Buffer.of(1)), -1);
    assert.equal(rcodeOf(Buffer.alloc(5)), -1);
    assert.equal(isTruncated(Buffer.alloc(5)), false);
  });
});

describe('reverse names', () => {
  test('ptrName writes in-addr.arpa and nibble ip6.arpa names', () => {
    assert.equal(ptrName('10.1.0.2'), '2.0.1.10.in-addr.arpa');
    assert.equal(ptrName('fd00::2'), `2.${'0.'.repeat(27)}0.0.d.f.ip6.arpa`);
    assert.equal(ptrName('web'), undefined);
  });

  test('ipFromPtrName reads full reverse names in any case, canonical', () => {
    assert.equal(ipFromPtrName('2.0.1.10.IN-ADDR.ARPA'), '10.1.0.2');
    assert.equal(ipFromPtrName(`2.${'0.'.repeat(27)}0.0.D.F.ip6.arpa`), 'fd00::2');
  });

  test('partial or malformed reverse names are not addresses', () => {
    for (const bad of [
      '1.10.in-addr.arpa',
      '02.0.1.10.in-addr.arpa',
      '256.0.1.10.in-addr.arpa',
      '1.2.0.1.10.in-addr.arpa',
      'x.0.1.10.in-addr.arpa',
      'in-addr.arpa',
      `${'0.'.repeat(31)}ip6.arpa`,
      `g.${'0.'.repeat(31)}ip6.arpa`,
      `00.${'0.'.repeat(31)}ip6.arpa`,
      `${'0.'.repeat(32)}ip6.arpa.com`,
      'web.front',
    ]) {
      assert.equal(ipFromPtrName(bad), undefined, bad);
    }
  });

  test('ptrName and ipFromPtrName round-trip every address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => ipFromPtrName(ptrName(ip)!) === ip),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        const hexs = v.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
        const ip = ipFromPtrName(ptrName(hexs)!);
        return ip !== undefined && ptrName(ip) === ptrName(hexs);
      }),
      { numRuns: 500 },
    );
  });
});
