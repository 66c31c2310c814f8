// `netloom lab check`: runs every expectation against the running lab, probes in parallel with
// bounded timeouts, and returns a report. Reach tables in lab/reach.ts; TCP/UDP and DNS from inside
// the asking node (`ip netns exec`), DNS only ever against the node's own nameserver inside the lab.
import { api } from '../cli/client.js';
import { explainPort } from './explain.js';
import { labFacts, type Facts } from './facts.js';
import { declared } from './impair.js';
import { lossProbes, lossVerdict, parsePing, pickAddress, RTT_PROBES, rttVerdict } from './measure.js';
import { nsOwner, type LossSpec, type RttSpec, type DnsSpec, type Lab, type PortSpec, type ReachSpec } from './model.js';
import { reachSuite, type CaseResult, type CheckReport, type Suite } from './report.js';
import { inLabHost, inNode, socketFor, type LabState, type Programs } from './runtime.js';
import { ask, reach, type Runner } from './reach.js';
import { quietAfter } from './waves.js';
import { pool } from './pool.js';
import { inHost } from './cluster.js';
import { bindingTargets, type Vantage } from './ports.js';

/** Checks run at once (dig, file reads, commands, port probes). */
const PARALLEL = 12;

const enc = encodeURIComponent;

/** `known`: facts read before (a step whose netloomd is down still probes what it made). */
export async function labCheck(lab: Lab, state: LabState, progs: Programs, known?: Facts): Promise<CheckReport> {
  const facts = known ?? (await labFacts(lab, state));
  const suites: Suite[] = [];
  // Where the gateways' neighbour entries are: the lab's own host namespaces (never the machine's).
  const labNs = state.isolated ? (state.hosts ? Object.values(state.hosts).map((h) => h.ns) : state.hostNs ? [state.hostNs] : []) : [];
  // How long a wave listens once every expected echo answered: bounded by the impairments in force.
  const quietMs = quietAfter([...declared(lab).map((d) => d.netem), ...Object.values(state.netem ?? {})]);
  for (const r of lab.expect.reach) suites.push(reachSuite(await reach(lab, facts, { progs, labNs, ...(quietMs !== undefined ? { quietMs } : {}) }, r)));
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
