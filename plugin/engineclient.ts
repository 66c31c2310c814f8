// The kit's side of the wire (plugin/check.ts): POST to a plugin the way dockerd 20.10 does, and
// judge a reply as the engine would (a success, or a refusal it can read).
import { connect } from 'node:net';

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly json?: Record<string, unknown>;
}

/** POST like the engine: no Content-Type, compact JSON and a newline, or an empty body. Raw
 *  HTTP/1.1 over the socket, so a server that answers before reading all of an oversized body
 *  (and closes) is still heard, as Go's client hears it; node's http client would only see EPIPE. */
export function post(socket: string, method: string, body?: unknown, raw?: string): Promise<Reply> {
  const data = Buffer.from(raw ?? (body === undefined ? '' : `${JSON.stringify(body)}\n`));
  const head =
    `POST /${method} HTTP/1.1\r\nHost: \r\nUser-Agent: netloom-plugin-check\r\n` +
    `Accept: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(socket);
    const timer = setTimeout(() => sock.destroy(new Error(`${method}: no answer within 30 s`)), 30_000);
    sock.on('connect', () => {
      // One write, and no half-close: some servers drop a request whose client has sent FIN.
      sock.write(Buffer.concat([Buffer.from(head, 'latin1'), data]));
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Writing into a closed connection: the answer may already be in; 'close' decides.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const reply = parseResponse(Buffer.concat(chunks));
      if (reply) resolve(reply);
      else reject(new Error(`${method}: the connection closed without an HTTP answer`));
    });
  });
}

function parseResponse(buf: Buffer): Reply | undefined {
  const split = buf.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const [statusLine, ...headers] = buf.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  if (!status) return undefined;
  const h = new Map(headers.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let bodyBuf = buf.subarray(split + 4);
  if (h.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = bodyBuf.indexOf('\r\n', at);
      const size = eol < 0 ? 0 : parseInt(bodyBuf.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(bodyBuf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    bodyBuf = Buffer.concat(parts);
  } else if (h.has('content-length')) {
    bodyBuf = bodyBuf.subarray(0, Number(h.get('content-length')));
  }
  const text = bodyBuf.toString('utf8');
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {
    /* left undefined: the checks say so */
  }
  return { status, text, json };
}

class Failed extends Error {}
export const must = (ok: unknown, msg: string): void => {
  if (!ok) throw new Failed(msg);
};
export const show = (r: Reply): string => `HTTP ${r.status} ${r.text.trim().slice(0, 200)}`;

/** A success: 200, a JSON object, no error key. */
export function ok(r: Reply, method: string): Record<string, unknown> {
  must(r.status === 200, `${method}: expected HTTP 200, got ${show(r)}`);
  must(r.json, `${method}: expected a JSON object, got ${JSON.stringify(r.text.slice(0, 80))}`);
  const err = r.json?.Err ?? r.json?.Error;
  must(!err, `${method}: failed: ${String(err)}`);
  return r.json ?? {};
}

/** A refusal the engine can read: 200 + the interface's key, or non-200 + Err. */
export function refused(r: Reply, method: string, mention?: string): string {
  const key = method.startsWith('IpamDriver.') && r.status === 200 ? 'Error' : 'Err';
  const msg = r.json?.[key];
  must(typeof msg === 'string' && msg.length > 0, `${method}: expected an error in "${key}", got ${show(r)}`);
  if (mention) must(String(msg).includes(mention), `${method}: the error should name ${mention}: ${String(msg)}`);
  return String(msg);
}
