// ipam/bitmap.ts on its own: the address book of one range, against a plain model.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Cidr, type IpAddr, toCidr } from '../../common/cidr.js';
import { type AddressBook, addressBook } from '../../ipam/bitmap.js';

type Op = { kind: 'take' } | { kind: 'drop'; pick: number } | { kind: 'static'; offset: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op>({ kind: 'take' }) },
  { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'drop', pick })) },
  { weight: 1, arbitrary: fc.nat().map((offset): Op => ({ kind: 'static', offset })) },
);

/** A small range of either family with a few reserved offsets. */
const setupArb = fc.record({
  family: fc.constantFrom<4 | 6>(4, 6),
  hostBits: fc.integer({ min: 2, max: 6 }),
  reserved: fc.uniqueArray(fc.nat({ max: 63 }), { maxLength: 4 }),
});

function at(range: Cidr, offset: number): IpAddr {
  return range.family === 4 ? { family: 4, value: range.base + offset } : { family: 6, value: range.base + BigInt(offset) };
}

function setup(s: { family: 4 | 6; hostBits: number; reserved: number[] }): { range: Cidr; size: number; reserved: Set<number>; book: AddressBook } {
  const range = toCidr(s.family === 4 ? `10.1.0.0/${32 - s.hostBits}` : `fd00:1::/${128 - s.hostBits}`);
  const size = 2 ** s.hostBits;
  const reserved = new Set(s.reserved.filter((o) => o < size));
  const book = addressBook(
    range,
    [...reserved].map((o) => at(range, o).value),
  );
  return { range, size, reserved, book };
}

const offsetOf = (range: Cidr, ip: IpAddr): number => Number(BigInt(ip.value) - BigInt(range.base));

/** Takes the way the book (book.ts) does: a dynamic pick moves the cursor. */
function takeNext(book: AddressBook, owner: string): IpAddr | undefined {
  const ip = book.next();
  if (ip) {
    book.take(ip, owner);
    book.cursor = ip;
  }
  return ip;
}

describe('address book', () => {
  test('random take/drop sequences never hand out a taken or reserved address, and next() is undefined only when full', () => {
    fc.assert(
      fc.property(setupArb, fc.array(opArb, { maxLength: 80 }), (s, ops) => {
        const { range, size, reserved, book } = setup(s);
        const model = new Map<number, string>();
        ops.forEach((op, n) => {
          if (op.kind === 'drop') {
            const held = [...model.keys()];
            if (!held.length) return;
            const o = held[op.pick % held.length]!;
            book.drop(at(range, o));
            model.delete(o);
            return;
          }
          if (op.kind === 'static') {
            const o = op.offset % size;
            if (reserved.has(o) || model.has(o)) return; // the book's caller checks this first
            book.take(at(range, o), `s${n}`);
            model.set(o, `s${n}`);
            return;
          }
          const ip = takeNext(book, `d${n}`);
          const free = size - reserved.size - model.size;
          if (!ip) return assert.equal(free, 0, 'next() gave up while an address was free');
          const o = offsetOf(range, ip);
          assert.ok(o >= 0 && o < size, 'outside the range');
          assert.ok(!reserved.has(o) && !model.has(o), `offset ${o} handed out twice`);
          model.set(o, `d${n}`);
        });
        const entries = [...book.entries()].map(([ip, owner]) => [offsetOf(range, ip), owner] as const);
        assert.deepEqual(new Map(entries), model);
        for (let o = 0; o < size; o++) assert.equal(book.holder(at(range, o)), model.get(o));
      }),
    );
  });

  test('take then drop of a free address round-trips: the next pick and the entries are as before', () => {
    fc.assert(
      fc.property(setupArb, fc.nat({ max: 20 }), fc.nat(), (s, before, pick) => {
        const { range, size, reserved, book } = setup(s);
        for (let i = 0; i < before; i++) takeNext(book, `e${i}`);
        const free = Array.from({ length: size }, (_, o) => o).filter((o) => !reserved.has(o) && book.holder(at(range, o)) === undefined);
        fc.pre(free.length > 0);
        const next = book.next();
        const entries = [...book.entries()];
        const ip = at(range, free[pick % free.length]!);
        book.take(ip, 'x');
        assert.equal(book.holder(ip), 'x');
        book.drop(ip);
        assert.deepEqual([book.next(), [...book.entries()], book.holder(ip)], [next, entries, undefined]);
      }),
    );
  });

  test('the search starts after the cursor and wraps around to the start of the range', () => {
    for (const text of ['10.1.0.0/29', 'fd00:1::/125']) {
      const range = toCidr(text);
      const book = addressBook(range, [at(range, 0).value]);
      book.cursor = at(range, 5);
      assert.deepEqual(book.next(), at(range, 6));
      book.cursor = at(range, 7);
      assert.deepEqual(book.next(), at(range, 1), `${text} wraps past its last address`);
      assert.equal(book.isNext(at(range, 1)), true);
      assert.equal(book.isNext(at(range, 2)), false);
    }
  });

  test('an IPv4 range over several bitmap pages moves on to the next page once one is full', () => {
    const range = toCidr('10.0.0.0/15');
    const book = addressBook(range, []);
    for (let o = 0; o < 65536; o++) book.take(at(range, o), 'a');
    assert.deepEqual(book.next(), at(range, 65536));
    book.drop(at(range, 40000));
    assert.deepEqual(book.next(), at(range, 40000));
    assert.equal([...book.entries()].length, 65535);
  });
});
