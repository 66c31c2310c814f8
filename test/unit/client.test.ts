// cli/client.ts: HTTP/1.1 over a raw unix socket. The reply parser against any split of the
// bytes and any framing, and the client against real node:http servers (Content-Length, chunked,
// close-delimited, keep-alive, errors). cli/print.ts naturalCompare: Docker's `network ls` order.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { api, ApiError, call, encodeRequest, MalformedReply, parseReply } from '../../cli/client.js';
import { naturalCompare } from '../../cli/print.js';

const dir = mkdtempSync(join(tmpdir(), 'nl-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= body.length) break;
    const c = body.subarray(at, at + Math.max(1, n));
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    at += c.length;
  }
  if (at < body.length) parts.push(Buffer.from(`${(body.length - at).toString(16)};ext=1\r\n`), body.subarray(at), Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Feeds `bytes` cut at `cuts`; the reply must appear exactly when the last needed byte arrives. */
function feed(bytes: Buffer, cuts: number[], closes: boolean) {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let got: ReturnType<typeof parseReply>;
  for (const p of points) {
    got = parseReply(bytes.subarray(0, p), false);
    if (got) return got;
  }
  return parseReply(bytes, closes);
}

describe('parseReply', () => {
  const text = fc.string({ unit: 'binary', maxLength: 300 });
  test('Content-Length, chunked and close-delimited bodies come out whole, however the bytes are split', () => {
    fc.assert(
      fc.property(
        text,
        fc.constantFrom('length', 'chunked', 'close'),
        fc.array(fc.nat(400), { maxLength: 6 }),
        fc.array(fc.nat(40), { maxLength: 5 }),
        (s, framing, cuts, sizes) => {
          const body = Buffer.from(s, 'utf8');
          const head = framing === 'length' ? `Content-Length: ${body.length}\r\n` : framing === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : '';
          const payload = framing === 'chunked' ? chunked(body, sizes) : body;
          const bytes = Buffer.concat([Buffer.from(`HTTP/1.1 201 Created\r\nX-A: b\r\n${head}\r\n`), payload]);
          const r = feed(bytes, cuts, framing === 'close');
          assert.deepEqual(r, { status: 201, body: body.toString('utf8') });
          if (framing !== 'close') assert.deepEqual(parseReply(bytes.subarray(0, bytes.length - 1), false), undefined);
        },
      ),
    );
  });

  test('a reply cut short by the close is an error naming what is missing, never a truncated body', () => {
    const full = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345');
    assert.throws(() => parseReply(full, true), /closed after 5 of 10 body bytes/);
    assert.throws(() => parseReply(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), true), /closed inside the headers/);
    assert.throws(() => parseReply(Buffer.alloc(0), true), /closed without a reply/);
    assert.throws(() => parseReply(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), true), /inside a chunked body/);
  });

  test('bad framing is a MalformedReply', () => {
    for (const bad of [
      'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 2000 OK\r\n\r\n',
      'SMTP 220 hi\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ])
      assert.throws(() => parseReply(Buffer.from(bad), false), MalformedReply, bad);
  });

  test('204 and 304 have no body whatever the headers say', () => {
    assert.deepEqual(parseReply(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), false), { status: 204, body: '' });
  });

  test('requests: JSON bodies carry their byte length', () => {
    const r = encodeRequest('POST', '/networks/create', JSON.stringify({ Name: 'é' })).toString('utf8');
    assert.equal(
      r,
      'POST /networks/create HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"Name":"é"}',
    );
    assert.equal(encodeRequest('GET', '/_ping').toString(), 'GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
});

function listen(s: Server | NetServer, name: string): Promise<string> {
  const path = join(dir, name);
  return new Promise((res) => s.listen(path, () => res(path)));
}

describe('call over a unix socket', () => {
  test('against node:http: methods, paths, bodies, statuses, chunked and keep-alive replies', async () => {
    const seen: string[] = [];
    const srv = createServer((req, res) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (data += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${data}`);
        if (req.url === '/chunked') {
          res.write('{"a":');
          setTimeout(() => res.end('[1,2,3]}'), 5);
        } else if (req.url === '/missing') {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"network x not found","code":"NL_NOT_FOUND"}');
        } else if (req.url === '/text') {
          res.writeHead(500).end('plain failure');
        } else res.writeHead(200, { 'content-length': Buffer.byteLength(data || '{}') }).end(data || '{}');
      });
    });
    srv.keepAliveTimeout = 60_000; // the client must not wait for the server to close
    const sock = await listen(srv, 'http.sock');
    try {
      assert.deepEqual(await api(sock, 'POST', '/networks/create?x=%20', { Name: 'n1', Labels: { 'é': 'ü' } }), { Name: 'n1', Labels: { 'é': 'ü' } });
      assert.deepEqual(await api(sock, 'GET', '/chunked'), { a: [1, 2, 3] });
      await assert.rejects(
        api(sock, 'GET', '/missing'),
        (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === 'network x not found' && e.code === 'NL_NOT_FOUND',
      );
      await assert.rejects(api(sock, 'DELETE', '/text'), (e: unknown) => e instanceof ApiError && e.status === 500 && e.message === 'plain failure');
      assert.deepEqual(seen, [
        'POST /networks/create?x=%20 application/json {"Name":"n1","Labels":{"é":"ü"}}',
        'GET /chunked - ',
        'GET /missing - ',
        'DELETE /text - ',
      ]);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  test('no listener: the socket error (ENOENT) reaches the caller, as the CLI needs to start a daemon', async () => {
    await assert.rejects(call(join(dir, 'nobody.sock'), 'GET', '/_ping'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  });

  test('a server that closes mid-reply is an error, not a short body', async () => {
    const srv = createNetServer((c) => c.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial'));
    const sock = await listen(srv, 'short.sock');
    try {
      await assert.rejects(call(sock, 'GET', '/x'), /malformed HTTP reply from netloomd: the connection closed after 9 of 100 body bytes/);
    } finally {
      srv.close(); // no callback: with its one connection gone, 'close' may never be emitted
    }
  });
});

describe('naturalCompare (Docker network ls order)', () => {
  test('numbers by value, digits first, then code units', () => {
    // As sortorder does: after equal numbers, fewer leading zeros first (net2a before net02).
    const names = ['net10', 'net2', 'Net1', 'net02', 'bridge', 'a', '1x', 'net2a', 'net', 'host', 'none'];
    assert.deepEqual([...names].sort(naturalCompare), ['1x', 'Net1', 'a', 'bridge', 'host', 'net', 'net2', 'net2a', 'net02', 'net10', 'none']);
  });
  test('a total order: antisymmetric and consistent with equality', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'B', '0', '1', '9', '-') }),
        fc.string({ unit: fc.constantFrom('a', 'B', '0', '1', '9', '-') }),
        (a, b) => {
          assert.equal(Math.sign(naturalCompare(a, b)) + Math.sign(naturalCompare(b, a)), 0);
          if (naturalCompare(a, b) === 0) assert.equal(a, b);
        },
      ),
    );
  });
});
