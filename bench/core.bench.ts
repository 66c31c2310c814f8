// Core network operations on every engine given, side by side:
//
//   node build/bench/core.bench.js --docker unix:///run/netloom-bench-docker/docker.sock \
//     --netloom /run/netloom/netloomd.sock --netloom-cli "bin/netloom.mjs --socket /run/..." --rounds 30
//
// Prints a Markdown table (p50/p95 per operation, and netloom/Docker as a ratio of p50s) and writes
// everything measured to bench/results/core-<date>.json. See bench/README.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import {
  API_OPS,
  closeConnections,
  dockerTarget,
  measureApi,
  measureCli,
  measureFlat,
  netloomTarget,
  request,
  sweepStaleNetworks,
  type ApiOp,
  type FlatResult,
  type Stats,
  type Target,
} from './engine-api.js';

// Each phase gets its own 10.x range so a leftover from one phase cannot collide with another.
// The engines run in namespaces of their own (scripts/docker-env.sh), where nothing else uses 10.x.
const SUBNETS = { api: '10.231.0.0/16', cli: '10.232.0.0/16', flatCreate: '10.233.0.0/16', flatConnect: '10.234.0.0/16' };

interface TargetResult {
  engineVersion: string | null;
  api: Record<ApiOp, Stats>;
  cli: { command: string; version: string | null; ops: Record<ApiOp, Stats> } | null;
  flat: { create: FlatResult; connect: FlatResult } | null;
  seconds: number;
}

const USAGE = `usage: node build/bench/core.bench.js [--docker unix:///path] [--docker-cli "docker -H unix:///path"]
       [--netloom /path/netloomd.sock] [--netloom-cli "bin/netloom.mjs --socket /path"]
       [--rounds 30] [--flat-total 60] [--flat-sample 10] [--no-flat] [--no-cli] [--out DIR]`;

