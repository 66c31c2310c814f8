// A client of netloomd's API over its unix socket (the CLI's and the lab's only way to act).
// HTTP/1.1 is spoken over a raw node:net socket: one request per connection (Connection: close),
// the reply read by Content-Length or chunked framing. node:http would cost the CLI the compilation
// of Node's HTTP client, agent and parser modules at every start (bench/cli-startup.sh measures it)
// for a protocol this small; the parser below is pure and unit-tested (test/unit/client.test.ts).
import { connect } from 'node:net';

export interface Reply {
  readonly status: number;
  readonly body: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The bytes of one request; `path` is already URL-encoded. */
export function encodeRequest(method: string, path: string, data?: string): Buffer {
  const head = `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`;
  if (data === undefined) return Buffer.from(`${head}\r\n`, 'latin1');
  const body = Buffer.from(data, 'utf8');
  return Buffer.concat([Buffer.from(`${head}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
}

export class MalformedReply extends Error {}

const malformed = (what: string): MalformedReply => new MalformedReply(`malformed HTTP reply from netloomd: ${what}`);

/** 1 to 12 hex digits (no regular expression: the CLI pays for a regex's compilation at first use). */
function isHex(s: string): boolean {
  if (!s || s.length > 12) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const lower = c | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x66))) return false;
  }
  return true;
}

/** Decodes a chunked body from `buf` at `at`; undefined while the last (empty) chunk is missing. */
function dechunk(buf: Buffer, at: number): Buffer | undefined {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return undefined;
    const line = buf.toString('latin1', at, eol);
    const semi = line.indexOf(';');
    const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
    if (!isHex(hex)) throw malformed(`bad chunk size "${line}"`);
    const size = Number.parseInt(hex, 16);
    // The last chunk, then trailers (ignored) up to an empty line.
    if (size === 0) return buf.indexOf('\r\n\r\n', eol, 'latin1') < 0 ? undefined : Buffer.concat(parts);
    const start = eol + 2;
    if (buf.length < start + size + 2) return undefined;
    parts.push(buf.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** The reply in `buf` (everything read so far; `ended` once the server closed), or undefined while
 *  more bytes are needed. Framing: chunked, Content-Length, or up to the close. */
export function parseReply(buf: Buffer, ended: boolean): Reply | undefined {
  const headEnd = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (headEnd < 0) {
    if (ended) throw malformed(buf.length ? 'the connection closed inside the headers' : 'the connection closed without a reply');
    return undefined;
  }
  const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
  const statusLine = lines[0];
  const status = Number(statusLine.slice(9, 12));
  const afterCode = statusLine[12];
  if (!statusLine.startsWith('HTTP/1.') || (afterCode !== undefined && afterCode !== ' ') || !Number.isInteger(status) || status < 100 || status > 999) {
    throw malformed(`bad status line "${statusLine}"`);
  }
  let length: number | undefined;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) throw malformed(`bad header line "${lines[i]}"`);
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    if (name === 'content-length') {
      length = Number(value);
      if (!value || !Number.isSafeInteger(length) || length < 0) throw malformed(`bad Content-Length "${value}"`);
    } else if (name === 'transfer-encoding')
      chunked = value
        .toLowerCase()
        .split(',')
        .some((v) => v.trim() === 'chunked');
  }
  const start = headEnd + 4;
  if (status === 204 || status === 304) return { status, body: '' };
  if (chunked) {
    const body = dechunk(buf, start);
    if (body) return { status, body: body.toString('utf8') };
    if (ended) throw malformed('the connection closed inside a chunked body');
    return undefined;
  }
  if (length !== undefined) {
    if (buf.length >= start + length) return { status, body: buf.toString('utf8', start, start + length) };
    if (ended) throw malformed(`the connection closed after ${buf.length - start} of ${length} body bytes`);
    return undefined;
  }
  return ended ? { status, body: buf.toString('utf8', start) } : undefined;
}

export function call(socket: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (ended: boolean): void => {
      if (done) return;
      try {
        const r = parseReply(buf, ended);
        if (!r) return;
        done = true;
        conn.destroy();
        resolve(r);
      } catch (err) {
        done = true;
        conn.destroy();
        reject(err);
      }
    };
    conn.on('connect', () => conn.write(encodeRequest(method, path, body === undefined ? undefined : JSON.stringify(body))));
    conn.on('data', (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      finish(false);
    });
    conn.on('end', () => finish(true));
    conn.on('error', (err) => {
      if (done) return;
      done = true;
      reject(err);
    });
  });
}

/** Calls the API and returns the parsed JSON body; an error status becomes an ApiError. */
export async function api<T = unknown>(socket: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(socket, method, path, body);
  if (r.status >= 400) {
    let message = r.body;
    let code: string | undefined;
    try {
      const j = JSON.parse(r.body) as { message?: string; code?: string };
      message = j.message ?? r.body;
      code = j.code;
    } catch {
      /* not JSON: print as is */
    }
    throw new ApiError(r.status, message, code);
  }
  return (r.body ? JSON.parse(r.body) : undefined) as T;
}
