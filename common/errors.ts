// One error class for the whole project. `kind` decides the HTTP status, the CLI exit code and
// (later) the plugin's {"Err": ...} reply; `code` is stable and listed in the README.

// forbidden: the request is understood and well-formed, but not permitted on this object (a
// predefined network, a network in use, a second connect, an overlapping subnet): Docker's 403.
export type ErrorKind = 'invalid' | 'notFound' | 'conflict' | 'forbidden' | 'unavailable' | 'internal';

export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  notFound: 404,
  conflict: 409,
  forbidden: 403,
  unavailable: 503,
  internal: 500,
};

export class NetloomError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetloomError';
    this.kind = kind;
    this.code = code;
  }
  get status(): number {
    return HTTP_STATUS[this.kind];
  }
  toJSON(): { code: string; kind: ErrorKind; message: string } {
    return { code: this.code, kind: this.kind, message: this.message };
  }
}

export const invalid = (code: string, message: string): NetloomError => new NetloomError('invalid', code, message);
export const notFound = (code: string, message: string): NetloomError => new NetloomError('notFound', code, message);
export const conflict = (code: string, message: string): NetloomError => new NetloomError('conflict', code, message);
export const forbidden = (code: string, message: string): NetloomError => new NetloomError('forbidden', code, message);
export const unavailable = (code: string, message: string): NetloomError =>
  new NetloomError('unavailable', code, message);

/** Adds what the caller was doing to an error, keeping its code and kind: `connect "web" to "front": ...`. */
export function wrap(err: unknown, doing: string): NetloomError {
  if (err instanceof NetloomError) return new NetloomError(err.kind, err.code, `${doing}: ${err.message}`, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new NetloomError('internal', 'NL_SYSTEM', `${doing}: ${msg}`, { cause: err });
}

export function isNetloomError(err: unknown): err is NetloomError {
  return err instanceof NetloomError;
}

/** etcd refused a write under a lease it no longer has (it expired while this host was slow or
 *  away): the cluster registers again under a new lease and retries. */
export const isLeaseLost = (err: unknown): boolean => isNetloomError(err) && err.code === 'NL_CLUSTER_LEASE_LOST';

/** A command line the CLI cannot read (an unknown command or flag, a missing argument): exit 2.
 *  Here, beside the error codes, because the CLI's start and its lazily loaded handlers share it. */
export class UsageError extends Error {}
