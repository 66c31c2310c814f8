// netloomd's memory (issue #16: RSS ≤ 72 MiB idle, ≤ 96 MiB with 1000 endpoints on 20 networks
// while dnsperf runs against one), RssAnon and RssFile apart, from /proc/PID/status. Run by
// bench/daemon-rss.sh, which starts the daemon in a namespace of its own and removes everything.
//
//   node build/bench/daemon-rss.js --socket S --pid PID [--networks 20] [--sandboxes 50] [--idle-wait 15]
//
// Phases: idle 5 s after start and idle after --idle-wait s (15, settled), populated (NETWORKS networks, SANDBOXES sandboxes each
// connected to every network: NETWORKS × SANDBOXES endpoints), under load (dnsperf from the first
// sandbox against the first network's gateway for --dns-seconds, RSS sampled every 250 ms; the
// maximum is reported), after (2 s later).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { closeConnections, request, subnet24 } from './engine-api.js';

const IDLE_GOAL = 72;
const LOAD_GOAL = 96;
const { values } = parseArgs({
  options: {
    socket: { type: 'string' },
    pid: { type: 'string' },
    networks: { type: 'string', default: '20' },
    sandboxes: { type: 'string', default: '50' },
    'idle-wait': { type: 'string', default: '15' },
    'dns-seconds': { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const socket = values.socket!;
const pid = Number(values.pid);
const nNets = Number(values.networks);
const nSbs = Number(values.sandboxes);
if (!socket || !Number.isInteger(pid) || !(nNets >= 1 && nNets <= 200) || !(nSbs >= 2 && nSbs <= 250)) {
  throw new Error('usage: daemon-rss.js --socket S --pid PID [--networks 1-200] [--sandboxes 2-250]');
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rss {
  anon: number;
  file: number;
  total: number;
}
function rss(): Rss {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN);
  const anon = kb('RssAnon') / 1024;
  const file = kb('RssFile') / 1024;
  return { anon, file, total: anon + file };
}

async function ok(method: string, path: string, body?: unknown): Promise<void> {
  const r = await request(socket, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: status ${r.status}: ${r.body.slice(0, 300)}`);
}

/** Runs fn over items, `limit` at a time. */
async function each<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const nets = Array.from({ length: nNets }, (_, i) => `nlbench-rss-n${i}`);
const sbs = Array.from({ length: nSbs }, (_, i) => `nlbench-rss-s${i}`);
const phases: Record<string, Rss> = {};
const t0 = Date.now();
// Twice: 5 s after start, and once settled (V8's memory reducer acts some seconds after the
// start-up's allocations stop); the goal applies to the settled figure.
await sleep(5000);
phases.idle5s = rss();
await sleep(Math.max(0, Number(values['idle-wait']) - 5) * 1000);
phases.idle = rss();
try {
  for (const [i, n] of nets.entries()) {
    const { subnet, gateway } = subnet24('10.160.0.0/16', i);
    await ok('POST', '/networks/create', { Name: n, IPAM: { Config: [{ Subnet: subnet, Gateway: gateway }] } });
  }
  await each(sbs, 2, (s) => ok('POST', '/sandboxes/create', { Name: s }));
  const pairs = sbs.flatMap((s) => nets.map((n) => [n, s] as const));
  await each(pairs, 4, ([n, s]) => ok('POST', `/networks/${n}/connect`, { Container: s }));
  const populateS = (Date.now() - t0) / 1000;
  await sleep(2000);
  phases.populated = rss();

  // dnsperf from sandbox 0 against network 0's gateway, asking for sandbox 1's name.
  const gw = subnet24('10.160.0.0/16', 0).gateway;
  const qfile = `/tmp/nlbench-rss-queries-${process.pid}`;
  writeFileSync(qfile, `${sbs[1]} A\n`);
  const perf = spawn(
    'nsenter',
    [`--net=/run/netns/${sbs[0]}`, 'dnsperf', '-s', gw, '-d', qfile, '-c', '20', '-T', '1', '-q', '100', '-t', '1', '-l', values['dns-seconds']!],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let perfOut = '';
  perf.stdout.on('data', (c: Buffer) => (perfOut += c));
  const done = new Promise<number | null>((r) => perf.on('close', r));
  let max: Rss = rss();
  let running = true;
  void done.then(() => (running = false));
  while (running) {
    const r = rss();
    if (r.total > max.total) max = r;
    await sleep(250);
  }
  if ((await done) !== 0) throw new Error(`dnsperf failed:\n${perfOut}`);
  phases.dnsperfMax = max;
  await sleep(2000);
  phases.after = rss();
  const qps = /Queries per second:\s+([\d.]+)/.exec(perfOut)?.[1];
  const lost = /Queries lost:\s+(\d+)/.exec(perfOut)?.[1];

  const f = (x: number): string => x.toFixed(1);
  console.log(
    `\nnetloomd PID ${pid}; ${nNets} networks × ${nSbs} sandboxes = ${nNets * nSbs} endpoints (made in ${populateS.toFixed(0)} s); dnsperf ${qps} QPS, ${lost} lost; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  console.log('| phase | RssAnon MiB | RssFile MiB | RSS MiB | goal |');
  console.log('|---|---:|---:|---:|---|');
  const goal = (p: string, r: Rss): string =>
    p === 'idle'
      ? `≤ ${IDLE_GOAL}: ${r.total <= IDLE_GOAL ? 'met' : 'missed'}`
      : p === 'dnsperfMax'
        ? `≤ ${LOAD_GOAL}: ${r.total <= LOAD_GOAL ? 'met' : 'missed'}`
        : '';
  for (const [p, r] of Object.entries(phases)) console.log(`| ${p} | ${f(r.anon)} | ${f(r.file)} | ${f(r.total)} | ${goal(p, r)} |`);
  mkdirSync(values.out!, { recursive: true });
  const file = `${values.out}/daemon-rss-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ networks: nNets, sandboxes: nSbs, qps: Number(qps), lost: Number(lost), loadavg: loadavg(), phases }, null, 2)}\n`);
  console.log(`\n${file}`);
} finally {
  await each(sbs, 4, (s) => ok('DELETE', `/sandboxes/${s}`).catch(() => undefined));
  for (const n of nets) await ok('DELETE', `/networks/${n}`).catch(() => undefined);
  closeConnections();
}
