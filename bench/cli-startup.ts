// What the netloom CLI adds to a process start: `node -e 0` beside `netloom network ls -q`,
// `network create/connect/disconnect/rm` as whole processes, and the same operations through the
// API on a kept-alive connection, interleaved round by round in one run (bench/cli-startup.sh starts
// the idle netloomd it talks to, in a namespace of its own).
//
//   node build/bench/cli-startup.js --socket S [--rounds 15] [--cli "bin/netloom.mjs"] [--out DIR]
//
// The CLI runs as a user runs `netloom`: bin/netloom.mjs, whose first line starts node without
// NODE_EXTRA_CA_CERTS (Node 20 parses that bundle at every start). Where the variable is set, the
// baseline is `node -e 0` started the same way, and plain `node -e 0` is shown beside it.
// "added" for an operation = p50(CLI process) − p50(baseline) − p50(API call): what the CLI itself
// costs beyond starting Node and the daemon's work. For rm (60-90 ms of iptables and bridge work
// whose spread is wider than the CLI's cost) it is the noisiest; the CLI does the same work for
// every command (bench/README.md: instruction counts). Goal (issue #16): at most 20 ms for ls -q,
// connect, disconnect and rm.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { closeConnections, request, stats, subnet24, type Stats } from './engine-api.js';
import { dockerBeside, type DockerBeside } from './cli-docker.js';

const GOAL_MS = 20;
const { values } = parseArgs({
  options: {
    socket: { type: 'string' },
    rounds: { type: 'string', default: '15' },
    cli: { type: 'string', default: 'bin/netloom.mjs' },
    out: { type: 'string', default: 'bench/results' },
    callgrind: { type: 'boolean', default: false },
    docker: { type: 'string' },
  },
});
const socket = values.socket;
if (!socket) throw new Error('--socket PATH is required (the netloomd to talk to)');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`invalid --rounds "${values.rounds}": expected a positive integer`);
const [cliFile, ...cliArgs] = values.cli.split(' ');
const env: NodeJS.ProcessEnv = { ...process.env, NETLOOM_NO_AUTOSTART: '1' };
/** node's environment as bin/netloom.mjs starts it (the CLI run as `node bin/netloom.mjs` gets `env`). */
const launched: NodeJS.ProcessEnv = { ...env };
delete launched.NODE_EXTRA_CA_CERTS;
const extraCa = env.NODE_EXTRA_CA_CERTS !== undefined && cliFile !== 'node';
const id = `nlbench-${process.pid}`;

