// Docker's `filters` query parameter for `GET /networks` and `POST /networks/prune`, parsed and
// matched as a Docker 20.10 engine does (moby api/types/filters, daemon/network/filter.go,
// daemon/prune.go), with Docker's error texts and statuses. Pure: the server passes the networks
// and the clock in.
import { NetloomError, invalid } from '../common/errors.js';
import { goJsonKind, goJsonSyntaxError } from './gojson.js';
import { dockerTimestamp } from './gotime.js';

/** key -> value -> flag, as Docker decodes `{"label":{"a=b":true}}` (map[string]map[string]bool). */
export type Filters = ReadonlyMap<string, ReadonlyMap<string, boolean>>;

export const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;
export const PRUNE_FILTERS = ['label', 'label!', 'until'] as const;

/** Docker answers 500 to what its JSON decoder refuses (20.10 does not mark these as bad input). */
const decodeError = (message: string): NetloomError => new NetloomError('internal', 'NL_BAD_FILTER', message);

/** The modern form {"k":{"v":true}}; a type error names Go's types as Docker's decoder does. */
function modern(v: unknown): Map<string, Map<string, boolean>> | string {
  if (v === null) return new Map();
  if (typeof v !== 'object' || Array.isArray(v)) return `json: cannot unmarshal ${goJsonKind(v)} into Go value of type map[string]map[string]bool`;
  const out = new Map<string, Map<string, boolean>>();
  for (const [k, inner] of Object.entries(v)) {
    if (inner === null) continue;
    if (typeof inner !== 'object' || Array.isArray(inner)) return `json: cannot unmarshal ${goJsonKind(inner)} into Go value of type map[string]bool`;
    const m = new Map<string, boolean>();
    for (const [val, flag] of Object.entries(inner as Record<string, unknown>)) {
      if (flag !== null && typeof flag !== 'boolean') return `json: cannot unmarshal ${goJsonKind(flag)} into Go value of type bool`;
      m.set(val, flag === true);
    }
    out.set(k, m);
  }
  return out;
}

/** The legacy form {"k":["v"]}, which Docker still accepts when the modern one does not decode. */
function legacy(v: unknown): Map<string, Map<string, boolean>> | undefined {
  if (v === null) return new Map();
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out = new Map<string, Map<string, boolean>>();
  for (const [k, list] of Object.entries(v)) {
    if (list === null) continue;
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) return undefined;
    out.set(k, new Map((list as string[]).map((x) => [x, true])));
  }
  return out;
}

/** filters.FromJSON: "" is no filter; bad JSON is a 500 with Go's decoder message. */
export function parseFilters(raw: string | undefined): Filters {
  if (!raw) return new Map();
  const syntax = goJsonSyntaxError(raw);
  if (syntax) throw decodeError(syntax);
  const v: unknown = JSON.parse(raw);
  const m = modern(v);
  if (typeof m !== 'string') return m;
  const l = legacy(v);
  if (l) return l;
  throw decodeError(m);
}

/** filters.Validate: an unknown key is a 400 `Invalid filter 'lable'`. */
export function validateFilters(f: Filters, accepted: readonly string[]): void {
  for (const k of f.keys()) {
    if (!accepted.includes(k)) throw invalid('NL_BAD_FILTER', `Invalid filter '${k}'`);
  }
}

export const values = (f: Filters, key: string): string[] => [...(f.get(key)?.keys() ?? [])];

/** Args.ExactMatch: no filter matches all; otherwise the value's own flag decides. */
export function exactMatch(f: Filters, key: string, source: string): boolean {
  const vals = f.get(key);
  if (!vals || !vals.size) return true;
  return vals.get(source) === true;
}

/** Go regexp (RE2) syntax as far as JavaScript shares it; leading (?i)/(?s)/(?m) become flags. A
 *  pattern JavaScript cannot compile matches nothing, as an invalid one does in Docker. */
