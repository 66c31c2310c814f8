// A reach block's truth table: every source node probes every address of every target at once.
// ICMP goes through netloom's own prober (system/icmp-probe.ts: a raw socket per source namespace,
// every echo of a wave at once, one deadline), or without it one fping per source (`ip netns exec`,
// the plain-ping loop when fping is missing); TCP/UDP through the lab's own responder client run
// in each source. Before probing, the neighbour entries the probe will make inside the lab's nodes
// are seeded (exempt from the machine-wide gc_thresh3; resolved by ARP as usual), so a big lab needs
// one wave instead of several (lab/waves.ts); they are removed after.
import { existsSync } from 'node:fs';
import { explainReach } from './explain.js';
import { targetAddresses, type Facts } from './facts.js';
import { nsOwner, type Lab, type ReachSpec } from './model.js';
import { pool } from './pool.js';
import { inNode, type Programs } from './runtime.js';
import { expectedPairs, type Cell } from './truth.js';
import { DEFAULT_GC_THRESH3, entriesOf, nextWave, seedable, waveBudget, waveOrder, type WaveSource } from './waves.js';
import { echoFrom, icmpProberAvailable } from '../system/icmp-probe.js';
import { arpTableUse, flushLearntNeighbours, seedNeighbours, unseedNeighbours, type SeededNeighbour } from '../system/neigh-table.js';

/** Namespaces flushed at once. */
const PARALLEL = 12;
/** Reach probe processes at once on the fping path: one per source node. Each waits about a second
 *  for the denied targets, so a wave (about 40 sources at 1024 neighbour entries) should take one
 *  round, not two. */
const SOURCES_AT_ONCE = 48;
/** What every echo gets (fping -t1000, ping -W1). */
const TIMEOUT_MS = 1000;

/** How the reach probe runs; `quietMs` from lab/waves.ts quietAfter (undefined: the whole timeout). */
export interface ReachOptions {
  readonly progs: Programs;
  /** The lab's own host namespaces, where the gateways' neighbour entries are (never the machine's). */
  readonly labNs: readonly string[];
  readonly quietMs?: number;
}

type Outcome = { answered: Set<string> } | { error: string };

export async function reach(lab: Lab, facts: Facts, opts: ReachOptions, r: ReachSpec): Promise<{ probe: string; nodes: readonly string[]; cells: Cell[] }> {
  const pairs = expectedPairs(r);
  // One probe run per source node, to every address of every target at once: a denied pair costs
  // its timeout once per source, not once per pair.
  const sources = [...new Set(pairs.map((p) => p.from))];
  const addrsOf = new Map<string, string[]>(sources.map((s) => [s, []]));
  for (const p of pairs) addrsOf.get(p.from)!.push(...targetAddresses(lab, facts, p.to));
  for (const [s, a] of addrsOf) addrsOf.set(s, [...new Set(a)]);
  const before = await arpTableUse();
  const inProcess = r.probe.kind === 'icmp' && icmpProberAvailable() && !process.env.NETLOOM_LAB_NO_ICMP_SOCKET;
  const probeWave = inProcess
    ? (wave: readonly string[]) => echoWave(lab, facts, pairs, wave, opts.quietMs)
    : async (wave: readonly string[]) => {
        const res = await pool(wave, r.probe.kind === 'icmp' && !hasFping() ? 8 : SOURCES_AT_ONCE, (from) =>
          probe(opts.progs, nsOwner(lab, from).sandbox, r, addrsOf.get(from) ?? []).then(
            (a): Outcome => ({ answered: new Set(a) }),
            (err: unknown): Outcome => ({ error: err instanceof Error ? err.message : String(err) }),
          ),
        );
        return new Map(wave.map((s, i) => [s, res[i]]));
      };
  const runs = await inWaves(lab, facts, opts.labNs, sources, addrsOf, probeWave);
  const after = await arpTableUse();
  // Packets the kernel dropped for want of a neighbour entry: said beside every pair that should
  // have answered and did not (it is the machine's table, so other namespaces may have filled it).
  const overflows = before && after ? after.overflows - before.overflows : 0;
  const full =
    overflows > 0
      ? `; the kernel's neighbour table (one for every namespace, limit ${after!.limit}, net.ipv4.neigh.default.gc_thresh3) overflowed ${overflows} time(s) during the probe`
      : '';
  const cells = pairs.map((p): Cell => {
    const tried = targetAddresses(lab, facts, p.to);
    const got = runs.get(p.from);
    if (!got || !('answered' in got)) return { ...p, answered: [], tried, error: got?.error ?? 'not probed' };
    const answered = tried.filter((a) => got.answered.has(a));
    const actual = answered.length > 0;
    const why = actual === p.expected ? undefined : explainReach(lab, facts, r.probe, p.from, p.to, actual, tried) + (p.expected ? full : '');
    return { ...p, actual, answered, tried, ...(why ? { why } : {}) };
  });
  return { probe: r.probeText, nodes: r.nodes, cells };
}

