// What the embedded DNS does with one question, and why in one sentence (`netloom dns explain`).
// Pure apart from the rotation counter in Records. The rules, in order:
//   unknown client -> refuse; class not IN/ANY -> REFUSED;
//   a name (or reverse name) of an endpoint on a network the client shares -> its records, or NODATA;
//   an unknown single-label name, or one under a shared network's name -> NXDOMAIN, never upstream;
//   anything else -> upstream (endpoint --dns, else network --dns, else the host's resolv.conf),
//   except that a query arriving on an internal network is REFUSED and no upstream at all is SERVFAIL.
// Names visible on the network the query arrived on win over other shared networks, so the address
// a client gets is one on the network it asked through.

import type { ClientView, Records } from './records.js';
import { QCLASS_IN, QTYPE, RCODE, type Answer, type Decision, type DnsEndpoint, type Question } from './types.js';
import { ipFromPtrName } from './wire.js';

export interface DnsClient {
  readonly ip: string; // the query's source address
  readonly via: string; // id of the network whose gateway received it
}

export interface DecideOptions {
  readonly defaultUpstreams: readonly string[]; // the host's resolv.conf nameservers
  readonly ttl: number;
}

const QCLASS_ANY = 255;
const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(QTYPE).map(([k, v]) => [v, k]));

interface Ctx {
  readonly records: Records;
  readonly view: ClientView;
  readonly via: DnsEndpoint; // the client's endpoint on the network the query arrived on
  readonly q: Question;
  readonly name: string; // q.name in lower case
  readonly opts: DecideOptions;
}

const answer = (rcode: number, answers: readonly Answer[], why: string): Decision => ({ kind: 'answer', rcode, answers, why });
const quoted = (xs: readonly string[]): string => [...new Set(xs)].map((x) => `"${x}"`).join(', ');
const networksOf = (eps: readonly DnsEndpoint[]): string => {
  const names = new Set(eps.map((e) => e.network));
  return `network${names.size > 1 ? 's' : ''} ${quoted([...names])}`;
};
const typeName = (t: number): string => TYPE_NAMES[t] ?? `TYPE${t}`;

/** respond() calls this for every decoded query; `netloom dns explain` calls it to print `why`. */
export function decide(records: Records, client: DnsClient, q: Question, opts: DecideOptions): Decision {
  const view = records.client(client.ip, client.via);
  const via = view?.endpoints.find((e) => e.networkId === client.via);
  if (!view || !via) return { kind: 'refuse', why: `${client.ip} is no sandbox's address on the network that received the query` };
  if (q.qclass !== QCLASS_IN && q.qclass !== QCLASS_ANY) {
    return answer(RCODE.REFUSED, [], `class ${q.qclass} is not IN: netloom answers and forwards only Internet-class queries`);
  }
  const ctx: Ctx = { records, view, via, q, name: q.name.toLowerCase(), opts };
  const ip = ctx.name.endsWith('.arpa') ? ipFromPtrName(ctx.name) : undefined;
  return ip === undefined ? decideName(ctx) : decideReverse(ctx, ip);
}

/** The matches on the network the query arrived on when there are any, else all (on other shared networks). */
function preferVia(ctx: Ctx, eps: readonly DnsEndpoint[]): readonly DnsEndpoint[] {
  if (eps.length < 2) return eps;
  const onVia = eps.filter((e) => e.networkId === ctx.via.networkId);
  return onVia.length > 0 ? onVia : eps;
}

function decideName(ctx: Ctx): Decision {
  const found = ctx.records.lookup(ctx.name, ctx.view.networks);
  if (found.length > 0) return answerName(ctx, preferVia(ctx, found));
  const { name, view } = ctx;
  const underNetwork = view.endpoints.find((e) => name.endsWith(`.${e.network.toLowerCase()}`));
  if (underNetwork) {
    return answer(RCODE.NXDOMAIN, [], `${ctx.q.name} is under network "${underNetwork.network}" but no sandbox there has that name`);
  }
  const elsewhere = ctx.records.lookup(name);
  if (name !== '' && !name.includes('.')) {
    const why =
      elsewhere.length > 0
        ? `"${ctx.q.name}" exists only on ${networksOf(elsewhere)}, which ${view.sandbox} does not share`
        : `${ctx.q.name} is a single-label name and no sandbox or alias on ${view.sandbox}'s ${networksOf(view.endpoints)} has it`;
    return answer(RCODE.NXDOMAIN, [], why);
  }
  const note = elsewhere.length > 0 ? ` on ${view.sandbox}'s networks (it exists only on ${networksOf(elsewhere)})` : '';
  return forward(ctx, `${ctx.q.name} is not a netloom name${note}`);
}

function isSandboxName(ep: DnsEndpoint, name: string): boolean {
  const s = ep.sandbox.toLowerCase();
  return name === s || name === `${s}.${ep.network.toLowerCase()}`;
}