function goRegex(pattern: string): RegExp | undefined {
  let p = pattern;
  let flags = '';
  const lead = /^\(\?([ims]+)\)/.exec(p);
  if (lead) {
    flags = [...new Set(lead[1])].join('');
    p = p.slice(lead[0].length);
  }
  // RE2 has no lookaround or backreferences: Docker would refuse them, so must we.
  if (/\(\?<?[=!]|\\[1-9]/.test(p)) return undefined;
  try {
    return new RegExp(p, flags);
  } catch {
    return undefined;
  }
}

/** Args.Match: exact, or an unanchored regular expression (for name and id alike). */
function match(f: Filters, key: string, source: string): boolean {
  if (exactMatch(f, key, source)) return true;
  return values(f, key).some((v) => goRegex(v)?.test(source) ?? false);
}

/** Args.MatchKVList: every `k` or `k=v` must be among the labels. */
export function matchKV(f: Filters, key: string, labels: Readonly<Record<string, string>>): boolean {
  const want = values(f, key);
  if (!want.length) return true;
  if (!Object.keys(labels).length) return false;
  return want.every((w) => {
    const i = w.indexOf('=');
    const k = i < 0 ? w : w.slice(0, i);
    if (!Object.hasOwn(labels, k)) return false;
    return i < 0 || labels[k] === w.slice(i + 1);
  });
}

/** What the list filters look at, for one network. */
export interface FilterableNetwork {
  readonly name: string;
  readonly id: string;
  readonly driver: string;
  readonly scope: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Docker's builtin networks: bridge, host, none. */
  readonly predefined: boolean;
  /** Whether containers (sandboxes) are connected. */
  readonly inUse: boolean;
}

function dangling(f: Filters): boolean | undefined {
  const vals = values(f, 'dangling');
  if (!vals.length) return undefined;
  if (vals.length > 1) throw invalid('NL_BAD_FILTER', 'got more than one value for filter key "dangling"');
  if (vals[0] === '1' || vals[0] === 'true') return true;
  if (vals[0] === '0' || vals[0] === 'false') return false;
  throw invalid('NL_BAD_FILTER', 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")');
}

/** `GET /networks?filters=`: the networks Docker would list, in the order given. */
export function filterNetworks<T extends FilterableNetwork>(nets: readonly T[], f: Filters): T[] {
  validateFilters(f, LIST_FILTERS);
  let out = nets.filter(
    (n) =>
      (!f.has('driver') || exactMatch(f, 'driver', n.driver)) &&
      (!f.has('name') || match(f, 'name', n.name)) &&
      (!f.has('id') || match(f, 'id', n.id)) &&
      (!f.has('label') || matchKV(f, 'label', n.labels)) &&
      (!f.has('scope') || exactMatch(f, 'scope', n.scope)),
  );
  const only = dangling(f);
  if (only !== undefined) out = out.filter((n) => (only ? !n.predefined && !n.inUse : n.predefined || n.inUse));
  if (f.has('type')) {
    const types = values(f, 'type');
    for (const t of types) {
      // Docker 20.10 reports this one as a server error (500).
      if (t !== 'custom' && t !== 'builtin') throw new NetloomError('internal', 'NL_BAD_FILTER', `invalid filter: 'type'='${t}'`);
    }
    // Docker appends the matches of each type value in turn.
    out = types.flatMap((t) => out.filter((n) => (t === 'builtin') === n.predefined));
  }
  return out;
}

/** What prune decides on: the rest (predefined, in use, config-only) the controller checks. */
export interface PrunableNetwork {
  readonly labels: Readonly<Record<string, string>>;
  /** RFC 3339 creation time. */
  readonly created: string;
}

export interface PruneClock {
  readonly nowMs: number;
  /** The daemon's UTC offset in minutes, east positive (for `until` values without a zone). */
  readonly zoneOffsetMin: number;
}

/**
 * `POST /networks/prune?filters=`: checks every filter first (so a bad one deletes nothing) and
 * returns the predicate that says which unused networks Docker would delete.
 */
export function pruneSelector(f: Filters, clock: PruneClock): (n: PrunableNetwork) => boolean {
  validateFilters(f, PRUNE_FILTERS);
  let untilMs: number | undefined;
  const until = values(f, 'until');
  if (until.length > 1) throw new NetloomError('internal', 'NL_BAD_FILTER', 'more than one until filter specified');
  if (until.length) {
    try {
      untilMs = dockerTimestamp(until[0], clock.nowMs, clock.zoneOffsetMin);
    } catch (err) {
      throw new NetloomError('internal', 'NL_BAD_FILTER', (err as Error).message);
    }
  }
  return (n) => {
    // Docker keeps a network created after `until`. Our times have millisecond precision and
    // Docker's nanosecond: a network is deleted only if it was certainly created at or before.
    if (untilMs !== undefined && !(Date.parse(n.created) + 1 <= untilMs)) return false;
    if (!matchKV(f, 'label', n.labels)) return false;
    // label!: kept when it carries every label! given (Docker's MatchKVList over label!).
    if (f.has('label!') && matchKV(f, 'label!', n.labels)) return false;
    return true;
  };
}
