// How should code in the host namespace configure links inside a sandbox's namespace? Three ways,
// each timed over the same job in a fresh `ip netns add` namespace: create a namespace-local link,
// give it 10.9.0.1/24, set it up.
//
//   (a) addon   in process: open /proc/thread-self/ns/net and /run/netns/X, setns() the main
//               thread into X with native/nsaddon.node, create an rtnetlink socket (a socket
//               belongs to the namespace it was created in), setns() back, then send the three
//               requests over that socket. No process is started.
//   (b) ip      one `ip -n X -batch -` process per join, fed the three commands on stdin.
//   (c) helper  one `nsenter --net=/run/netns/X node -e <script>` process per namespace, whose
//               script does the job with the netlink package.
//
//   sudo node build/bench/netns-mechanism.bench.js [--rounds 50] [--kind auto|dummy|ifb|bridge]
//
// Prints one JSON line per mechanism, then a Markdown table, and writes
// bench/results/netns-mechanism-<date>.json. Root only. Namespaces are named nl-bench-<n>; each is
// deleted right after its round, and all that remain are deleted on exit, failure or signal.
// Nothing is sent anywhere: the address lives on a link in a namespace with no other link.

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, release, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa, execaSync } from 'execa';
import { AttrStream, createRtNetlink, ifla, type RtNetlinkSocket } from 'netlink';
import { stats, type Stats } from './engine-api.js';

const IFNAME = 'nlb0';
const ADDR = [10, 9, 0, 1] as const;
const PREFIX = 24;
const NLM_F_CREATE_EXCL = 0x400 | 0x200;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NS_PREFIX = 'nl-bench-';
const TIME_BIN = '/usr/bin/time';

type Mechanism = 'addon' | 'ip' | 'helper';
const MECHANISMS: readonly Mechanism[] = ['addon', 'ip', 'helper'];
const LABEL: Record<Mechanism, string> = {
  addon: '(a) addon setns + netlink socket, in process',
  ip: '(b) ip -n X -batch -, one process per join',
  helper: '(c) nsenter --net node -e <netlink script>, one process per namespace',
};

interface MechanismResult {
  mechanism: Mechanism;
  label: string;
  kind: string;
  rounds: number;
  total: Stats;
  /** (a) only: open fds + setns + socket() + setns back, the part a cached socket would save */
  join: Stats | null;
  /** peak RSS in KiB of one started process (b, c); null for (a), which starts none */
  peakRssKiB: number | null;
}

// ---------------------------------------------------------------------------------------------
// Namespaces: every one this run made is deleted, whatever happens.

const made = new Set<string>();
let counter = 0;
/** The measured process running now, if any: a signal handler kills it before deleting namespaces. */
let inFlight: { kill(signal: NodeJS.Signals): boolean } | undefined;

// Synchronous on purpose (namespace setup is not timed): a signal handler then never runs while
// an `ip netns add` is in flight, so it cannot miss a namespace that appears after it ran.
function addNamespace(): string {
  // Bounded: skip names another run holds, at most 1000 tries.
  for (let tries = 0; tries < 1000; tries++) {
    const name = `${NS_PREFIX}${counter++}`;
    const r = execaSync('ip', ['netns', 'add', name], { reject: false, timeout: 10_000 });
    if (r.exitCode === 0) {
      made.add(name);
      return name;
    }
    if (!/exists/i.test(String(r.stderr))) throw new Error(`ip netns add ${name}: ${String(r.stderr).trim()}`);
  }
  throw new Error(`no free namespace name ${NS_PREFIX}<n> after 1000 tries`);
}

function deleteNamespace(name: string): void {
  const r = execaSync('ip', ['netns', 'del', name], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) throw new Error(`ip netns del ${name}: ${String(r.stderr).trim()}`);
  made.delete(name);
}

