// dns/records.ts + dns/answer.ts: who may see which name, which rcode an unknown name gets, where
// other names go, and the sentence `netloom dns explain` prints for each.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { decide, type DecideOptions } from '../../dns/answer.js';
import { Records } from '../../dns/records.js';
import { respond } from '../../dns/respond.js';
import { QTYPE, RCODE, type Decision, type DnsEndpoint } from '../../dns/types.js';
import { decodeQuery, encodeQuery, ptrName, rcodeOf, readId } from '../../dns/wire.js';

const NETS: Record<string, { id: string; internal?: boolean; dns?: string[] }> = {
  front: { id: 'n-front' },
  back: { id: 'n-back' },
  vault: { id: 'n-vault' },
  lab: { id: 'n-lab', internal: true, dns: ['10.0.0.53'] },
  ops: { id: 'n-ops', dns: ['10.0.0.53'] },
};

function ep(sandbox: string, network: string, ipv4?: string, more: Partial<DnsEndpoint> = {}): DnsEndpoint {
  const n = NETS[network]!;
  return {
    endpointId: `${sandbox}@${network}`,
    sandbox,
    networkId: n.id,
    network,
    internal: n.internal ?? false,
    ipv4,
    aliases: [],
    ...(n.dns ? { networkDns: n.dns } : {}),
    ...more,
  };
}

function world(): Records {
  const r = new Records();
  for (const e of [
    ep('api', 'front', '10.1.0.2', { ipv6: 'fd00:1::2' }),
    ep('api', 'back', '10.2.0.2', { aliases: ['gw'] }),
    ep('web', 'front', '10.1.0.3', { aliases: ['www'] }),
    ep('six', 'front', undefined, { ipv6: 'FD00:1:0::6' }),
    ep('both', 'front', '10.1.0.7'),
    ep('both', 'back', '10.2.0.7'),
    ep('pg', 'back', '10.2.0.4', { aliases: ['db'] }),
    ep('pg2', 'back', '10.2.0.5', { aliases: ['DB'], ipv6: 'fd00:2::5' }),
    ep('secret', 'vault', '10.9.0.2'),
    ep('worker', 'lab', '10.5.0.2'),
    ep('tool', 'ops', '10.6.0.2', { dns: ['10.0.0.99'] }),
    ep('other', 'ops', '10.6.0.3'),
  ])
    r.add(e);
  return r;
}

const OPTS: DecideOptions = { defaultUpstreams: ['192.0.2.53'], ttl: 600 };
const from = (ip: string, net: string) => ({ ip, via: NETS[net]!.id });
const API = from('10.1.0.2', 'front');
const WEB = from('10.1.0.3', 'front');

function ask(r: Records, client: { ip: string; via: string }, name: string, type: number = QTYPE.A, qclass = 1): Decision {
  return decide(r, client, { name, type, qclass }, OPTS);
}

function addrs(d: Decision): string[] {
  assert.equal(d.kind, 'answer', d.why);
  return d.kind === 'answer' ? d.answers.map((a) => ('address' in a.data ? a.data.address : a.data.target)) : [];
}

function rcode(d: Decision): number | string {
  return d.kind === 'answer' ? d.rcode : d.kind;
}

