// dns/udp.ts on loopback: the addon's batches (and the node:dgram fallback, same contract), replies
// to the right source, late sends from the same port, truncation, close, bind errors; then the DNS
// server over it: local answers, drops, a forward through a fake upstream, malformed floods.
// Traffic goes only to 127.0.0.1 and ::1, on ports the kernel picks.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { Records } from '../../dns/records.js';
import { DnsServer } from '../../dns/server.js';
import { QTYPE } from '../../dns/types.js';
import { BatchUdpSocket, nativeAvailable, type Datagrams } from '../../dns/udp.js';
import { encodeQuery } from '../../dns/wire.js';

const open: { close(): void }[] = [];
after(() => {
  for (const s of open) s.close();
});

async function client(type: 'udp4' | 'udp6' = 'udp4', address = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<Socket> {
  const c = createSocket(type);
  open.push(c);
  c.bind(0, address);
  await once(c, 'listening');
  return c;
}

/** Collects `n` datagrams arriving at `c` (rejects after 5 s, naming how many came). */
function receive(c: Socket, n: number): Promise<{ msg: Buffer; port: number }[]> {
  const got: { msg: Buffer; port: number }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} datagrams`)), 5000);
    c.on('message', function on(msg, rinfo) {
      got.push({ msg, port: rinfo.port });
      if (got.length === n) {
        clearTimeout(timer);
        c.off('message', on);
        resolve(got);
      }
    });
  });
}

const silence = (c: Socket, ms: number): Promise<number> => {
  let n = 0;
  const on = (): number => n++;
  c.on('message', on);
  return new Promise((resolve) => setTimeout(() => (c.off('message', on), resolve(n)), ms));
};

async function bind(
  native: boolean,
  handler: (b: Datagrams, sock: () => BatchUdpSocket) => void,
  address = '127.0.0.1',
  errors: Error[] = [],
): Promise<BatchUdpSocket> {
  let sock: BatchUdpSocket | undefined;
  sock = await BatchUdpSocket.bind({ address, port: 0, native, onError: (e) => errors.push(e) }, (b) => handler(b, () => sock!));
  open.push(sock);
  assert.equal(sock.native, native);
  return sock;
}

const kinds = nativeAvailable() ? [true, false] : [false];

for (const native of kinds) {
  describe(`BatchUdpSocket (${native ? 'native/udpbatch.node' : 'node:dgram fallback'})`, () => {
    test('every datagram of a burst is answered, to its own source, with its own bytes', async () => {
      const seen: { address: string; port: number }[] = [];
      const s = await bind(native, (b) => {
        for (let i = 0; i < b.count; i++) {
          seen.push({ address: b.address(i), port: b.port(i) });
          b.reply(i, Buffer.concat([Buffer.from('re:'), b.packet(i)]));
        }
      });
      const [c1, c2] = [await client(), await client()];
      // Rounds of 30 from each client, each round answered before the next is sent: a batch can
      // hold many datagrams, yet no receive buffer can overflow, however slow the machine.
      const [N, R] = [300, 30];
      const r1: { msg: Buffer; port: number }[] = [];
      const r2: { msg: Buffer; port: number }[] = [];
      for (let k = 0; k < N; k += R) {
        const [got1, got2] = [receive(c1, R), receive(c2, R)];
        for (let i = k; i < k + R; i++) {
          c1.send(`one ${i}`, s.port, '127.0.0.1');
          c2.send(`two ${i}`, s.port, '127.0.0.1');
        }
        r1.push(...(await got1));
        r2.push(...(await got2));
      }
      assert.deepEqual(r1.map((r) => r.msg.toString()).sort(), Array.from({ length: N }, (_, i) => `re:one ${i}`).sort());
      assert.deepEqual(r2.map((r) => r.msg.toString()).sort(), Array.from({ length: N }, (_, i) => `re:two ${i}`).sort());
      assert.ok(
        r1.every((r) => r.port === s.port),
        'replies come from the bound port',
      );
      assert.deepEqual(new Set(seen.map((x) => `${x.address}:${x.port}`)), new Set([`127.0.0.1:${c1.address().port}`, `127.0.0.1:${c2.address().port}`]));
      if (native) {
        const n = s.counters();
        assert.equal(n.received, 2 * N);
        assert.equal(n.sent, 2 * N);
        assert.ok(n.batches >= 1 && n.batches <= 2 * N);
        assert.equal(n.sendErrors + n.sendDropped + n.badReplies + n.truncated, 0);
      }
    });

    test('no reply unless asked; an empty datagram arrives as an empty packet', async () => {
      const lengths: number[] = [];
      const s = await bind(native, (b) => {
        for (let i = 0; i < b.count; i++) {
          lengths.push(b.packet(i).length);
          if (b.packet(i).toString() === 'answer me') b.reply(i, Buffer.from('ok'));
        }
      });
      const c = await client();
      const got = receive(c, 1);
      const quiet = silence(c, 300);
      c.send(Buffer.alloc(0), s.port, '127.0.0.1');
      c.send('ignore me', s.port, '127.0.0.1');
      c.send('answer me', s.port, '127.0.0.1');
      assert.equal((await got)[0]!.msg.toString(), 'ok');
      assert.equal(await quiet, 1);
      assert.deepEqual(lengths, [0, 9, 9]);
    });

    test('a late send() leaves from the same port; a reply larger than a batch slot still goes out whole', async () => {
      const later: (() => void)[] = [];
      const s = await bind(native, (b, sock) => {
        for (let i = 0; i < b.count; i++) {
          const [port, address, what] = [b.port(i), b.address(i), b.packet(i).toString()];
          if (what === 'big') b.reply(i, Buffer.alloc(6000, 7));
          else later.push(() => sock().send(Buffer.from(`late ${what}`), port, address));
        }
      });
      const c = await client();
      const got = receive(c, 2);
      c.send('big', s.port, '127.0.0.1');
      c.send('x', s.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
      for (const f of later) f();
      const r = await got;
      assert.deepEqual(
        r.map((x) => x.msg.length).sort((a, b) => a - b),
        [6, 6000],
      );
      assert.ok(r.every((x) => x.port === s.port));
      assert.ok(r.some((x) => x.msg.equals(Buffer.alloc(6000, 7))));
    });

    test('reply() after the handler returned is refused rather than answering some other datagram', async () => {
      let kept: Datagrams | undefined;
      const s = await bind(native, (b) => (kept = b));
      const c = await client();
      c.send('x', s.port, '127.0.0.1');
      for (let i = 0; i < 50 && !kept; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(kept);
      assert.throws(() => kept!.reply(0, Buffer.from('late')), RangeError);
    });

    test('IPv6: source address in canonical text, reply delivered', async (t) => {
      let s: BatchUdpSocket;
      try {
        s = await bind(
          native,
          (b) => {
            for (let i = 0; i < b.count; i++) b.reply(i, Buffer.from(b.address(i)));
          },
          '::1',
        );
      } catch (err) {
        return t.skip(`no IPv6 loopback here: ${(err as Error).message}`);
      }
      const c = await client('udp6');
      const got = receive(c, 1);
      c.send('q', s.port, '::1');
      assert.equal((await got)[0]!.msg.toString(), '::1');
    });

    test('close() frees the address at once, is idempotent, and a send after it reports an error', async () => {
      const errors: Error[] = [];
      const s = await bind(native, () => undefined, '127.0.0.1', errors);
      const port = s.port;
      s.close();
      s.close();
      const again = createSocket('udp4'); // no reuseAddr: fails if anything still holds the port
      open.push(again);
      again.bind(port, '127.0.0.1');
      await once(again, 'listening');
      s.send(Buffer.from('x'), 9, '127.0.0.1');
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as NodeJS.ErrnoException).code, native ? 'EBADF' : 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    });

    test("binding an address this host does not have fails as dgram's bind does", async () => {
      await assert.rejects(
        BatchUdpSocket.bind({ address: '192.0.2.1', port: 0, native }, () => undefined),
        /bind EADDRNOTAVAIL 192\.0\.2\.1/,
      );
    });
  });
}

describe('BatchUdpSocket (native only)', { skip: !nativeAvailable() && 'native/udpbatch.node is not built' }, () => {
  test('a datagram longer than a slot arrives cut to the slot and is counted', async () => {
    const lengths: number[] = [];
    const s = await bind(true, (b) => {
      for (let i = 0; i < b.count; i++) lengths.push(b.packet(i).length);
    });
    const c = await client();
    c.send(Buffer.alloc(20000, 1), s.port, '127.0.0.1');
    c.send(Buffer.alloc(100, 2), s.port, '127.0.0.1');
    for (let i = 0; i < 100 && lengths.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(lengths, [8192, 100]);
    assert.equal(s.counters().truncated, 1);
  });

  test('a socket closed from inside its own handler stops at once and answers nothing more', async () => {
    let calls = 0;
    const s = await bind(true, (b, sock) => {
      calls++;
      b.reply(0, Buffer.from('too late'));
      sock().close();
    });
    const c = await client();
    const quiet = silence(c, 300);
    for (let i = 0; i < 20; i++) c.send('x', s.port, '127.0.0.1');
    assert.equal(await quiet, 0, 'a batch whose socket closed mid-handler sends nothing');
    assert.equal(calls, 1);
  });

  test('wrong arguments are a TypeError, not a crash', async () => {
    await assert.rejects(
      BatchUdpSocket.bind({ address: 'not an address', port: 0 }, () => undefined),
      TypeError,
    );
    await assert.rejects(
      BatchUdpSocket.bind({ address: '127.0.0.1', port: 70000 }, () => undefined),
      TypeError,
    );
  });
});

describe('DnsServer over BatchUdpSocket', () => {
  const records = new Records();
  const net = { networkId: 'n1', network: 'front', internal: false, aliases: [] as string[] };
  records.add({ ...net, endpointId: 'e1', sandbox: 'client', ipv4: '127.0.0.1' });
  records.add({ ...net, endpointId: 'e2', sandbox: 'web', ipv4: '10.1.0.5' });

  async function freePort(): Promise<number> {
    const p = await client();
    const port = p.address().port;
    p.close();
    open.splice(open.indexOf(p), 1);
    return port;
  }

  test('answers local names in batches, forwards the rest through the same port, drops strangers', async () => {
    const upstream = await client();
    upstream.on('message', (msg, rinfo) => {
      // A canned answer: the query's id and question, one A record 192.0.2.10.
      const head = Buffer.from(msg.subarray(0, 12));
      head[2] = 0x81;
      head[3] = 0x80;
      head.writeUInt16BE(1, 6);
      head.writeUInt16BE(0, 10);
      const [q, a] = [msg.subarray(12), Buffer.from('c00c00010001000000000004c000020a', 'hex')];
      upstream.send(Buffer.concat([head, q, a]), rinfo.port, rinfo.address);
    });
    const port = await freePort();
    const server = new DnsServer({ records, log: silentLogger, port, defaultUpstreams: () => [`127.0.0.1:${upstream.address().port}`] });
    open.push(server);
    await server.addNetwork('n1', ['127.0.0.1']);

    const c = await client();
    const [N, R] = [200, 50]; // rounds of 50, each answered before the next: no buffer can overflow
    const replies: { msg: Buffer; port: number }[] = [];
    for (let k = 0; k < N; k += R) {
      const got = receive(c, k + R < N ? R : R + 1);
      for (let i = k; i < k + R; i++) c.send(encodeQuery(i, { name: 'web', type: QTYPE.A, qclass: 1 }), port, '127.0.0.1');
      if (k + R >= N) c.send(encodeQuery(5000, { name: 'example.test', type: QTYPE.A, qclass: 1 }), port, '127.0.0.1');
      replies.push(...(await got));
    }
    assert.ok(
      replies.every((r) => r.port === port),
      "every reply, the forwarded one too, comes from port 53's socket",
    );
    const byId = new Map(replies.map((r) => [r.msg.readUInt16BE(0), r.msg]));
    assert.equal(byId.size, N + 1);
    assert.equal(byId.get(7)!.subarray(-4).toString('hex'), '0a010005', 'web is 10.1.0.5');
    assert.equal(byId.get(5000)!.subarray(-4).toString('hex'), 'c000020a', "the upstream's answer, with the client's id");
    assert.deepEqual({ ...server.counters }, { answered: N, forwarded: 1, dropped: 0 });

    const stranger = await client('udp4', '127.0.0.2');
    const quiet = silence(stranger, 300);
    stranger.send(encodeQuery(1, { name: 'web', type: QTYPE.A, qclass: 1 }), port, '127.0.0.1');
    assert.equal(await quiet, 0);
    assert.equal(server.counters.dropped, 1);
  });

  test('thousands of malformed datagrams, then a good query is answered', async () => {
    const port = await freePort();
    const server = new DnsServer({ records, log: silentLogger, port, defaultUpstreams: () => [] });
    open.push(server);
    await server.addNetwork('n1', ['127.0.0.1']);
    const c = await client();
    c.on('message', () => undefined);
    const base = encodeQuery(1, { name: 'web', type: QTYPE.A, qclass: 1 });
    let seed = 1;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let i = 0; i < 3000; i++) {
      const b = i % 2 ? Buffer.alloc(rnd(700), rnd(256)) : Buffer.from(base);
      if (i % 2 === 0) for (let k = 0; k < 3; k++) b[rnd(b.length)] = rnd(256);
      c.send(b, port, '127.0.0.1');
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 200));
    const got = new Promise<Buffer>((resolve) => c.on('message', (m) => m.readUInt16BE(0) === 4242 && resolve(m)));
    c.send(encodeQuery(4242, { name: 'web', type: QTYPE.A, qclass: 1 }), port, '127.0.0.1');
    assert.equal((await got).subarray(-4).toString('hex'), '0a010005');
  });
});