function deleteAllNamespacesSync(): string[] {
  const failed: string[] = [];
  for (const name of made) {
    const r = execaSync('ip', ['netns', 'del', name], { reject: false, timeout: 10_000 });
    if (r.exitCode === 0) made.delete(name);
    else failed.push(`${name}: ${String(r.stderr).trim()}`);
  }
  return failed;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    inFlight?.kill('SIGKILL');
    const failed = deleteAllNamespacesSync();
    process.stderr.write(`netns-mechanism: ${sig}, namespaces deleted${failed.length ? `, except ${failed.join('; ')}` : ''}\n`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// (a) addon

interface NsAddon {
  setns(fd: number): void;
}

function loadAddon(): NsAddon {
  const path = `${REPO}native/nsaddon.node`;
  try {
    return createRequire(import.meta.url)(path) as NsAddon;
  } catch (err) {
    throw new Error(`cannot load ${path} (run "make addon"): ${(err as Error).message}`);
  }
}

/**
 * An rtnetlink socket inside the namespace at `nsPath`, made from the host namespace.
 * Everything here is synchronous on purpose: setns() moves only the calling thread, and an async
 * fs call would open /proc/thread-self on a libuv pool thread instead of the main one.
 */
function socketIn(addon: NsAddon, nsPath: string): RtNetlinkSocket {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(nsPath, 'r');
    try {
      addon.setns(target);
    } finally {
      closeSync(target);
    }
    try {
      return createRtNetlink();
    } finally {
      try {
        addon.setns(home);
      } catch (err) {
        // The main thread would stay in the sandbox: everything after would act on the wrong
        // namespace. Stop here rather than carry on.
        process.stderr.write(`netns-mechanism: cannot return to the host namespace: ${(err as Error).message}\n`);
        deleteAllNamespacesSync();
        process.exit(70);
      }
    }
  } finally {
    closeSync(home);
  }
}

function linkInfo(kind: string): Buffer {
  const s = new AttrStream();
  s.emit(ifla.formatInfo({ kind }));
  return Buffer.concat(s.bufs);
}

/** The three requests, over a socket already in the right namespace. Shared by (a) and (c). */
async function configure(sock: RtNetlinkSocket, kind: string): Promise<void> {
  await sock.newLink({}, { ifname: IFNAME, linkinfo: linkInfo(kind) }, { flags: NLM_F_CREATE_EXCL });
  const [link] = await sock.getLink({}, { ifname: IFNAME });
  const index = link?.data.index;
  if (!index) throw new Error(`link ${IFNAME} not found right after creating it`);
  const addr = Buffer.from(ADDR);
  await sock.newAddress({ family: 2, prefixlen: PREFIX, index }, { local: addr, address: addr }, { flags: NLM_F_CREATE_EXCL });
  await sock.setLink({ index, change: { up: true }, flags: { up: true } });
}

async function runAddon(addon: NsAddon, ns: string, kind: string): Promise<{ total: number; join: number }> {
  const t0 = performance.now();
  const sock = socketIn(addon, `/run/netns/${ns}`);
  const t1 = performance.now();
  try {
    await configure(sock, kind);
  } finally {
    sock.socket.close();
  }
  return { total: performance.now() - t0, join: t1 - t0 };
}

// ---------------------------------------------------------------------------------------------
// (b) ip -batch and (c) nsenter helper: the commands, so the RSS probe can run them under time(1)

function ipCommand(ns: string, kind: string): { argv: string[]; input: string } {
  const [a, b, c, d] = ADDR;
  const input = `link add ${IFNAME} type ${kind}\naddr add ${a}.${b}.${c}.${d}/${PREFIX} dev ${IFNAME}\nlink set ${IFNAME} up\n`;
  return { argv: ['ip', '-n', ns, '-batch', '-'], input };
}

// The same requests as configure(), as a CommonJS script for `node -e` (run with cwd = the repo,
// so require('netlink') finds node_modules).
const HELPER_SCRIPT = `
const { AttrStream, createRtNetlink, ifla } = require('netlink');
const [kind, ifname, addrs, prefixlen] = process.argv.slice(1);
const addr = Buffer.from(addrs.split('.').map(Number));
(async () => {
  const sock = createRtNetlink();
  try {
    const s = new AttrStream(); s.emit(ifla.formatInfo({ kind }));
    await sock.newLink({}, { ifname, linkinfo: Buffer.concat(s.bufs) }, { flags: ${NLM_F_CREATE_EXCL} });
    const [link] = await sock.getLink({}, { ifname });
    const index = link.data.index;
    await sock.newAddress({ family: 2, prefixlen: Number(prefixlen), index }, { local: addr, address: addr }, { flags: ${NLM_F_CREATE_EXCL} });
    await sock.setLink({ index, change: { up: true }, flags: { up: true } });
  } finally { sock.socket.close(); }
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

function helperCommand(ns: string, kind: string): { argv: string[]; input: string } {
  const argv = ['nsenter', `--net=/run/netns/${ns}`, process.execPath, '-e', HELPER_SCRIPT, kind, IFNAME, ADDR.join('.'), String(PREFIX)];
  return { argv, input: '' };
}

async function runProcess(cmd: { argv: string[]; input: string }): Promise<number> {
  const [file, ...args] = cmd.argv;
  const t0 = performance.now();
  const sub = execa(file!, args, { input: cmd.input, cwd: REPO, reject: false, timeout: 30_000 });
  inFlight = sub;
  const r = await sub.finally(() => (inFlight = undefined));
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${file} ${args[0]} ${args[1] ?? ''}: exit ${r.exitCode ?? r.signal}: ${String(r.stderr).trim()}`);
  return ms;
}

