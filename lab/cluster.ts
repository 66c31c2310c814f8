// A multi-host lab (`hosts:`), the way test/priv/overlay.test.ts and `make demo` build one: the
// lab's namespace (nllab-NAME) holds the underlay bridge and a real etcd (1 or 3 members); each
// host is a namespace of its own (nllab-NAME-HOST) with a veth on that bridge and its own netloomd
// (--cluster-store etcd://..., --advertise-addr, --node-name HOST). Overlay networks span them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIfAddr, formatIPv4, type IfAddr, parseCidr } from '../common/cidr.js';
import { run, type RunResult } from '../system/exec.js';
import { spawnDetachedProgram } from '../system/process.js';
import type { Lab } from './model.js';
import {
  alive,
  daemonAnswers,
  hostNsName,
  inNamespace,
  LabFailure,
  readState,
  runDir,
  writeState,
  type HostState,
  type LabState,
  type Programs,
} from './runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const UNDERLAY_BRIDGE = 'ubr';

/** Underlay addresses: etcd member m (1..3) is .m, host i (0..) is .(11+i); with the prefix. */
export function underlayAddress(cidr: string, kind: 'etcd' | 'host', n: number): IfAddr {
  const c = parseCidr(cidr);
  if (!c || c.family !== 4) throw new LabFailure(`cluster underlay ${cidr} is not an IPv4 subnet`);
  return { ip: formatIPv4((c.base as number) + (kind === 'etcd' ? n : 11 + n)), prefix: c.prefix };
}

export const clusterHostNs = (lab: Lab, h: string): string => `${hostNsName(lab.name)}-${h}`;
const endpoints = (lab: Lab): string[] =>
  Array.from({ length: lab.cluster.etcdMembers }, (_, m) => `${underlayAddress(lab.cluster.underlay, 'etcd', m + 1).ip}:2379`);

