// `netloom lab check`: runs every expectation against the running lab, probes in parallel with
// bounded timeouts, and returns a report. ICMP with `ping -c1 -W1`, TCP/UDP and DNS from inside the
// asking node (`ip netns exec`), DNS only ever against the node's own nameserver inside the lab.
import { existsSync } from 'node:fs';
import { api } from '../cli/client.js';
import { explainPort, explainReach } from './explain.js';
import { labFacts, targetAddresses, type Facts } from './facts.js';
import { lossProbes, lossVerdict, parsePing, pickAddress, RTT_PROBES, rttVerdict } from './measure.js';
import { nsOwner, type LossSpec, type RttSpec, type DnsSpec, type Lab, type PortSpec, type ReachSpec } from './model.js';
import { reachSuite, type CaseResult, type CheckReport, type Suite } from './report.js';
import { inLabHost, inNode, socketFor, type LabState, type Programs } from './runtime.js';
import { expectedPairs, type Cell } from './truth.js';
import { DEFAULT_GC_THRESH3, entriesOf, nextWave, waveBudget, waveOrder, type WaveSource } from './waves.js';
import { arpTableUse, flushLearntNeighbours } from '../system/neigh-table.js';
import { pool } from './pool.js';
import { inHost } from './cluster.js';
import { bindingTargets, type Vantage } from './ports.js';

/** Checks run at once (dig, file reads, commands, port probes). */
const PARALLEL = 12;
/** Reach probe runs at once: one per source node, each a single fping (or a ping per target).
 *  Each waits about a second for the denied targets, so a wave (lab/waves.ts: about 40 sources
 *  at 1024 neighbour entries) should take one round, not two. */
const SOURCES_AT_ONCE = 48;

const enc = encodeURIComponent;

/** `known`: facts read before (a step whose netloomd is down still probes what it made). */
export async function labCheck(lab: Lab, state: LabState, progs: Programs, known?: Facts): Promise<CheckReport> {
  const facts = known ?? (await labFacts(lab, state));
  const suites: Suite[] = [];
  // Where the gateways' neighbour entries are: the lab's own host namespaces (never the machine's).
  const labNs = state.isolated ? (state.hosts ? Object.values(state.hosts).map((h) => h.ns) : state.hostNs ? [state.hostNs] : []) : [];
  for (const r of lab.expect.reach) suites.push(reachSuite(await reach(lab, facts, labNs, progs, r)));
  const block = (kind: Suite['kind'], cases: CaseResult[]): void => void (cases.length && suites.push({ kind, name: kind, cases }));
  block('dns', await pool(lab.expect.dns, PARALLEL, (d) => dns(lab, state, facts, d)));
  block('ports', await pool(lab.expect.ports, PARALLEL, (p) => port(lab, state, facts, progs, p)));
  block(
    'files',
    await pool(lab.expect.files, PARALLEL, async (f): Promise<CaseResult> => {
      const name = `${f.node}:${f.path}${f.contains !== undefined ? ` contains "${f.contains}"` : ''}${f.lacks !== undefined ? ` lacks "${f.lacks}"` : ''}`;
      const r = await inNode(lab.nodes.find((n) => n.key === f.node)!.sandbox, ['cat', f.path]);
      if (r.exitCode !== 0) return { name, status: 'fail', message: `cannot read ${f.path}: ${r.stderr.trim()}`, ...nodes([f.node]) };
      if (f.contains !== undefined && !r.stdout.includes(f.contains))
        return { name, status: 'fail', message: `"${f.contains}" is not in ${f.path}`, ...nodes([f.node]) };
      if (f.lacks !== undefined && r.stdout.includes(f.lacks)) return { name, status: 'fail', message: `"${f.lacks}" is in ${f.path}`, ...nodes([f.node]) };
      return { name, status: 'pass', ...nodes([f.node]) };
    }),
  );
  block(
    'commands',
    await pool(lab.expect.commands, PARALLEL, async (c): Promise<CaseResult> => {
      const name = `${c.node}: ${c.run}`;
      const r = await inNode(lab.nodes.find((n) => n.key === c.node)!.sandbox, ['sh', '-c', c.run]);
      const want = c.exit ?? 0;
      const out = r.stdout.trim();
      const bad =
        r.exitCode !== want
          ? `exited ${r.exitCode}, expected ${want}${r.stderr.trim() ? ` (${r.stderr.trim().split('\n')[0]})` : ''}`
          : c.stdout !== undefined && out !== c.stdout
            ? `printed "${out}", expected "${c.stdout}"`
            : c.contains !== undefined && !out.includes(c.contains)
              ? `output lacks "${c.contains}"`
              : undefined;
      return { name, status: bad ? 'fail' : 'pass', ...(bad ? { message: bad } : {}), ...nodes([c.node]) };
    }),
  );
  block('rtt', await pool(lab.expect.rtt, PARALLEL, (r) => measure(lab, facts, r, 'rtt')));
  block('loss', await pool(lab.expect.loss, PARALLEL, (l) => measure(lab, facts, l, 'loss')));
  return { lab: lab.name, file: lab.file, suites };
}