/** Peak RSS (KiB) of the command's process, from GNU time's %M; null without /usr/bin/time. */
async function peakRss(cmd: { argv: string[]; input: string }): Promise<number | null> {
  const out = `${tmpdir()}/nl-bench-rss-${process.pid}`;
  try {
    const r = await execa(TIME_BIN, ['-f', '%M', '-o', out, ...cmd.argv], { input: cmd.input, cwd: REPO, reject: false, timeout: 30_000 });
    if (r.exitCode !== 0) return null;
    const kib = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
    return Number.isFinite(kib) ? kib : null;
  } catch {
    return null;
  } finally {
    rmSync(out, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The run

/** Checks the job really happened: the link exists, is up and has the address. */
async function verify(ns: string, m: Mechanism): Promise<void> {
  const r = await execa('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', IFNAME], { timeout: 10_000 });
  const [link] = JSON.parse(String(r.stdout)) as Array<{ flags: string[]; addr_info: Array<{ local: string; prefixlen: number }> }>;
  const ok = link?.flags.includes('UP') && link.addr_info.some((a) => a.local === ADDR.join('.') && a.prefixlen === PREFIX);
  if (!ok) throw new Error(`${LABEL[m]}: ${IFNAME} in ${ns} is not up with ${ADDR.join('.')}/${PREFIX}: ${String(r.stdout)}`);
}

/** The first of `candidates` the kernel can create (this kernel may lack CONFIG_DUMMY). */
async function chooseKind(candidates: readonly string[]): Promise<string> {
  const ns = addNamespace();
  try {
    const tried: string[] = [];
    for (const kind of candidates) {
      const r = await execa('ip', ['-n', ns, 'link', 'add', 'nlprobe', 'type', kind], { reject: false, timeout: 10_000 });
      if (r.exitCode === 0) return kind;
      tried.push(`${kind}: ${String(r.stderr).trim()}`);
    }
    throw new Error(`none of the link kinds can be created here: ${tried.join('; ')}`);
  } finally {
    deleteNamespace(ns);
  }
}

function parse() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '3' },
      kind: { type: 'string', default: 'auto' },
      out: { type: 'string' },
    },
  });
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`invalid --${name} "${v}": expected an integer from ${min} to ${max}`);
    return n;
  };
  return {
    rounds: int('rounds', values.rounds, 1, 1000),
    warmup: int('warmup', values.warmup, 1, 100),
    kind: values.kind,
    out: values.out ?? fileURLToPath(new URL('../../bench/results/', import.meta.url)),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('must run as root: it creates network namespaces and joins them');
  const o = parse();
  const addon = loadAddon();
  const kind = o.kind === 'auto' ? await chooseKind(['dummy', 'ifb']) : await chooseKind([o.kind]);
  if (kind !== 'dummy') process.stderr.write(`netns-mechanism: link kind "${kind}" (dummy is not available in this kernel)\n`);

  const totals: Record<Mechanism, number[]> = { addon: [], ip: [], helper: [] };
  const joins: number[] = [];
  // Interleaved, so drift (page cache, CPU frequency, other load) hits every mechanism alike.
  // The first `warmup` rounds are verified with ip and not counted.
  for (let round = 0; round < o.warmup + o.rounds; round++) {
    for (const m of MECHANISMS) {
      const ns = addNamespace();
      try {
        let ms: number;
        if (m === 'addon') {
          const r = await runAddon(addon, ns, kind);
          ms = r.total;
          if (round >= o.warmup) joins.push(r.join);
        } else {
          ms = await runProcess(m === 'ip' ? ipCommand(ns, kind) : helperCommand(ns, kind));
        }
        if (round < o.warmup) await verify(ns, m);
        else totals[m].push(ms);
      } catch (err) {
        throw new Error(`${LABEL[m]}, round ${round}, namespace ${ns}: ${(err as Error).message}`, { cause: err });
      } finally {
        deleteNamespace(ns);
      }
    }
  }

  // Peak RSS: separate, untimed runs under time(1) (wrapping the timed runs would add a fork).
  const probe = async (m: 'ip' | 'helper'): Promise<number | null> => {
    let peak: number | null = null;
    for (let i = 0; i < 3; i++) {
      const ns = addNamespace();
      try {
        const kib = await peakRss(m === 'ip' ? ipCommand(ns, kind) : helperCommand(ns, kind));
        if (kib !== null) peak = Math.max(peak ?? 0, kib);
      } finally {
        deleteNamespace(ns);
      }
    }
    return peak;
  };
  const rss: Record<Mechanism, number | null> = { addon: null, ip: await probe('ip'), helper: await probe('helper') };
  // For scale: (a) adds a socket to a process that is already this big.
  const benchMaxRssKiB = process.resourceUsage().maxRSS;

  const results: MechanismResult[] = MECHANISMS.map((m) => ({
    mechanism: m,
    label: LABEL[m],
    kind,
    rounds: totals[m].length,
    total: stats(totals[m]),
    join: m === 'addon' ? stats(joins) : null,
    peakRssKiB: rss[m],
  }));
  for (const r of results) console.log(JSON.stringify({ bench: 'netns-mechanism', ...r }));
  console.log(`\n## configure a link in a fresh namespace, milliseconds (${o.rounds} rounds, link kind ${kind})\n`);
  console.log('| mechanism | p50 | p95 | mean | peak RSS of each process started (MiB) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) {
    const mib = r.mechanism === 'addon' ? 'none started' : r.peakRssKiB === null ? '— (no /usr/bin/time)' : (r.peakRssKiB / 1024).toFixed(1);
    console.log(`| ${r.label} | ${r.total.p50.toFixed(2)} | ${r.total.p95.toFixed(2)} | ${r.total.mean.toFixed(2)} | ${mib} |`);
    if (r.join)
      console.log(`| … of which join (open, setns, socket, setns back) | ${r.join.p50.toFixed(3)} | ${r.join.p95.toFixed(3)} | ${r.join.mean.toFixed(3)} | |`);
  }

  mkdirSync(o.out, { recursive: true });
  const file = `${o.out.replace(/\/$/, '')}/netns-mechanism-${new Date().toISOString().replace(/:/g, '-').replace(/\..*/, 'Z')}.json`;
  const host = { kernel: release(), node: process.version, benchMaxRssKiB, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) };
  const report = { bench: 'netns-mechanism', date: new Date().toISOString(), host, rounds: o.rounds, kind, results };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nbench process peak RSS: ${(benchMaxRssKiB / 1024).toFixed(1)} MiB; load average ${host.loadavg.join(' ')}\nJSON: ${file}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`netns-mechanism: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    const failed = deleteAllNamespacesSync();
    if (failed.length) {
      process.stderr.write(`netns-mechanism: could not delete namespaces: ${failed.join('; ')}\n`);
      process.exitCode = 1;
    }
  });