async function ensureNs(ns: string): Promise<void> {
  if (existsSync(`/run/netns/${ns}`)) return;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** Starts etcd member m (1-based) on the same data dir as before, if it is not running. */
export function startEtcdMember(lab: Lab, m: number): number {
  const me = underlayAddress(lab.cluster.underlay, 'etcd', m).ip;
  const peers = Array.from(
    { length: lab.cluster.etcdMembers },
    (_, k) => `m${k + 1}=http://${underlayAddress(lab.cluster.underlay, 'etcd', k + 1).ip}:2380`,
  ).join(',');
  const dir = runDir(lab.name);
  return spawnDetachedProgram(
    'ip',
    [
      'netns',
      'exec',
      hostNsName(lab.name),
      'etcd',
      '--name',
      `m${m}`,
      '--data-dir',
      join(dir, `etcd-m${m}`),
      '--listen-client-urls',
      `http://${me}:2379`,
      '--advertise-client-urls',
      `http://${me}:2379`,
      '--listen-peer-urls',
      `http://${me}:2380`,
      '--initial-advertise-peer-urls',
      `http://${me}:2380`,
      '--initial-cluster',
      peers,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      hostNsName(lab.name),
    ],
    join(dir, `etcd-m${m}.log`),
  );
}

async function etcdHealthy(lab: Lab): Promise<boolean> {
  const r = await run(
    'ip',
    [
      'netns',
      'exec',
      hostNsName(lab.name),
      'etcdctl',
      '--endpoints',
      endpoints(lab)
        .map((e) => `http://${e}`)
        .join(','),
      'endpoint',
      'health',
    ],
    { allowFail: true, timeoutMs: 5000 },
  );
  return r.exitCode === 0;
}

/** A host's netloomd, in the host's namespace, on its own data dir. */
export async function startHostDaemon(lab: Lab, progs: Programs, h: string, host: HostState): Promise<HostState> {
  if (alive(host.daemonPid) && (await daemonAnswers(host.socket))) return host;
  const dir = join(runDir(lab.name), h);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.1\n');
  const args = [
    '--socket',
    host.socket,
    '--data-dir',
    join(dir, 'data'),
    '--log-file',
    join(dir, 'netloomd.log'),
    '--resolv-conf',
    resolv,
    '--no-plugin',
    '--cluster-store',
    `etcd://${endpoints(lab).join(',')}`,
    '--advertise-addr',
    host.address,
    '--node-name',
    h,
  ];
  const settings = lab.hostDaemon[h] ?? {};
  if (Object.keys(settings).length) {
    // The lab's daemon: settings with the host's own over them, as a daemon.json (netloomd
    // --config-file); the cluster keys above are the lab's alone (lab/topology.ts refuses them).
    const cfg = join(dir, 'daemon.json');
    writeFileSync(cfg, `${JSON.stringify(settings, null, 2)}\n`);
    args.push('--config-file', cfg);
  }
  const spawn = (): number =>
    spawnDetachedProgram('nsenter', [`--net=/run/netns/${host.ns}`, process.execPath, progs.daemonScript, ...args], join(dir, 'netloomd.out'));
  // netloomd refuses to start while etcd is unreachable (one line in its log), as it may be for a
  // moment after a `heal` (the underlay's neighbours are learnt again): start it again, within
  // the same 15 s bound.
  let pid = spawn();
  for (let i = 0; i < 300; i++) {
    if (await daemonAnswers(host.socket)) return { ...host, daemonPid: pid };
    await sleep(50);
    if (alive(pid)) continue;
    // A setting netloomd refuses (a daemon: key or value) will not change: say it at once.
    const refused = settingRefused(join(dir, 'netloomd.out'));
    if (refused) throw new LabFailure(`host ${h}: its netloomd refused its settings: ${refused}`);
    if (i < 280) pid = spawn();
  }
  throw new LabFailure(`host ${h}: its netloomd did not answer on ${host.socket} (see ${dir}/netloomd.log)`);
}

/** The last line of a netloomd's output if it refuses a setting (daemon.json key or value). */
function settingRefused(out: string): string | undefined {
  let text = '';
  try {
    text = readFileSync(out, 'utf8').slice(-2000);
  } catch {
    return undefined;
  }
  const last = text.trim().split('\n').pop() ?? '';
  return /config file|invalid --|conflict/.test(last) ? last : undefined;
}

/** The lab's underlay, etcd and hosts; what already runs is kept (up is idempotent). */
export async function startCluster(lab: Lab, progs: Programs): Promise<{ state: LabState; reused: boolean }> {
  const old = readState(lab.name);
  if (old && !old.hosts) throw new LabFailure(`lab ${lab.name} is up as a single-host lab: run netloom lab down first`);
  const dir = runDir(lab.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const labNs = hostNsName(lab.name);
  await ensureNs(labNs);
  const br = await run('ip', ['-n', labNs, 'link', 'show', UNDERLAY_BRIDGE], { allowFail: true });
  if (br.exitCode !== 0) {
    await run('ip', ['-n', labNs, 'link', 'add', UNDERLAY_BRIDGE, 'type', 'bridge']);
    for (let m = 1; m <= lab.cluster.etcdMembers; m++) {
      const a = underlayAddress(lab.cluster.underlay, 'etcd', m);
      await run('ip', ['-n', labNs, 'addr', 'add', formatIfAddr(a), 'dev', UNDERLAY_BRIDGE]);
    }
    await run('ip', ['-n', labNs, 'link', 'set', UNDERLAY_BRIDGE, 'up']);
  }
  const etcd = Array.from({ length: lab.cluster.etcdMembers }, (_, m) => (alive(old?.etcd?.[m]) ? old!.etcd![m] : startEtcdMember(lab, m + 1)));
  let state: LabState = {
    name: lab.name,
    file: lab.file,
    isolated: true,
    hostNs: labNs,
    socket: '',
    started: old?.started ?? new Date().toISOString(),
    serve: old?.serve ?? {},
    etcd,
    hosts: old?.hosts ?? {},
    ...(old?.netem ? { netem: old.netem } : {}),
  };
  writeState(state);
  let healthy = false;
  for (let i = 0; i < 100 && !(healthy = await etcdHealthy(lab)); i++) await sleep(100);
  if (!healthy) throw new LabFailure(`the lab's etcd did not become healthy (see ${dir}/etcd-m1.log)`);
  let reused = true;
  const hosts: Record<string, HostState> = { ...(state.hosts ?? {}) };
  for (const [i, h] of lab.hosts.entries()) {
    const ns = clusterHostNs(lab, h);
    const a = underlayAddress(lab.cluster.underlay, 'host', i);
    const uplink = `u-${h}`;
    const before = hosts[h] ?? { ns, socket: join(dir, h, 'netloomd.sock'), address: a.ip, uplink };
    // Known to the state before anything of it is made: down removes it even if its netloomd never starts.
    hosts[h] = before;
    state = { ...state, hosts };
    writeState(state);
    await ensureNs(ns);
    if ((await run('ip', ['-n', labNs, 'link', 'show', uplink], { allowFail: true })).exitCode !== 0) {
      await run('ip', ['-n', labNs, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', labNs, 'link', 'set', uplink, 'master', UNDERLAY_BRIDGE, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', formatIfAddr(a), 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    hosts[h] = await startHostDaemon(lab, progs, h, before);
    if (hosts[h].daemonPid !== before.daemonPid) reused = false;
    state = { ...state, hosts };
    writeState(state);
  }
  const first = hosts[lab.hosts[0]];
  state = { ...state, hosts, socket: first.socket, ...(first.daemonPid ? { daemonPid: first.daemonPid } : {}) };
  writeState(state);
  return { state, reused };
}

/** A command in one host's namespace of a running multi-host lab. */
export function inHost(state: LabState, h: string, argv: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  const ns = state.hosts?.[h]?.ns;
  if (!ns) throw new LabFailure(`host ${h} is not up (lab ${state.name})`);
  return inNamespace(ns, argv, timeoutMs);
}

/** Stops a process by PID: SIGTERM, then SIGKILL after 5 s. */
export async function stopPid(pid: number | undefined): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid as number, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid as number, 'SIGKILL');
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
}