describe('decide: scoping', () => {
  test('a sandbox resolves names on every network it shares, not only the one it asked through', () => {
    const r = world();
    assert.deepEqual(addrs(ask(r, API, 'web')), ['10.1.0.3']);
    assert.deepEqual(addrs(ask(r, API, 'pg')), ['10.2.0.4']);
    assert.equal(ask(r, API, 'pg').why, 'pg is sandbox "pg" on network "back", which api shares');
  });

  test('a name only on a network the client does not share is NXDOMAIN, and the reason says so', () => {
    const r = world();
    const d = ask(r, API, 'secret');
    assert.equal(rcode(d), RCODE.NXDOMAIN);
    assert.equal(d.why, '"secret" exists only on network "vault", which api does not share');
    assert.equal(rcode(ask(r, WEB, 'pg')), RCODE.NXDOMAIN);
  });

  test('an alias answers only on its own network, even between sandboxes sharing another one', () => {
    const r = world();
    assert.deepEqual(addrs(ask(r, from('10.2.0.4', 'back'), 'gw')), ['10.2.0.2']);
    assert.equal(rcode(ask(r, WEB, 'gw')), RCODE.NXDOMAIN, 'web shares front with api, not back');
    assert.equal(ask(r, API, 'www').why, '"www" is an alias of sandbox "web" on network "front"');
  });

  test('name.network forms answer for sandboxes and aliases; a wrong network is NXDOMAIN under it', () => {
    const r = world();
    assert.deepEqual(addrs(ask(r, API, 'web.front')), ['10.1.0.3']);
    assert.deepEqual(addrs(ask(r, API, 'www.front')), ['10.1.0.3']);
    assert.deepEqual(addrs(ask(r, API, 'gw.back')), ['10.2.0.2']);
    const d = ask(r, API, 'web.back');
    assert.equal(rcode(d), RCODE.NXDOMAIN);
    assert.equal(d.why, 'web.back is under network "back" but no sandbox there has that name');
    assert.equal(ask(r, API, 'nosuch.front').why, 'nosuch.front is under network "front" but no sandbox there has that name');
  });

  test('the network a query arrived on wins when a sandbox is on several shared networks', () => {
    const r = world();
    assert.deepEqual(addrs(ask(r, API, 'both')), ['10.1.0.7']);
    assert.deepEqual(addrs(ask(r, from('10.2.0.2', 'back'), 'both')), ['10.2.0.7']);
  });

  test('names are case-insensitive and answered as asked', () => {
    const d = ask(world(), API, 'WeB.FrOnT');
    assert.deepEqual(addrs(d), ['10.1.0.3']);
    assert.equal(d.kind === 'answer' && d.answers[0]!.name, 'WeB.FrOnT');
  });
});

describe('decide: records and empty answers', () => {
  test('A gives IPv4, AAAA IPv6, ANY both', () => {
    const r = world();
    assert.deepEqual(addrs(ask(r, WEB, 'api', QTYPE.A)), ['10.1.0.2']);
    assert.deepEqual(addrs(ask(r, WEB, 'api', QTYPE.AAAA)), ['fd00:1::2']);
    assert.deepEqual(addrs(ask(r, WEB, 'api', QTYPE.ANY)), ['10.1.0.2', 'fd00:1::2']);
    assert.deepEqual(addrs(ask(r, WEB, 'six', QTYPE.AAAA)), ['fd00:1::6'], 'stored canonical');
  });

  test('a known name without the asked family or type is NODATA; an unknown single label is NXDOMAIN', () => {
    const r = world();
    const v6 = ask(r, API, 'web', QTYPE.AAAA);
    assert.deepEqual([rcode(v6), addrs(v6)], [RCODE.NOERROR, []]);
    assert.equal(v6.why, 'web is sandbox "web" on network "front", which api shares; it has no IPv6 address, so the answer is empty (NODATA)');
    assert.deepEqual([rcode(ask(r, API, 'six', QTYPE.A)), addrs(ask(r, API, 'six', QTYPE.A))], [RCODE.NOERROR, []]);
    const mx = ask(r, API, 'web', QTYPE.MX);
    assert.deepEqual([rcode(mx), addrs(mx)], [RCODE.NOERROR, []]);
    assert.match(mx.why, /no MX record/);
    const nx = ask(r, API, 'nosuch');
    assert.equal(rcode(nx), RCODE.NXDOMAIN);
    assert.equal(nx.why, 'nosuch is a single-label name and no sandbox or alias on api\'s networks "front", "back" has it');
  });

  test('PTR answers <sandbox>.<network> for shared endpoint addresses, IPv4 and IPv6', () => {
    const r = world();
    const d = ask(r, API, ptrName('10.1.0.3')!, QTYPE.PTR);
    assert.deepEqual(addrs(d), ['web.front']);
    assert.equal(d.why, '10.1.0.3 is sandbox "web" on network "front", which api shares: answered web.front');
    assert.deepEqual(addrs(ask(r, API, ptrName('fd00:2::5')!.toUpperCase(), QTYPE.PTR)), ['pg2.back']);
    assert.deepEqual(addrs(ask(r, API, ptrName('10.1.0.3')!, QTYPE.A)), [], 'NODATA for other types');
  });

  test('PTR for an endpoint on an unshared network is NXDOMAIN; for any other address it goes upstream', () => {
    const r = world();
    const d = ask(r, API, ptrName('10.9.0.2')!, QTYPE.PTR);
    assert.equal(rcode(d), RCODE.NXDOMAIN);
    assert.equal(d.why, '10.9.0.2 belongs to sandbox "secret" on network "vault", which api does not share');
    assert.deepEqual(ask(r, API, ptrName('10.1.0.200')!, QTYPE.PTR), {
      kind: 'forward',
      upstreams: ['192.0.2.53'],
      why: "10.1.0.200 is no netloom endpoint's address: forwarded to 192.0.2.53 (the host's resolv.conf)",
    });
  });

  test('several endpoints sharing an alias all answer, starting one further along each time', () => {
    const r = world();
    const firsts = [0, 1, 2, 3].map(() => addrs(ask(r, API, 'db')));
    assert.deepEqual(firsts, [
      ['10.2.0.4', '10.2.0.5'],
      ['10.2.0.5', '10.2.0.4'],
      ['10.2.0.4', '10.2.0.5'],
      ['10.2.0.5', '10.2.0.4'],
    ]);
    assert.equal(ask(r, API, 'db').why, '"db" is an alias of sandboxes "pg", "pg2" on network "back", in rotating order');
    ask(r, API, 'db', QTYPE.AAAA); // an AAAA between two A queries does not skip a place
    assert.deepEqual(addrs(ask(r, API, 'db')), ['10.2.0.5', '10.2.0.4']);
  });

  test('a class other than IN or ANY is REFUSED; ANY is answered', () => {
    const r = world();
    assert.equal(rcode(ask(r, API, 'web', QTYPE.A, 3)), RCODE.REFUSED);
    assert.deepEqual(addrs(ask(r, API, 'web', QTYPE.A, 255)), ['10.1.0.3']);
  });
});

