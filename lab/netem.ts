// Impairments (tc netem), pure: what the file says into the tc commands that apply it, one
// `tc -batch` per namespace. Each direction is one-way: the parameters apply to the packets
// leaving one interface, so `delay: 20ms, direction: both` delays each way by 20 ms and the
// round trip by 40 ms. A parameter not given is absent from the command, never written as 0.
//   point-to-point link {a: "x:p0", b: "y:p0"}: a-to-b is the egress of x's p0, b-to-a of y's p0.
//   attachment nodes.N.networks.NET: a is the node, b the network: a-to-b (node -> network) is the
//   egress of the node's interface on NET (eth0, ...), b-to-a (network -> node) the egress of the
//   host-side veth of that interface, in the lab's host namespace.

export type Direction = 'both' | 'a-to-b' | 'b-to-a';

export interface Netem {
  readonly delay?: string;
  readonly jitter?: string;
  readonly loss?: string;
  readonly rate?: string;
  readonly corrupt?: string;
  readonly duplicate?: string;
  readonly reorder?: string;
  readonly direction: Direction;
}

export const NETEM_PARAMS = ['delay', 'jitter', 'loss', 'rate', 'corrupt', 'duplicate', 'reorder'] as const;
export type NetemParam = (typeof NETEM_PARAMS)[number];

/** Durations as the file writes them (20ms, 1.5s, 300us) into milliseconds. */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}": expected a number with us, ms, s or m (20ms, 1.5s)`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

/** "1%" or "0.1%" into a fraction (0.01, 0.001). */
export function percent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (!m || Number(m[1]) > 100) throw new Error(`invalid percentage "${text}": expected 0% to 100% (1%, 0.1%)`);
  return Number(m[1]) / 100;
}

/** Why a set of parameters cannot be applied as written, or undefined. */
export function netemProblem(n: Partial<Netem>): string | undefined {
  if (n.jitter !== undefined && n.delay === undefined) return 'jitter needs a delay (it varies the delay)';
  if (n.reorder !== undefined && n.delay === undefined) return 'reorder needs a delay (reordered packets are the ones sent without it)';
  if (!NETEM_PARAMS.some((p) => n[p] !== undefined)) return `no impairment given (any of ${NETEM_PARAMS.join(', ')})`;
  return undefined;
}

/** netem's arguments for the parameters given, in tc's order; nothing for what is not given. */
export function netemArgs(n: Partial<Netem>): string[] {
  const a: string[] = [];
  if (n.delay !== undefined) a.push('delay', n.delay, ...(n.jitter !== undefined ? [n.jitter] : []));
  if (n.loss !== undefined) a.push('loss', n.loss);
  if (n.duplicate !== undefined) a.push('duplicate', n.duplicate);
  if (n.corrupt !== undefined) a.push('corrupt', n.corrupt);
  if (n.reorder !== undefined) a.push('reorder', n.reorder);
  if (n.rate !== undefined) a.push('rate', n.rate);
  return a;
}

/** One interface's egress in one namespace (undefined: the lab's host namespace). */
export interface Egress {
  readonly ns?: string;
  readonly dev: string;
}

/** The two egresses of an impaired link: a's side (a-to-b) and b's side (b-to-a). */
export interface NetemSides {
  readonly aToB: Egress;
  readonly bToA: Egress;
}

export const egressesFor = (sides: NetemSides, d: Direction): Egress[] =>
  d === 'both' ? [sides.aToB, sides.bToA] : [d === 'a-to-b' ? sides.aToB : sides.bToA];

/** tc batch lines per namespace key ('' = the lab host): `qdisc replace ... root netem ...`, or
 *  with no parameters `qdisc del ... root` (back to the default qdisc). */
export function tcBatches(items: readonly { sides: NetemSides; netem?: Partial<Netem>; direction?: Direction }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const it of items) {
    const args = it.netem ? netemArgs(it.netem) : [];
    for (const e of egressesFor(it.sides, it.direction ?? it.netem?.direction ?? 'both')) {
      const line = args.length ? `qdisc replace dev ${e.dev} root netem ${args.join(' ')}` : `qdisc del dev ${e.dev} root`;
      const k = e.ns ?? '';
      out.set(k, [...(out.get(k) ?? []), line]);
    }
  }
  return out;
}

/** A change of impairment: the parameters given replace those in force, the rest stay as they
 *  were (a step setting only loss keeps the file's delay); `clear` removes them all. */
export function mergeNetem(current: Partial<Netem> | undefined, change: Partial<Netem>, clear: boolean): Partial<Netem> | undefined {
  if (clear) return undefined;
  const merged: Record<string, string> = {};
  for (const p of [...NETEM_PARAMS, 'direction'] as const) {
    const v = change[p] ?? current?.[p];
    if (v !== undefined) merged[p] = v;
  }
  return merged as Partial<Netem>;
}

export function describeNetem(n: Partial<Netem> | undefined): string {
  if (!n) return 'none';
  const a = netemArgs(n);
  return `${a.join(' ') || 'none'} (${n.direction ?? 'both'})`;
}