/** One wave through the in-process prober: an echo per (pair, address) of the wave's sources, the
 *  addresses of a pair expected reached forming one group (any of them answering will do). */
async function echoWave(
  lab: Lab,
  facts: Facts,
  pairs: readonly { from: string; to: string; expected: boolean }[],
  wave: readonly string[],
  quietMs: number | undefined,
): Promise<Map<string, Outcome>> {
  const inWave = new Set(wave);
  const targets = new Map<string, { address: string; group: number }[]>(wave.map((s) => [s, []]));
  pairs.forEach((p, i) => {
    if (!inWave.has(p.from)) return;
    for (const address of targetAddresses(lab, facts, p.to)) targets.get(p.from)!.push({ address, group: p.expected ? i + 1 : 0 });
  });
  try {
    const res = await echoFrom(
      wave.map((s) => ({ ns: { kind: 'named', name: nsOwner(lab, s).sandbox }, targets: targets.get(s)! })),
      { timeoutMs: TIMEOUT_MS, ...(quietMs !== undefined ? { graceMs: quietMs } : {}) },
    );
    return new Map(wave.map((s, i): [string, Outcome] => [s, 'rtt' in res[i] ? { answered: new Set(res[i].rtt.keys()) } : { error: res[i].error }]));
  } catch (err) {
    // The whole wave failed (the prober itself): each of its cells says why, as an fping failure would.
    const error = `icmp probe failed: ${err instanceof Error ? err.message : String(err)}`;
    return new Map(wave.map((s): [string, Outcome] => [s, { error }]));
  }
}

/** Runs `probeWave` for every source in waves whose neighbour entries fit what the machine's table
 *  has free (lab/waves.ts), after seeding what can be seeded, flushing the learnt neighbours of the
 *  wave's namespaces and of `labNs` after each wave but a single one, and removing the seeds. */
async function inWaves<R>(
  lab: Lab,
  facts: Facts,
  labNs: readonly string[],
  sources: readonly string[],
  addrsOf: ReadonlyMap<string, readonly string[]>,
  probeWave: (wave: readonly string[]) => Promise<Map<string, R>>,
): Promise<Map<string, R>> {
  const nsOf = new Map<string, string>();
  for (const n of lab.nodes) for (const i of facts.nodes[n.key]?.ifaces ?? []) nsOf.set(i.address.split('/')[0], nsOwner(lab, n.key).sandbox);
  let remaining = waveOrder(
    sources.map((key): WaveSource => ({
      key,
      ns: nsOwner(lab, key).sandbox,
      ifaces: (facts.nodes[key]?.ifaces ?? []).map((i) => ({ address: i.address, gateway: facts.networks[i.network]?.gateway })),
      targets: (addrsOf.get(key) ?? []).map((address) => ({ address, ns: nsOf.get(address) })),
    })),
  );
  // A host-mode node's namespace is the lab host's (the machine's, with --host): never seeded.
  const hostNs = new Set(lab.nodes.filter((n) => n.mode.kind === 'host').map((n) => n.sandbox));
  const seeds = seed(remaining, hostNs);
  try {
    const out = new Map<string, R>();
    let first = true;
    while (remaining.length) {
      // Inside a namespace other than the machine's, /proc does not show the table: the kernel's
      // default limit is assumed, with nothing else in it. The seeds count in `entries` but not
      // against the limit.
      const use = (await arpTableUse()) ?? { limit: DEFAULT_GC_THRESH3, entries: 0 };
      const take = nextWave(remaining, waveBudget(use.limit, Math.max(0, use.entries - seeds.count)), seeds.keys);
      const wave = remaining.slice(0, take);
      const single = first && take === remaining.length;
      first = false;
      remaining = remaining.slice(take);
      for (const [k, v] of await probeWave(wave.map((s) => s.key))) out.set(k, v);
      if (single) break;
      // Free the wave's entries for the next wave (and, after the last, for the rest of the machine).
      const touched = [...new Set(wave.flatMap((s) => entriesOf(s).map((e) => e.split('|')[0])))].filter((ns) => !ns.startsWith('@'));
      await pool([...touched, ...labNs], PARALLEL, (ns) => flushLearntNeighbours({ kind: 'named', name: ns }));
    }
    return out;
  } finally {
    for (const [ns, made] of seeds.made) unseedNeighbours({ kind: 'named', name: ns }, made);
  }
}

