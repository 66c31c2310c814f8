// Shared by netloomd's two HTTP faces (the API and the Docker plugin).
import type { FastifyInstance } from 'fastify';

/** Parses every body as JSON whatever its Content-Type (Docker's engine sends none, old CLIs send
 *  text/plain); an empty body is `undefined`. Unparsable JSON fails with `badStatus`. */
export function acceptAnyJson(app: FastifyInstance, badStatus: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(Object.assign(new Error(`invalid JSON body: ${(err as Error).message}`), { statusCode: badStatus }), undefined);
    }
  });
}