function parse() {
  const { values } = parseArgs({
    options: {
      docker: { type: 'string' },
      'docker-cli': { type: 'string' },
      netloom: { type: 'string' },
      'netloom-cli': { type: 'string' },
      rounds: { type: 'string', default: '30' },
      'flat-total': { type: 'string', default: '60' },
      'flat-sample': { type: 'string', default: '10' },
      'no-flat': { type: 'boolean', default: false },
      'no-cli': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`invalid --${name} "${v}": expected an integer from ${min} to ${max}`);
    return n;
  };
  if (!values.docker && !values.netloom) throw new Error(`give at least one engine (--docker or --netloom)\n${USAGE}`);
  return {
    docker: values.docker,
    dockerCli: values['no-cli'] ? undefined : (values['docker-cli'] ?? (values.docker ? `docker -H ${values.docker}` : undefined)),
    netloom: values.netloom,
    netloomCli: values['no-cli'] ? undefined : values['netloom-cli'],
    rounds: int('rounds', values.rounds, 1, 250),
    flatTotal: int('flat-total', values['flat-total'], 2, 250),
    flatSample: int('flat-sample', values['flat-sample'], 1, 125),
    flat: !values['no-flat'],
    out: values.out ?? fileURLToPath(new URL('../../bench/results/', import.meta.url)),
  };
}

type Options = ReturnType<typeof parse>;

async function engineVersion(t: Target): Promise<string | null> {
  const ping = await request(t.socket, 'GET', '/_ping').catch((err: Error) => {
    throw new Error(`${t.name} at ${t.socket} does not answer: ${err.message}`);
  });
  if (ping.status !== 200) throw new Error(`${t.name} at ${t.socket}: GET /_ping answered ${ping.status}: ${ping.body.slice(0, 200)}`);
  const v = await request(t.socket, 'GET', '/version');
  if (v.status !== 200) return null;
  const body = JSON.parse(v.body) as { Version?: string; ApiVersion?: string };
  return `${body.Version ?? '?'} (API ${body.ApiVersion ?? '?'})`;
}

async function cliVersion(cmd: readonly string[]): Promise<string | null> {
  const r = await execa(cmd[0]!, ['--version'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? String(r.stdout).trim().split('\n')[0]! : null;
}

async function measureTarget(t: Target, cli: string | undefined, o: Options): Promise<TargetResult> {
  const t0 = Date.now();
  const engine = await engineVersion(t);
  const swept = await sweepStaleNetworks(t);
  if (swept.length) log(`${t.name}: removed ${swept.length} network(s) left by an earlier run: ${swept.join(' ')}`);

  log(`${t.name}: API, ${o.rounds} rounds of create/connect/disconnect/rm`);
  const api = await measureApi(t, { rounds: o.rounds, subnetBase: SUBNETS.api });

  let cliResult: TargetResult['cli'] = null;
  if (cli) {
    const cmd = cli.split(/\s+/).filter(Boolean);
    log(`${t.name}: CLI "${cli}", ${o.rounds} rounds`);
    cliResult = { command: cli, version: await cliVersion(cmd), ops: await measureCli(cmd, t, { rounds: o.rounds, subnetBase: SUBNETS.cli }) };
  }

  let flat: TargetResult['flat'] = null;
  if (o.flat) {
    log(`${t.name}: flatness, ${o.flatTotal} networks, then ${o.flatTotal} endpoints on one network`);
    const create = await measureFlat(t, { op: 'create', total: o.flatTotal, sample: o.flatSample, subnetBase: SUBNETS.flatCreate });
    const connect = await measureFlat(t, { op: 'connect', total: o.flatTotal, sample: o.flatSample, subnetBase: SUBNETS.flatConnect });
    flat = { create, connect };
  }
  return { engineVersion: engine, api, cli: cliResult, flat, seconds: Math.round((Date.now() - t0) / 100) / 10 };
}

function log(msg: string): void {
  process.stderr.write(`core.bench: ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !(b > 0) ? '—' : `${(a / b).toFixed(2)}×`);

/** Issue #16's goals for netloom/Docker (p50), per row label. */
const GOALS: Record<string, number> = {
  'API network create': 0.1,
  'API network connect': 0.2,
  'API network disconnect': 0.3,
  'API network rm': 0.3,
  'CLI network create (whole process)': 1,
  'CLI network connect (whole process)': 1,
  'CLI network disconnect (whole process)': 1,
  'CLI network rm (whole process)': 1,
};

/** "≤ 0.3×: met" for a row with a goal and both p50s. */
function goal(label: string, n: Stats | undefined, d: Stats | undefined): string {
  const g = GOALS[label];
  if (g === undefined) return '';
  if (!n || !d || !(d.p50 > 0)) return `≤ ${g}×`;
  return `≤ ${g}×: ${n.p50 / d.p50 <= g ? 'met' : 'missed'}`;
}

function table(results: Record<string, TargetResult>): string {
  const docker = results['docker'];
  const netloom = results['netloom'];
  const rows: string[] = [
    '| operation | Docker p50 | Docker p95 | netloom p50 | netloom p95 | netloom/Docker (p50) | goal |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  const row = (label: string, d: Stats | undefined, n: Stats | undefined): void => {
    rows.push(`| ${label} | ${ms(d?.p50)} | ${ms(d?.p95)} | ${ms(n?.p50)} | ${ms(n?.p95)} | ${ratio(n?.p50, d?.p50)} | ${goal(label, n, d)} |`);
  };
  for (const op of API_OPS) row(`API network ${op}`, docker?.api[op], netloom?.api[op]);
  for (const op of API_OPS) {
    if (docker?.cli || netloom?.cli) row(`CLI network ${op} (whole process)`, docker?.cli?.ops[op], netloom?.cli?.ops[op]);
  }
  for (const op of ['create', 'connect'] as const) {
    const d = docker?.flat?.[op];
    const n = netloom?.flat?.[op];
    if (!d && !n) continue;
    row(`${op}, first ${d?.first.n ?? n?.first.n} of many`, d?.first, n?.first);
    row(`${op}, last ${d?.last.n ?? n?.last.n} of many`, d?.last, n?.last);
    const flatGoal = n ? `netloom ≤ 1.2×: ${n.ratio <= 1.2 ? 'met' : 'missed'}` : '';
    rows.push(`| ${op} slowdown (last/first p50) | ${d ? `${d.ratio.toFixed(2)}×` : '—'} | | ${n ? `${n.ratio.toFixed(2)}×` : '—'} | | | ${flatGoal} |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const o = parse();
  const targets: Array<{ t: Target; cli: string | undefined }> = [];
  if (o.docker) targets.push({ t: dockerTarget(o.docker), cli: o.dockerCli });
  if (o.netloom) targets.push({ t: netloomTarget(o.netloom), cli: o.netloomCli });

  const results: Record<string, TargetResult> = {};
  try {
    for (const { t, cli } of targets) results[t.name] = await measureTarget(t, cli, o);
  } finally {
    closeConnections();
  }

  const date = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, 'Z');
  const report = {
    bench: 'core',
    date: new Date().toISOString(),
    // Load at the end of the run: other work on the machine inflates p95s (see README).
    host: { kernel: release(), node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
    options: { rounds: o.rounds, flatTotal: o.flatTotal, flatSample: o.flatSample, subnets: SUBNETS },
    results,
  };
  mkdirSync(o.out, { recursive: true });
  const file = `${o.out.replace(/\/$/, '')}/core-${date}.json`;
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

  const versions = Object.entries(results)
    .map(([name, r]) => `${name}: engine ${r.engineVersion ?? '?'}${r.cli ? `, CLI ${r.cli.version ?? r.cli.command}` : ''} (${r.seconds} s)`)
    .join('; ');
  console.log(
    `## core network operations, milliseconds (${o.rounds} rounds)\n\n${versions}; load average ${report.host.loadavg.join(' ')}\n\n${table(results)}\n\nJSON: ${file}`,
  );
}

main().catch((err: unknown) => {
  closeConnections();
  process.stderr.write(`core.bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
