// dns/cache.ts through DnsServer.handle: a cached reply is byte for byte what respond() would say
// now (ids patched, names scoped per source address and receiving network), and every add or
// remove of a name or alias is seen by the next query.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { silentLogger } from '../../common/log.js';
import { AnswerCache } from '../../dns/cache.js';
import { Records } from '../../dns/records.js';
import { respond } from '../../dns/respond.js';
import { DnsServer } from '../../dns/server.js';
import { QTYPE, RCODE, type DnsEndpoint } from '../../dns/types.js';
import { encodeQuery, ptrName, rcodeOf, readId } from '../../dns/wire.js';

const NETS = { front: 'n-front', back: 'n-back' } as const;
type Net = keyof typeof NETS;

function ep(sandbox: string, network: Net, ipv4: string, aliases: string[] = []): DnsEndpoint {
  return { endpointId: `${sandbox}@${network}`, sandbox, networkId: NETS[network], network, internal: false, ipv4, aliases };
}

/** A server with no upstream (an unknown dotted name is SERVFAIL, never a forward) and no socket. */
function server(records: Records): DnsServer {
  return new DnsServer({ records, log: silentLogger, port: 53, defaultUpstreams: () => [] });
}

function ask(s: DnsServer, id: number, name: string, from: string, via: Net, type: number = QTYPE.A): Buffer | undefined {
  const out = s.handle(encodeQuery(id, { name, type, qclass: 1 }), from, NETS[via]);
  assert.ok(!(out instanceof Promise), 'no upstream: nothing is forwarded');
  return out;
}

const lastA = (reply: Buffer | undefined): string => (reply ? [...reply.subarray(-4)].join('.') : 'no reply');

