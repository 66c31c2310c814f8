// GET /events: Docker's event stream, for the network events netloom makes (create, connect,
// disconnect, destroy), in the shape a Docker 20.10 engine sends (moby api/types/events Message,
// daemon/events/filter.go). The hub keeps the last events for `since` and fans new ones out to
// the open streams. Matching is pure.
import { invalid } from '../common/errors.js';
import { type Filters, matchKV, values, exactMatch, validateFilters } from './filters.js';

export type NetworkAction = 'create' | 'connect' | 'disconnect' | 'destroy';

/** One event as Docker encodes it (Type, Action, Actor, scope, time, timeNano). */
export interface EventMessage {
  readonly Type: 'network';
  readonly Action: NetworkAction;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  readonly scope: 'local' | 'global';
  readonly time: number;
  readonly timeNano: number;
}

/** Docker's events filter keys (daemon/events/filter.go); anything else is `Invalid filter`. */
export const EVENT_FILTERS = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
];

/** Args.FuzzyMatch: no filter matches all; else exact or prefix. */
function fuzzy(f: Filters, key: string, source: string): boolean {
  if (!f.has(key) || exactMatch(f, key, source)) return true;
  return values(f, key).some((v) => source.startsWith(v));
}

/** Filter.Include, for network events: each object filter matches the actor's id or name (Docker
 *  applies them whatever the event type); image and daemon filters never match a network event. */
export function eventMatches(f: Filters, ev: EventMessage): boolean {
  const byName = (key: string): boolean => fuzzy(f, key, ev.Actor.ID) || fuzzy(f, key, ev.Actor.Attributes.name ?? '');
  return (
    exactMatch(f, 'event', ev.Action) &&
    exactMatch(f, 'type', ev.Type) &&
    exactMatch(f, 'scope', ev.scope) &&
    !f.has('image') &&
    !f.has('daemon') &&
    ['config', 'container', 'network', 'node', 'plugin', 'secret', 'service', 'volume'].every(byName) &&
    matchKV(f, 'label', ev.Actor.Attributes)
  );
}

export function checkEventFilters(f: Filters): void {
  validateFilters(f, EVENT_FILTERS);
}

/** The last events (for `since`) and the open streams. */
export class EventHub {
  private readonly recent: EventMessage[] = [];
  private readonly streams = new Set<(ev: EventMessage) => void>();

  constructor(private readonly keep = 256) {}

  publish(action: NetworkAction, net: { id: string; name: string; driver: string; scope: 'local' | 'global' }, container?: string): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const ev: EventMessage = {
      Type: 'network',
      Action: action,
      Actor: { ID: net.id, Attributes: { ...(container ? { container } : {}), name: net.name, type: net.driver } },
      scope: net.scope,
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const s of this.streams) s(ev);
  }

  /** Events at or after `sinceNs` that the hub still has, oldest first. */
  since(sinceNs: number): EventMessage[] {
    return this.recent.filter((e) => e.timeNano >= sinceNs);
  }

  get listeners(): number {
    return this.streams.size;
  }

  subscribe(fn: (ev: EventMessage) => void): () => void {
    this.streams.add(fn);
    return () => this.streams.delete(fn);
  }
}

export const badEventTime = (what: string, v: string, err: unknown): Error => invalid('NL_BAD_FILTER', `invalid ${what} "${v}": ${(err as Error).message}`);