/** Whom the name belongs to: `web is sandbox "web" on network "front", which api shares`. */
function describe(ctx: Ctx, eps: readonly DnsEndpoint[]): string {
  const { q, name, view } = ctx;
  const [ep] = eps as [DnsEndpoint];
  if (eps.length === 1 && isSandboxName(ep, name)) {
    return `${q.name} is sandbox "${ep.sandbox}" on network "${ep.network}", which ${view.sandbox} shares`;
  }
  if (eps.every((e) => !isSandboxName(e, name))) {
    const sandboxes = `sandbox${eps.length > 1 ? 'es' : ''} ${quoted(eps.map((e) => e.sandbox))}`;
    return `"${q.name}" is an alias of ${sandboxes} on ${networksOf(eps)}${eps.length > 1 ? ', in rotating order' : ''}`;
  }
  const who = eps.map((e) => (isSandboxName(e, name) ? `sandbox "${e.sandbox}"` : `an alias of sandbox "${e.sandbox}"`));
  return `"${q.name}" names ${eps.length} endpoints on ${networksOf(eps)}: ${who.join(', ')}, in rotating order`;
}

function answerName(ctx: Ctx, eps: readonly DnsEndpoint[]): Decision {
  const { q, opts } = ctx;
  const a = q.type === QTYPE.A || q.type === QTYPE.ANY;
  const aaaa = q.type === QTYPE.AAAA || q.type === QTYPE.ANY;
  const answers: Answer[] = [];
  // Keyed by type too: resolvers ask A and AAAA in pairs, and one shared counter would hand every
  // A query the same starting place.
  for (const ep of ctx.records.rotate(`${q.type}/${ctx.name}`, eps)) {
    if (a && ep.ipv4 !== undefined) answers.push({ name: q.name, ttl: opts.ttl, data: { type: QTYPE.A, address: ep.ipv4 } });
    if (aaaa && ep.ipv6 !== undefined) answers.push({ name: q.name, ttl: opts.ttl, data: { type: QTYPE.AAAA, address: ep.ipv6 } });
  }
  const why = describe(ctx, eps);
  if (answers.length > 0) return answer(RCODE.NOERROR, answers, why);
  const lacks = a || aaaa ? `no ${a && aaaa ? '' : a ? 'IPv4 ' : 'IPv6 '}address` : `no ${typeName(q.type)} record`;
  return answer(RCODE.NOERROR, [], `${why}; it has ${lacks}, so the answer is empty (NODATA)`);
}

function decideReverse(ctx: Ctx, ip: string): Decision {
  const { q, view, opts } = ctx;
  const all = ctx.records.ptr(ip);
  const shared = preferVia(
    ctx,
    all.filter((e) => view.networks.has(e.networkId)),
  );
  if (shared.length > 0) {
    const names = shared.map((e) => `${e.sandbox}.${e.network}`);
    const owners = shared.map((e) => `sandbox "${e.sandbox}" on network "${e.network}"`).join(' and ');
    const who = `${ip} is ${owners}, which ${view.sandbox} shares`;
    if (q.type !== QTYPE.PTR && q.type !== QTYPE.ANY) {
      return answer(RCODE.NOERROR, [], `${who}; a reverse name has only PTR records, so the answer is empty (NODATA)`);
    }
    const answers = names.map((target): Answer => ({ name: q.name, ttl: opts.ttl, data: { type: QTYPE.PTR, target } }));
    return answer(RCODE.NOERROR, answers, `${who}: answered ${names.join(', ')}`);
  }
  if (all.length > 0) {
    const owners = all.map((e) => `sandbox "${e.sandbox}" on network "${e.network}"`).join(' and ');
    return answer(RCODE.NXDOMAIN, [], `${ip} belongs to ${owners}, which ${view.sandbox} does not share`);
  }
  return forward(ctx, `${ip} is no netloom endpoint's address`);
}

/** Upstream choice: the endpoint's --dns, else its network's --dns, else the host's resolv.conf. */
function forward(ctx: Ctx, subject: string): Decision {
  const { via, view, opts } = ctx;
  if (via.internal) {
    return answer(RCODE.REFUSED, [], `${subject}, and network "${via.network}" is internal, so nothing is forwarded from it`);
  }
  const [upstreams, source] =
    via.dns && via.dns.length > 0
      ? [via.dns, `--dns of ${view.sandbox}'s endpoint on network "${via.network}"`]
      : via.networkDns && via.networkDns.length > 0
        ? [via.networkDns, `--dns of network "${via.network}"`]
        : [opts.defaultUpstreams, `the host's resolv.conf`];
  if (upstreams.length === 0) {
    const none = `no --dns on network "${via.network}" or ${view.sandbox}'s endpoint there, and the host's resolv.conf lists no nameserver`;
    return answer(RCODE.SERVFAIL, [], `${subject}, and there is no upstream: ${none}`);
  }
  return { kind: 'forward', upstreams, why: `${subject}: forwarded to ${upstreams.join(', ')} (${source})` };
}