describe('decide: upstreams', () => {
  test("the endpoint's --dns comes first, then the network's, then the host's resolv.conf", () => {
    const r = world();
    assert.deepEqual(ask(r, from('10.6.0.2', 'ops'), 'example.com'), {
      kind: 'forward',
      upstreams: ['10.0.0.99'],
      why: 'example.com is not a netloom name: forwarded to 10.0.0.99 (--dns of tool\'s endpoint on network "ops")',
    });
    assert.deepEqual(ask(r, from('10.6.0.3', 'ops'), 'example.com'), {
      kind: 'forward',
      upstreams: ['10.0.0.53'],
      why: 'example.com is not a netloom name: forwarded to 10.0.0.53 (--dns of network "ops")',
    });
    assert.deepEqual(ask(r, API, 'example.com'), {
      kind: 'forward',
      upstreams: ['192.0.2.53'],
      why: "example.com is not a netloom name: forwarded to 192.0.2.53 (the host's resolv.conf)",
    });
  });

  test('no upstream at all is SERVFAIL', () => {
    const d = decide(world(), API, { name: 'example.com', type: QTYPE.A, qclass: 1 }, { ...OPTS, defaultUpstreams: [] });
    assert.equal(rcode(d), RCODE.SERVFAIL);
    assert.match(d.why, /no upstream/);
  });

  test('an internal network never forwards, even with --dns, but still answers its own names', () => {
    const r = world();
    r.add(ep('peer', 'lab', '10.5.0.3'));
    const d = ask(r, from('10.5.0.2', 'lab'), 'example.com');
    assert.equal(rcode(d), RCODE.REFUSED);
    assert.equal(d.why, 'example.com is not a netloom name, and network "lab" is internal, so nothing is forwarded from it');
    assert.deepEqual(addrs(ask(r, from('10.5.0.2', 'lab'), 'peer')), ['10.5.0.3']);
  });

  test("a multi-label name of an unshared network is not the client's netloom name, so it goes upstream", () => {
    const d = ask(world(), API, 'secret.vault');
    assert.equal(d.kind, 'forward');
    assert.match(d.why, /exists only on network "vault"/);
  });

  test('an unknown source address, or one asking through a network it is not on, is refused', () => {
    const r = world();
    assert.equal(ask(r, from('10.1.0.99', 'front'), 'web').kind, 'refuse');
    assert.equal(ask(r, from('10.1.0.3', 'back'), 'web').kind, 'refuse');
  });
});