/** RTT (25 echoes, 50 ms apart: the median) or loss (enough echoes that the allowed maximum is ten
 *  of them, 5 ms apart), with ping from inside the source node. */
async function measure(lab: Lab, facts: Facts, x: RttSpec | LossSpec, kind: 'rtt' | 'loss'): Promise<CaseResult> {
  const rtt = kind === 'rtt' ? (x as RttSpec) : undefined;
  const loss = kind === 'loss' ? (x as LossSpec) : undefined;
  const name = `${x.from} -> ${x.to} ${rtt ? `p50 ${rtt.p50} ±${rtt.tolerance}` : `max ${loss!.max}`}`;
  const mine = (facts.nodes[x.from]?.ifaces ?? []).map((i) => i.address);
  const addr = /^(\d{1,3}\.){3}\d{1,3}$/.test(x.to)
    ? x.to
    : pickAddress(
        mine,
        (facts.nodes[x.to]?.ifaces ?? []).map((i) => i.address),
      );
  if (!addr) return { name, status: 'error', message: `node ${x.to} has no address to probe`, ...nodes([x.from]) };
  const count = rtt ? RTT_PROBES : lossProbes(loss!.maxFrac);
  const interval = rtt ? '0.05' : '0.005';
  const r = await inNode(nsOwner(lab, x.from).sandbox, ['ping', '-n', '-c', String(count), '-i', interval, '-W', '2', ...(rtt ? [] : ['-q']), addr], 60_000);
  const p = parsePing(r.stdout);
  if (!p.sent)
    return {
      name,
      status: 'error',
      message: `ping ${addr} from ${x.from} failed: ${(r.stderr || `exit ${r.exitCode}`).trim().split('\n')[0]}`,
      ...nodes([x.from]),
    };
  const v = rtt ? rttVerdict(rtt, p) : lossVerdict(loss!, p);
  const involved = nodes([x.from, ...(lab.nodes.some((n) => n.key === x.to) ? [x.to] : [])]);
  const measured = `${v.measured} (to ${addr})`;
  return { name, status: v.ok ? 'pass' : 'fail', measured, ...(v.ok ? {} : { message: measured }), ...involved };
}

const nodes = (n: string[]): { nodes: string[] } => ({ nodes: n });

async function reach(
  lab: Lab,
  facts: Facts,
  labNs: readonly string[],
  progs: Programs,
  r: ReachSpec,
): Promise<{ probe: string; nodes: readonly string[]; cells: Cell[] }> {
  const pairs = expectedPairs(r);
  // One probe run per source node, to every address of every target at once: a denied pair costs
  // its timeout once per source, not once per pair.
  const sources = [...new Set(pairs.map((p) => p.from))];
  const addrsOf = new Map<string, string[]>(sources.map((s) => [s, []]));
  for (const p of pairs) addrsOf.get(p.from)!.push(...targetAddresses(lab, facts, p.to));
  for (const [s, a] of addrsOf) addrsOf.set(s, [...new Set(a)]);
  const before = await arpTableUse();
  const runs = await inWaves(
    lab,
    facts,
    labNs,
    sources,
    addrsOf,
    async (from) => {
      try {
        return { answered: new Set(await probe(progs, nsOwner(lab, from).sandbox, r, addrsOf.get(from) ?? [])) };
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
    },
    r.probe.kind === 'icmp' && !hasFping() ? 8 : SOURCES_AT_ONCE,
  );
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
    if (!got?.answered) return { ...p, answered: [], tried, error: got?.error ?? 'not probed' };
    const answered = tried.filter((a) => got.answered.has(a));
    const actual = answered.length > 0;
    const why = actual === p.expected ? undefined : explainReach(lab, facts, r.probe, p.from, p.to, actual, tried) + (p.expected ? full : '');
    return { ...p, actual, answered, tried, ...(why ? { why } : {}) };
  });
  return { probe: r.probeText, nodes: r.nodes, cells };
}

