// Shared by netloomd's two HTTP faces (the API and the Docker plugin).
import type { FastifyInstance } from 'fastify';

/** How much of an oversized body is still read (and thrown away) before it is refused. */
const READ_CAP = 16 << 20;

/** Parses every body as JSON whatever its Content-Type (Docker's engine sends none, old CLIs send
 *  text/plain); an empty body is `undefined`. Unparsable JSON fails with `badStatus`, a body over
 *  `limit` bytes with 413. An oversized body up to READ_CAP is read to its end before the 413:
 *  answering early and closing a connection the client is still writing into gives the client
 *  EPIPE, and a client that stops at that (node's net) never reads the answer waiting for it. */
export function acceptAnyJson(app: FastifyInstance, badStatus: number, limit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: Math.max(limit, READ_CAP) }, (_req, body, done) => {
    const text = String(body);
    if (Buffer.byteLength(text) > limit) {
      return done(Object.assign(new Error(`Request body is too large: the limit is ${limit} bytes`), { statusCode: 413 }), undefined);
    }
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(Object.assign(new Error(`invalid JSON body: ${(err as Error).message}`), { statusCode: badStatus }), undefined);
    }
  });
}