describe('records', () => {
  test('add replaces an older version of the endpoint; remove makes its names NXDOMAIN at once', () => {
    const r = world();
    r.add(ep('web', 'front', '10.1.0.30', { aliases: ['w2'] }));
    assert.deepEqual(addrs(ask(r, API, 'web')), ['10.1.0.30']);
    assert.equal(rcode(ask(r, API, 'www')), RCODE.NXDOMAIN);
    assert.equal(r.client('10.1.0.3'), undefined, 'the old address is no client any more');
    r.remove('web@front');
    assert.equal(rcode(ask(r, API, 'web')), RCODE.NXDOMAIN);
    assert.equal(r.size, 11);
    r.remove('web@front');
  });

  test('an endpoint with a bad address is rejected and the older version stays', () => {
    const r = world();
    assert.throws(
      () => r.add(ep('web', 'front', 'fd00::9')),
      (e: unknown) =>
        e instanceof NetloomError &&
        e.code === 'NL_DNS_INVALID_ENDPOINT' &&
        e.message === 'invalid IPv4 address "fd00::9" for sandbox "web" on network "front": expected an address such as 10.1.0.2',
    );
    assert.deepEqual(addrs(ask(r, API, 'web')), ['10.1.0.3']);
  });

  test('client gives the sandbox, the networks it shares and its endpoints', () => {
    const c = world().client('10.2.0.2');
    assert.deepEqual([c?.sandbox, [...(c?.networks ?? [])], c?.endpoints.length], ['api', ['n-front', 'n-back'], 2]);
  });

  test('lookups agree with a plain list after any sequence of adds and removes', () => {
    const names = ['a', 'b', 'c'];
    const op = fc.record({
      add: fc.boolean(),
      id: fc.integer({ min: 0, max: 5 }),
      sb: fc.constantFrom(...names),
      net: fc.constantFrom('front', 'back'),
      alias: fc.constantFrom(...names, 'x'),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const r = new Records();
        const model = new Map<string, DnsEndpoint>();
        for (const o of ops) {
          const e = { ...ep(o.sb, o.net, `10.0.0.${o.id + 1}`, { aliases: [o.alias] }), endpointId: `e${o.id}` };
          if (o.add) [r.add(e), model.set(e.endpointId, e)];
          else [r.remove(e.endpointId), model.delete(e.endpointId)];
        }
        assert.equal(r.size, model.size);
        for (const n of [...names, 'x', 'a.front', 'x.back']) {
          const want = [...model.values()].filter((e) => [e.sandbox, ...e.aliases].flatMap((s) => [s, `${s}.${e.network}`]).includes(n));
          assert.deepEqual(
            r
              .lookup(n)
              .map((e) => e.endpointId)
              .sort(),
            want.map((e) => e.endpointId).sort(),
            n,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('respond', () => {
  const q = (name: string): Buffer => encodeQuery(0x4242, { name, type: QTYPE.A, qclass: 1 });

  test('answers local names, forwards others with the original packet, and drops strangers', () => {
    const r = world();
    const local = respond(r, API, q('web'), OPTS);
    assert.ok('reply' in local && readId(local.reply) === 0x4242 && rcodeOf(local.reply) === RCODE.NOERROR);
    const out = respond(r, API, q('example.com'), OPTS);
    assert.ok('forward' in out);
    assert.deepEqual([out.forward.upstreams, out.forward.id, out.forward.query.equals(q('example.com'))], [['192.0.2.53'], 0x4242, true]);
    assert.deepEqual(respond(r, from('10.7.0.1', 'front'), q('web'), OPTS), { drop: true });
    assert.deepEqual(respond(r, from('10.7.0.1', 'front'), Buffer.alloc(3), OPTS), { drop: true });
  });

  test('a malformed query from a sandbox gets FORMERR, an unknown opcode NOTIMP', () => {
    const bad = Buffer.concat([q('web'), Buffer.of(0)]);
    const f = respond(world(), API, bad, OPTS);
    assert.ok('reply' in f && rcodeOf(f.reply) === RCODE.FORMERR && readId(f.reply) === 0x4242);
    const notify = q('web');
    notify[2] = 4 << 3;
    const n = respond(world(), API, notify, OPTS);
    assert.ok('reply' in n && rcodeOf(n.reply) === RCODE.NOTIMP);
    assert.equal(decodeQuery(n.reply).ok, false, 'a reply is never taken for a query');
  });
});