/** Runs `fn` for every source, `limit` at once, in waves whose neighbour entries fit what the
 *  machine's table has free (lab/waves.ts), flushing the learnt neighbours of the wave's
 *  namespaces and of `labNs` after each wave. One wave (no flush) when everything fits. */
async function inWaves<R>(
  lab: Lab,
  facts: Facts,
  labNs: readonly string[],
  sources: readonly string[],
  addrsOf: ReadonlyMap<string, readonly string[]>,
  fn: (from: string) => Promise<R>,
  limit: number,
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
  const out = new Map<string, R>();
  let first = true;
  while (remaining.length) {
    // Inside a namespace other than the machine's, /proc does not show the table: the kernel's
    // default limit is assumed, with nothing else in it.
    const use = (await arpTableUse()) ?? { limit: DEFAULT_GC_THRESH3, entries: 0 };
    const take = nextWave(remaining, waveBudget(use.limit, use.entries));
    const wave = remaining.slice(0, take);
    const single = first && take === remaining.length;
    first = false;
    remaining = remaining.slice(take);
    const res = await pool(wave, limit, (s) => fn(s.key));
    wave.forEach((s, i) => out.set(s.key, res[i]));
    if (single) break;
    // Free the wave's entries for the next wave (and, after the last, for the rest of the machine).
    const touched = [...new Set(wave.flatMap((s) => entriesOf(s).map((e) => e.split('|')[0])))].filter((ns) => !ns.startsWith('@'));
    await pool([...touched, ...labNs], PARALLEL, (ns) => flushLearntNeighbours({ kind: 'named', name: ns }));
  }
  return out;
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
      ? ['fping', '-a', '-q', '-r0', '-t1000', '-i1', ...addrs]
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

type Runner = (argv: readonly string[]) => ReturnType<typeof inNode>;

async function ask(progs: Programs, where: Runner, proto: string, port: number, addrs: readonly string[]): Promise<Record<string, string | null>> {
  const r = await where([process.execPath, progs.cliScript, 'lab', '_ask', proto, String(port), ...addrs]);
  if (r.exitCode !== 0) throw new Error(`probe ${proto}/${port} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

/** The nameserver a node's resolver asks, if it is one the lab owns (a network gateway) or loopback. */
function labNameserver(resolv: string, facts: Facts): { server?: string; refused?: string } {
  const ns = /^\s*nameserver\s+(\S+)/m.exec(resolv)?.[1];
  if (!ns) return {};
  const gateways = Object.values(facts.networks).map((n) => n.gateway);
  if (ns.startsWith('127.') || gateways.includes(ns)) return { server: ns };
  return { refused: ns };
}

async function dns(lab: Lab, state: LabState, facts: Facts, d: DnsSpec): Promise<CaseResult> {
  const want = typeof d.answer === 'string' ? d.answer : [...d.answer].sort().join(', ');
  const name = `${d.from}: ${d.name} ${d.type} -> ${want}`;
  const sb = nsOwner(lab, d.from).sandbox;
  const node = lab.nodes.find((n) => n.key === d.from)!;
  const resolv = (await inNode(node.sandbox, ['cat', '/etc/resolv.conf'])).stdout;
  const ns = labNameserver(resolv, facts);
  if (ns.refused) return { name, status: 'error', message: `not queried: ${d.from}'s nameserver ${ns.refused} is outside the lab`, ...nodes([d.from]) };
  let got: string;
  if (!ns.server) got = 'no nameserver';
  else {
    const r = await inNode(sb, ['dig', '+time=1', '+tries=1', '+noall', '+comments', '+answer', `@${ns.server}`, '-t', d.type, d.name], 5000);
    const status = /status: (\w+)/.exec(r.stdout)?.[1];
    const records = r.stdout
      .split('\n')
      .filter((l) => l && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/).pop() ?? '');
    got = !status ? 'no answer' : status !== 'NOERROR' ? status : records.length ? records.sort().join(', ') : 'NODATA';
  }
  const ok = d.answer === 'ANY' ? !['NXDOMAIN', 'NODATA', 'REFUSED', 'SERVFAIL', 'no answer', 'no nameserver'].includes(got) : got === want;
  if (ok) return { name, status: 'pass', ...nodes([d.from]) };
  const why = await api<{ why: string }>(
    socketFor(lab, state, nsOwner(lab, d.from).key),
    'GET',
    `/sandboxes/${enc(sb)}/dns?name=${enc(d.name)}&type=${d.type}`,
  ).then(
    (e) => e.why,
    (err: Error) => err.message,
  );
  return {
    name,
    status: 'fail',
    message: `got ${got}${ns.server ? ` from ${ns.server}` : ` (${d.from}'s resolv.conf lists none)`}: ${why}`,
    ...nodes([d.from]),
  };
}

/** "ADDR:PORT[/proto]" or "NODE:PORT[/proto]" (each host binding of the node's published port).
 *  In a multi-host lab `from: host` probes in one host's namespace (`host:`, else the target
 *  node's host, else the first), and a probe from another host or from a node reaches a node's
 *  port at its host's underlay address (lab/ports.ts). */
async function port(lab: Lab, state: LabState, facts: Facts, progs: Programs, p: PortSpec): Promise<CaseResult> {
  const m = /^(.+):(\d+)(?:\/(tcp|udp))?$/.exec(p.to);
  const node = m ? lab.nodes.find((n) => n.key === m[1]) : undefined;
  const probeHost = lab.hosts.length && p.from === 'host' ? (p.host ?? node?.host ?? lab.hosts[0]) : undefined;
  const name = `${p.from}${probeHost ? ` ${probeHost}` : ''} -> ${p.to} ${p.open ? 'open' : 'closed'}`;
  if (!m) return { name, status: 'error', message: `invalid to "${p.to}": expected ADDRESS:PORT[/tcp|udp] or NODE:PORT[/tcp|udp]` };
  const [, host, portText, protoText] = m;
  const proto = protoText ?? 'tcp';
  const vantage: Vantage =
    !lab.hosts.length || !node || probeHost === node.host
      ? { kind: 'local' }
      : { kind: 'remote', host: node.host!, hostAddress: state.hosts?.[node.host!]?.address ?? '' };
  const { published, targets, unreachable } = node
    ? bindingTargets(facts.nodes[node.key]?.ports ?? [], Number(portText), proto, vantage)
    : { published: true, targets: [`${host}:${portText}`], unreachable: [] };
  const runner: Runner =
    p.from !== 'host'
      ? (argv) => inNode(nsOwner(lab, p.from).sandbox, argv, 5000)
      : probeHost
        ? (argv) => inHost(state, probeHost, argv, 5000)
        : (argv) => inLabHost(state, argv, 5000);
  const answered: string[] = [];
  try {
    for (const t of targets) {
      const [addr, tp] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))];
      const r = await ask(progs, runner, proto, tp, [addr]);
      if (r[addr]) answered.push(t);
    }
  } catch (err) {
    return { name, status: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  const open = answered.length > 0;
  const involved = [...(p.from === 'host' ? [] : [p.from]), ...(node ? [node.key] : [])];
  if (open === p.open) return { name, status: 'pass', ...nodes(involved) };
  const tried = targets.length ? ` (tried ${targets.join(', ')})` : '';
  // A loopback binding probed from another host: that, not the port, is why nothing answered.
  const why =
    !open && !targets.length && unreachable.length && vantage.kind === 'remote'
      ? `${unreachable.join(', ')} is loopback on host ${vantage.host}, out of reach from ${probeHost ? `host ${probeHost}` : p.from}`
      : explainPort(lab, facts, node?.key, Number(portText), proto, open, published);
  return {
    name,
    status: 'fail',
    message: `${open ? `open at ${answered.join(', ')}` : `closed${tried}`}: ${why}`,
    ...nodes(involved),
  };
}