function proc(file: string, args: string[], e = env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(0, 300)}`);
  return ms;
}
const cli = (...args: string[]): number => proc(cliFile, [...cliArgs, '--socket', socket, ...args]);

async function api(method: string, path: string, body?: unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await request(socket!, method, path, body);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status >= 300) throw new Error(`${method} ${path}: status ${r.status}: ${r.body.slice(0, 300)}`);
  return ms;
}

/** Instructions executed by one run under valgrind's callgrind (independent of the machine's load),
 *  through the launcher's exec of node (--trace-children). */
function instructions(file: string, args: string[], e = env): number {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', '--trace-children=yes', file, ...args], { env: e, encoding: 'utf8' });
  const all = [...r.stderr.matchAll(/Collected : (\d+)/g)];
  if (r.status !== 0 || !all.length) throw new Error(`valgrind ${file} ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(-300)}`);
  return all.reduce((n, m) => n + Number(m[1]), 0);
}
const counts: Record<string, number> = {};
/** node -e 0 and each CLI operation once under callgrind: what the CLI adds, in instructions. */
async function countInstructions(): Promise<void> {
  const net = `${id}-cg`;
  made.push(net);
  await api('POST', '/networks/create', { Name: net, IPAM: { Config: [{ Subnet: '10.236.0.0/24' }] } });
  counts['node -e 0'] = instructions('node', ['-e', '0'], extraCa ? launched : env);
  if (extraCa) counts['node -e 0 with NODE_EXTRA_CA_CERTS'] = instructions('node', ['-e', '0']);
  counts['network ls -q'] = instructions(cliFile, [...cliArgs, '--socket', socket!, 'network', 'ls', '-q']);
  counts['network connect'] = instructions(cliFile, [...cliArgs, '--socket', socket!, 'network', 'connect', net, sb]);
  counts['network disconnect'] = instructions(cliFile, [...cliArgs, '--socket', socket!, 'network', 'disconnect', net, sb]);
  counts['network rm'] = instructions(cliFile, [...cliArgs, '--socket', socket!, 'network', 'rm', net]);
  made.pop();
}

type Op = 'ls' | 'create' | 'connect' | 'disconnect' | 'rm';
const OPS: Op[] = ['ls', 'create', 'connect', 'disconnect', 'rm'];
const s = {
  node: [] as number[],
  plainNode: [] as number[],
  cli: Object.fromEntries(OPS.map((o) => [o, [] as number[]])) as Record<Op, number[]>,
  api: Object.fromEntries(OPS.map((o) => [o, [] as number[]])) as Record<Op, number[]>,
};
const sb = `${id}-sb`;
const made: string[] = [];
let dk: DockerBeside | undefined;
try {
  await api('POST', '/sandboxes/create', { Name: sb });
  if (values.docker) dk = await dockerBeside(values.docker, id, proc);
  for (let i = 0; i < rounds + 1; i++) {
    const keep = i > 0; // round 0 warms the page cache and the daemon
    const add = (k: 'cli' | 'api', op: Op, ms: number): void => void (keep && s[k][op].push(ms));
    const n0 = proc('node', ['-e', '0'], extraCa ? launched : env);
    if (keep) s.node.push(n0);
    if (extraCa) {
      const p0 = proc('node', ['-e', '0']);
      if (keep) s.plainNode.push(p0);
    }
    // CLI and API take turns going first, so neither always follows the other's kernel work.
    const both = async (op: Op, viaCli: () => number, viaApi: () => Promise<number>): Promise<void> => {
      if (i % 2) add('api', op, await viaApi());
      add('cli', op, viaCli());
      if (!(i % 2)) add('api', op, await viaApi());
    };
    await both(
      'ls',
      () => cli('network', 'ls', '-q'),
      () => api('GET', '/networks'),
    );
    const c = subnet24('10.235.0.0/16', 2 * i);
    const a = subnet24('10.235.0.0/16', 2 * i + 1);
    const cn = `${id}-c${i}`;
    const an = `${id}-a${i}`;
    made.push(cn, an);
    await both(
      'create',
      () => cli('network', 'create', '--subnet', c.subnet, '--gateway', c.gateway, cn),
      () => api('POST', '/networks/create', { Name: an, IPAM: { Config: [{ Subnet: a.subnet, Gateway: a.gateway }] } }),
    );
    await both(
      'connect',
      () => cli('network', 'connect', cn, sb),
      () => api('POST', `/networks/${an}/connect`, { Container: sb }),
    );
    await both(
      'disconnect',
      () => cli('network', 'disconnect', cn, sb),
      () => api('POST', `/networks/${an}/disconnect`, { Container: sb }),
    );
    await both(
      'rm',
      () => cli('network', 'rm', cn),
      () => api('DELETE', `/networks/${an}`),
    );
    made.splice(made.indexOf(cn), 2);
    await dk?.round(keep);
  }
  if (values.callgrind) await countInstructions();
} finally {
  for (const n of made) await request(socket, 'DELETE', `/networks/${n}`).catch(() => undefined);
  await request(socket, 'DELETE', `/sandboxes/${sb}`).catch(() => undefined);
  await dk?.cleanup();
  closeConnections();
}

const node = stats(s.node);
const rows: Record<Op, { cli: Stats; api: Stats; added: number }> = {} as never;
const f = (x: number): string => x.toFixed(1);
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const plain = extraCa ? stats(s.plainNode) : undefined;
console.log(
  `\n${rounds} rounds, interleaved; load average ${load}; node -e 0${extraCa ? ' as the launcher starts it (no NODE_EXTRA_CA_CERTS)' : ''}: p50 ${f(node.p50)} ms (p95 ${f(node.p95)})` +
    (plain ? `; with NODE_EXTRA_CA_CERTS: p50 ${f(plain.p50)} ms (p95 ${f(plain.p95)})` : '') +
    '\n',
);
console.log('| operation | CLI process p50 ms | API call p50 ms | CLI adds (CLI − node −e 0 − API) | goal |');
console.log('|---|---:|---:|---:|---|');
for (const op of OPS) {
  const c = stats(s.cli[op]);
  const a = stats(s.api[op]);
  const added = c.p50 - node.p50 - a.p50;
  rows[op] = { cli: c, api: a, added };
  const goal = op === 'create' ? '—' : `≤ ${GOAL_MS} ms: ${added <= GOAL_MS ? 'met' : 'missed'}`;
  console.log(`| ${op === 'ls' ? 'network ls -q' : `network ${op}`} | ${f(c.p50)} | ${f(a.p50)} | ${f(added)} | ${goal} |`);
}
const dks = dk?.stats();
if (dks) {
  console.log(`\nBeside Docker's CLI (${values.docker}), the same rounds; the engine's share is the calls each CLI makes, the client's the rest\n`);
  console.log('| | netloom p50 ms | Docker p50 ms | netloom/Docker | goal |');
  console.log('|---|---:|---:|---:|---|');
  const line = (what: string, n: number, d: number, goal?: number): void =>
    console.log(`| ${what} | ${f(n)} | ${f(d)} | ${(n / d).toFixed(2)}× | ${goal ? `≤ ${goal.toFixed(1)}×: ${n / d <= goal ? 'met' : 'missed'}` : '—'} |`);
  line('a start, no request (node -e 0 / docker --version)', node.p50, dks['docker --version'].p50);
  for (const op of ['connect', 'disconnect'] as const) {
    const engine = dks['HEAD /_ping'].p50 + dks[`POST ${op}`].p50;
    line(`network ${op}, whole process`, rows[op].cli.p50, dks[`docker network ${op}`].p50, 1);
    line(`  engine's share (API call${op === 'connect' ? '; Docker: HEAD /_ping + POST' : ''})`, rows[op].api.p50, engine);
    line("  client's share (process − engine)", rows[op].cli.p50 - rows[op].api.p50, dks[`docker network ${op}`].p50 - engine);
  }
}
if (values.callgrind) {
  const base = counts['node -e 0'];
  console.log(`\nInstructions (valgrind --tool=callgrind, one run each; the load does not change them): node -e 0 ${(base / 1e6).toFixed(0)} M`);
  console.log("\n| command | instructions | above node -e 0 | as ms at node -e 0's rate | goal |");
  console.log('|---|---:|---:|---:|---|');
  for (const [k, n] of Object.entries(counts)) {
    if (k.startsWith('node -e 0')) {
      if (k !== 'node -e 0') console.log(`| ${k} | ${(n / 1e6).toFixed(0)} M | ${((n - base) / 1e6).toFixed(0)} M | — | — |`);
      continue;
    }
    const ms = ((n - base) / base) * node.p50;
    console.log(
      `| ${k} | ${(n / 1e6).toFixed(0)} M | ${((n - base) / 1e6).toFixed(0)} M | ${ms.toFixed(1)} | ≤ ${GOAL_MS} ms: ${ms <= GOAL_MS ? 'met' : 'missed'} |`,
    );
  }
}
mkdirSync(values.out, { recursive: true });
const file = `${values.out}/cli-startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(
  file,
  `${JSON.stringify({ rounds, loadavg: loadavg(), cli: values.cli, node, nodeWithExtraCa: plain, ops: rows, docker: dks, instructions: counts }, null, 2)}\n`,
);
console.log(`\n${file}`);