describe('the answer cache', () => {
  test('a repeated query gets the same answer with its own id', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    r.add(ep('web', 'front', '10.1.0.3'));
    const s = server(r);
    const first = ask(s, 1, 'web', '10.1.0.2', 'front')!;
    for (const id of [2, 0xffff, 0]) {
      const again = ask(s, id, 'web', '10.1.0.2', 'front')!;
      assert.equal(readId(again), id);
      assert.deepEqual(again.subarray(2), first.subarray(2));
    }
    assert.equal(s.counters.answered, 4);
  });

  test('adding a name, an alias or a network membership answers at once; removing one stops at once', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    const s = server(r);
    assert.equal(rcodeOf(ask(s, 1, 'db', '10.1.0.2', 'front')!), RCODE.NXDOMAIN);
    r.add(ep('pg', 'front', '10.1.0.4', ['db']));
    assert.equal(lastA(ask(s, 2, 'db', '10.1.0.2', 'front')), '10.1.0.4', 'the new alias answers');
    assert.equal(lastA(ask(s, 3, 'pg', '10.1.0.2', 'front')), '10.1.0.4');
    r.add(ep('pg', 'front', '10.1.0.9', ['database'])); // the same endpoint again: new address, alias renamed
    assert.equal(lastA(ask(s, 4, 'pg', '10.1.0.2', 'front')), '10.1.0.9', 'the new address, not the cached one');
    assert.equal(rcodeOf(ask(s, 5, 'db', '10.1.0.2', 'front')!), RCODE.NXDOMAIN, 'the old alias is gone');
    r.remove('pg@front');
    assert.equal(rcodeOf(ask(s, 6, 'pg', '10.1.0.2', 'front')!), RCODE.NXDOMAIN);
    assert.equal(rcodeOf(ask(s, 7, ptrName('10.1.0.9')!, '10.1.0.2', 'front', QTYPE.PTR)!), RCODE.SERVFAIL, 'no PTR either (no upstream)');
    r.remove('api@front');
    assert.equal(ask(s, 8, 'api', '10.1.0.2', 'front'), undefined, 'a removed client is a stranger: no answer at all');
  });

  test('scoping per source address and receiving network: one query, different answers', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    r.add(ep('ops', 'back', '10.2.0.2'));
    r.add(ep('db', 'back', '10.2.0.4'));
    r.add(ep('both', 'front', '10.1.0.7'));
    r.add(ep('both', 'back', '10.2.0.7'));
    const s = server(r);
    for (let round = 0; round < 2; round++) {
      assert.equal(lastA(ask(s, 1, 'db', '10.2.0.2', 'back')), '10.2.0.4', 'a peer on back sees db');
      assert.equal(rcodeOf(ask(s, 2, 'db', '10.1.0.2', 'front')!), RCODE.NXDOMAIN, 'api shares no network with db');
      assert.equal(ask(s, 3, 'db', '10.1.0.2', 'back'), undefined, "api's address arriving on back's gateway is nobody");
      assert.equal(lastA(ask(s, 4, 'both', '10.1.0.2', 'front')), '10.1.0.7', 'the address on the network asked through');
      assert.equal(lastA(ask(s, 5, 'both', '10.2.0.2', 'back')), '10.2.0.7');
    }
  });

  test('names with several endpoints keep rotating (such answers are never cached)', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    r.add(ep('w1', 'front', '10.1.0.5', ['www']));
    r.add(ep('w2', 'front', '10.1.0.6', ['www']));
    const s = server(r);
    const firsts = [1, 2, 3, 4].map((id) => {
      const reply = ask(s, id, 'www', '10.1.0.2', 'front')!;
      return [...reply.subarray(-20, -16)].join('.'); // the first of two A records (16 bytes each)
    });
    assert.deepEqual(firsts, ['10.1.0.5', '10.1.0.6', '10.1.0.5', '10.1.0.6']);
  });

  test('kept only for NOERROR and NXDOMAIN, bounded, and emptied by any change', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    const c = new AnswerCache(r, 3);
    const q = (name: string) => encodeQuery(9, { name, type: QTYPE.A, qclass: 1 });
    const put = (name: string) => {
      const msg = q(name);
      const before = c.stamp();
      const out = respond(r, { ip: '10.1.0.2', via: 'n-front' }, msg, { defaultUpstreams: [], ttl: 0 });
      assert.ok('reply' in out);
      c.put(msg, '10.1.0.2', 'n-front', false, out.reply, before);
    };
    put('api');
    put('nothere');
    put('example.test'); // SERVFAIL: no upstream
    assert.equal(c.size, 2);
    put('a');
    put('b');
    assert.ok(c.size <= 3);
    const size = c.size;
    c.put(Buffer.alloc(11), '10.1.0.2', 'n-front', false, Buffer.alloc(12), c.stamp());
    assert.equal(c.size, size, 'no header: never kept');
    assert.equal(c.get(Buffer.alloc(11), '10.1.0.2', 'n-front', false), undefined, 'no header: never found');
    put('api');
    assert.ok(c.get(q('api'), '10.1.0.2', 'n-front', false));
    assert.equal(c.get(q('api'), '10.1.0.2', 'n-front', true), undefined, 'TCP has its own entries (a larger size limit)');
    assert.equal(c.get(q('api'), '10.1.0.2', 'n-back', false), undefined, 'so has each receiving network');
    assert.equal(c.get(q('api'), '10.1.0.3', 'n-front', false), undefined, 'and each source address');
    const kept = c.size;
    put('api');
    assert.equal(c.size, kept, 'the same query is kept once');
    r.add(ep('x', 'back', '10.2.0.9'));
    assert.equal(c.get(q('api'), '10.1.0.2', 'n-front', false), undefined);
    assert.equal(c.size, 0);
  });

  test('entries whose hashes collide are told apart by network, transport and bytes', () => {
    const r = new Records();
    r.add(ep('api', 'front', '10.1.0.2'));
    r.add(ep('api', 'back', '10.2.0.2'));
    r.add(ep('web', 'front', '10.1.0.3'));
    r.add(ep('db', 'back', '10.2.0.4'));
    const c = new AnswerCache(r, 100, () => 7); // every query in one chain
    const cases = [
      ['web', 'n-front', false],
      ['web', 'n-back', false],
      ['db', 'n-back', false],
      ['db', 'n-back', true],
      ['nope', 'n-front', false],
    ] as const;
    const want = cases.map(([name, via, tcp]) => {
      const msg = encodeQuery(1, { name, type: QTYPE.A, qclass: 1 });
      const before = c.stamp();
      const out = respond(r, { ip: via === 'n-front' ? '10.1.0.2' : '10.2.0.2', via }, msg, { defaultUpstreams: [], ttl: 0, tcp });
      assert.ok('reply' in out);
      c.put(msg, '10.1.0.2', via, tcp, out.reply, before);
      return out.reply;
    });
    assert.equal(c.size, cases.length);
    cases.forEach(([name, via, tcp], i) => {
      const got = c.get(encodeQuery(1, { name, type: QTYPE.A, qclass: 1 }), '10.1.0.2', via, tcp);
      assert.deepEqual(got, want[i], `${name} via ${via}${tcp ? ' over TCP' : ''}`);
    });
    assert.equal(c.get(encodeQuery(1, { name: 'other', type: QTYPE.A, qclass: 1 }), '10.1.0.2', 'n-front', false), undefined);
  });

  test('property: after any sequence of adds, removes and queries, each reply is what respond() says without a cache', () => {
    const SANDBOXES = ['api', 'web', 'db', 'Web'];
    const IPS = ['10.1.0.2', '10.1.0.3', '10.2.0.2', '10.2.0.3'];
    const NAMES = ['api', 'web', 'WEB', 'db', 'www', 'web.front', 'db.back', 'nope', 'x.y', ptrName('10.1.0.3')!, ptrName('10.2.0.2')!];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        sandbox: fc.constantFrom(...SANDBOXES),
        net: fc.constantFrom<Net>('front', 'back'),
        ip: fc.constantFrom(...IPS),
        aliases: fc.subarray(['www', 'db']),
      }),
      fc.record({ kind: fc.constant('remove' as const), sandbox: fc.constantFrom(...SANDBOXES), net: fc.constantFrom<Net>('front', 'back') }),
      fc.record({
        kind: fc.constant('query' as const),
        id: fc.integer({ min: 0, max: 0xffff }),
        name: fc.constantFrom(...NAMES),
        type: fc.constantFrom(QTYPE.A, QTYPE.AAAA, QTYPE.PTR, QTYPE.ANY),
        from: fc.constantFrom(...IPS),
        via: fc.constantFrom<Net>('front', 'back'),
        times: fc.integer({ min: 2, max: 3 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const [cached, plain] = [new Records(), new Records()];
        const s = server(cached);
        for (const o of ops) {
          if (o.kind === 'add') for (const r of [cached, plain]) r.add(ep(o.sandbox, o.net, o.ip, o.aliases));
          else if (o.kind === 'remove') for (const r of [cached, plain]) r.remove(`${o.sandbox}@${o.net}`);
          else {
            for (let t = 0; t < o.times; t++) {
              const msg = encodeQuery(o.id, { name: o.name, type: o.type, qclass: 1 });
              const got = s.handle(msg, o.from, NETS[o.via]);
              const want = respond(plain, { ip: o.from, via: NETS[o.via] }, msg, { defaultUpstreams: [], ttl: 0 });
              assert.deepEqual(got, 'reply' in want ? want.reply : undefined);
            }
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
