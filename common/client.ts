// A client of netloomd's API over its unix socket (the CLI's and the lab's only way to act).
import { request as httpRequest } from 'node:http';

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

export function call(socket: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      {
        socketPath: socket,
        method,
        path,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
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
