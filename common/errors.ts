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
export const unavailable = (code: string, message: string): NetloomError => new NetloomError('unavailable', code, message);

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

/** What a system call (netlink, a namespace, iptables, a program, a file) was doing when it
 *  failed. Made only by system/ (and system/fake/, which makes the same ones); callers test
 *  `errno` instead of reading the message, and add their own context with `wrap`, which keeps
 *  this error as the cause. Not a NetloomError: to the API it stays an internal failure. */
export interface SystemErrorInit {
  /** The operation, as a verb phrase: 'create veth', 'delete link', 'add address', 'run'. */
  readonly step: string;
  /** What it was done to, with where: 'nlv0a1b2c3d4e in netns web', 'iptables -w -t nat -N X'. */
  readonly object: string;
  /** Symbolic errno ('EEXIST', 'ENOENT', 'EBUSY', ...); '' when the failure carries none. */
  readonly errno?: string;
  /** A program's exit code (-1: it did not start, or a signal or the timeout ended it). */
  readonly exitCode?: number;
  /** The message, when not `${step} ${object}: ${errno}` (a program's own error line). */
  readonly message?: string;
  readonly cause?: unknown;
}

export class SystemError extends Error {
  readonly step: string;
  readonly object: string;
  readonly errno: string;
  readonly exitCode?: number;
  constructor(init: SystemErrorInit) {
    super(init.message ?? `${init.step} ${init.object}: ${init.errno || 'failed'}`, init.cause === undefined ? undefined : { cause: init.cause });
    // 'Error', as when system failures were plain Errors: String(err) reaches API output (the
    // firewall guard's lastError in doctor) and must read as before. Tell it apart by instanceof.
    this.name = 'Error';
    this.step = init.step;
    this.object = init.object;
    this.errno = init.errno ?? '';
    if (init.exitCode !== undefined) this.exitCode = init.exitCode;
  }
}

/** The errno of a failure: of the first SystemError (or Node system error) along its cause chain;
 *  '' when none says. What callers test instead of matching messages. */
export function errnoOf(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof SystemError && e.errno) return e.errno;
    const code = (e as NodeJS.ErrnoException).code;
    if (!(e instanceof NetloomError) && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return '';
}

/** The first SystemError along the cause chain (what failed, where), if any. */
export function systemCause(err: unknown): SystemError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) if (e instanceof SystemError) return e;
  return undefined;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Several failures of one cleanup, in the order they happened (AggregateError: `errors`). The
 *  message is theirs joined with '; ', as the rollback reported before it kept them apart. */
export class ErrorList extends AggregateError {
  constructor(errors: readonly unknown[]) {
    super(errors, errors.map(messageOf).join('; '));
    this.name = 'Error'; // String(err) as before (see SystemError)
  }
}

/** Runs every step even when some fail (a teardown, a rollback); the failures, or undefined. */
export async function attemptAll(steps: readonly (() => Promise<unknown>)[]): Promise<ErrorList | undefined> {
  const errors: unknown[] = [];
  for (const s of steps) {
    try {
      await s();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors.length ? new ErrorList(errors) : undefined;
}

/** Waits for every one of steps already under way (none is left running behind a failure); then
 *  throws the first failure, in the order given. */
export async function allDone(steps: readonly Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/** One failure as plain log fields: its message, errno, step and object (of the SystemError
 *  underneath), and the messages of its causes. */
export function errorFields(err: unknown): { err: string; errno?: string; step?: string; object?: string; causes?: string[] } {
  const sys = systemCause(err);
  const causes: string[] = [];
  for (let e = err instanceof Error ? err.cause : undefined, depth = 0; e !== undefined && depth < 16; depth++) {
    causes.push(messageOf(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return {
    err: messageOf(err),
    ...(errnoOf(err) ? { errno: errnoOf(err) } : {}),
    ...(sys ? { step: sys.step, object: sys.object } : {}),
    ...(causes.length ? { causes } : {}),
  };
}

/** Logs each failure of a cleanup that is not rethrown (a rollback under an error already on its
 *  way up), one line each with its cause, so none is silently lost. */
export function logFailures(log: { warn(obj: object, msg: string): void }, err: unknown, what: string): void {
  const list = err instanceof AggregateError ? err.errors : [err];
  for (const e of list) log.warn(errorFields(e), what);
}

/** Undoes after a failure that is on its way up: runs every step, logs each that fails (with its
 *  cause) under `what`, and never throws, so the original error is the one the caller reports. */
export async function rollback(log: { warn(obj: object, msg: string): void }, what: string, steps: readonly (() => Promise<unknown>)[]): Promise<void> {
  const failed = await attemptAll(steps);
  if (failed) logFailures(log, failed, what);
}

/** A command line the CLI cannot read (an unknown command or flag, a missing argument): exit 2.
 *  Here, beside the error codes, because the CLI's start and its lazily loaded handlers share it. */
export class UsageError extends Error {}