/** Seeds every entry the sources' probes will make inside the lab's nodes (NETLOOM_LAB_NO_SEED=1:
 *  none, as before the seeds, so the waves alone keep the table within its limit). A namespace
 *  where seeding fails is left to the waves. */
function seed(sources: readonly WaveSource[], skip: ReadonlySet<string>): { keys: Set<string>; count: number; made: Map<string, SeededNeighbour[]> } {
  const byNs = new Map<string, Set<string>>();
  if (!process.env.NETLOOM_LAB_NO_SEED) {
    for (const e of seedable(sources.flatMap(entriesOf))) {
      const [ns, address] = e.split('|');
      if (skip.has(ns)) continue;
      if (!byNs.has(ns)) byNs.set(ns, new Set());
      byNs.get(ns)!.add(address);
    }
  }
  const made = new Map<string, SeededNeighbour[]>();
  for (const [ns, addrs] of byNs) {
    try {
      const m = seedNeighbours({ kind: 'named', name: ns }, [...addrs]);
      if (m.length) made.set(ns, m);
    } catch {
      // A namespace that cannot be entered is left to the waves (and its probe reports why).
    }
  }
  const keys = new Set([...made].flatMap(([ns, m]) => m.map((e) => `${ns}|${e.address}`)));
  return { keys, count: keys.size, made };
}

/** NETLOOM_LAB_NO_FPING=1 forces the plain-ping path (the tests run both). */
const hasFping = (): boolean => !process.env.NETLOOM_LAB_NO_FPING && existsSync('/usr/bin/fping');

/** The addresses that answered, probed in parallel from inside one node (fping or ping -c1 -W1, or
 *  the lab's own TCP/UDP prober with a 1 s timeout). */
async function probe(progs: Programs, from: string, r: ReachSpec, addrs: readonly string[]): Promise<string[]> {
  if (!addrs.length) return [];
  if (r.probe.kind === 'icmp') {
    // fping sends one echo to every address from one process (-r0: no retry, -t1000: 1 s); without
    // it, one ping -c1 -W1 per address, all at once.
    const fping = hasFping();
    const argv = fping
      ? ['fping', '-a', '-q', '-r0', `-t${TIMEOUT_MS}`, '-i1', ...addrs]
      : ['sh', '-c', 'for a in "$@"; do (ping -n -q -c1 -W1 "$a" >/dev/null 2>&1 && echo "$a") & done; wait', 'ping-all', ...addrs];
    const res = await inNode(from, argv, 10_000);
    // fping exits 1 when some address did not answer: an outcome, not a failure.
    if (res.exitCode !== 0 && !(fping && res.exitCode === 1)) {
      throw new Error(`${argv[0]} from ${from} failed: ${(res.stderr || `exit ${res.exitCode}`).trim().split('\n')[0]}`);
    }
    const ok = new Set(
      res.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return addrs.filter((a) => ok.has(a));
  }
  const answers = await ask(progs, (argv) => inNode(from, argv, 5000), r.probe.kind, r.probe.port, addrs);
  return addrs.filter((a) => answers[a]);
}

export type Runner = (argv: readonly string[]) => ReturnType<typeof inNode>;

/** The lab's own TCP/UDP prober (`lab _ask`), run where `where` runs it: address -> what answered. */
export async function ask(progs: Programs, where: Runner, proto: string, port: number, addrs: readonly string[]): Promise<Record<string, string | null>> {
  const r = await where([process.execPath, progs.cliScript, 'lab', '_ask', proto, String(port), ...addrs]);
  if (r.exitCode !== 0) throw new Error(`probe ${proto}/${port} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}
