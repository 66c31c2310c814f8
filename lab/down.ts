// `netloom lab down`: removes responders (by PID), sandboxes, networks and, for an isolated lab,
// its netloomd (by PID) and host namespace; then looks for anything of the lab still there.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, ApiError } from '../cli/client.js';
import { run } from '../system/exec.js';
import { ETC_NETNS } from '../system/files.js';
import { NETNS_DIR } from '../system/netns.js';
import { utsPath } from '../system/uts.js';
import type { Lab } from './model.js';
import { creationOrder } from './plan.js';
import { alive, daemonAnswers, hostNsName, readState, removeRunDir, socketFor, startIsolated, stopDaemon, type LabState, type Programs } from './runtime.js';
import { startCluster, stopPid } from './cluster.js';
import type { Say } from './up.js';

const enc = encodeURIComponent;

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}

/** Returns what is left of the lab (empty: all gone). */
export async function labDown(lab: Lab, say: Say, progs: Programs, hostSocket?: string): Promise<string[]> {
  let state = readState(lab.name);
  // The lab's netloomd died (a crash, a reboot of the lab host): start it again on the same data
  // dir, so it restores its records and removes what they describe, rather than guessing.
  if (state?.hosts) {
    const s = state;
    const answering = await Promise.all(Object.values(s.hosts ?? {}).map((h) => daemonAnswers(h.socket)));
    // A partitioned host or a stopped etcd: the underlay and etcd come back first (startCluster).
    if (answering.some((a) => !a) || s.etcd?.some((p) => !alive(p)) || lab.hosts.some((h) => !s.hosts?.[h])) {
      for (const h of Object.values(s.hosts ?? {})) await run('ip', ['-n', hostNsName(lab.name), 'link', 'set', h.uplink, 'up'], { allowFail: true });
      state = await startCluster(lab, progs).then(
        (r) => r.state,
        () => state,
      );
    } else {
      for (const h of Object.values(s.hosts ?? {})) await run('ip', ['-n', hostNsName(lab.name), 'link', 'set', h.uplink, 'up'], { allowFail: true });
    }
  } else if (state?.isolated && !(await daemonAnswers(state.socket))) {
    state = await startIsolated(lab, progs).then(
      (r) => r.state,
      () => state,
    );
  }
  const errors: string[] = [];
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // Responders at once: each is given 2 s after SIGTERM.
  await Promise.all(
    Object.entries(state?.serve ?? {}).map(([node, pid]) =>
      step(`stop responder of ${node}`, async () => {
        if (!alive(pid)) return;
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      }),
    ),
  );
  const socket = state?.socket ?? hostSocket;
  const whole = state && (await ownsEverything(lab, state));
  if (whole) await step('remove the lab wholesale', () => dropWhole(lab, whole));
  else if (socket && (await daemonAnswers(socket))) {
    // Container-mode nodes first: they hold their target's namespace.
    for (const node of creationOrder(lab).reverse()) {
      const mine = state ? socketFor(lab, state, node.key) : socket;
      await step(`remove sandbox ${node.sandbox}`, () => ignoreMissing(api(mine, 'DELETE', `/sandboxes/${enc(node.sandbox)}`)));
    }
    for (const n of lab.networks.filter((x) => !x.builtin)) {
      await step(`remove network ${n.name}`, () => ignoreMissing(api(socket, 'DELETE', `/networks/${enc(n.name)}`)));
    }
  }
  // Something the daemon could not remove: keep it and its namespace, so a later down can retry.
  if (state?.isolated && !errors.length) {
    const s = state;
    for (const [h, host] of Object.entries(s.hosts ?? {})) {
      await step(`stop host ${h}'s netloomd`, () => stopPid(host.daemonPid));
      if (existsSync(`/run/netns/${host.ns}`)) await step(`delete namespace ${host.ns}`, async () => void (await run('ip', ['netns', 'del', host.ns])));
    }
    for (const [m, pid] of (s.etcd ?? []).entries()) await step(`stop etcd member ${m + 1}`, () => stopPid(pid));
    if (!s.hosts) await step('stop the lab netloomd', () => stopDaemon(s));
    const ns = hostNsName(lab.name);
    if (existsSync(`/run/netns/${ns}`)) await step(`delete namespace ${ns}`, async () => void (await run('ip', ['netns', 'del', ns])));
  }
  const left = [...errors, ...(await leftovers(lab, state, socket))];
  for (const n of lab.nodes) {
    if (existsSync(join(ETC_NETNS, n.sandbox))) left.push(`files ${join(ETC_NETNS, n.sandbox)}`);
    if (existsSync(utsPath(n.sandbox))) left.push(`UTS namespace ${utsPath(n.sandbox)}`);
  }
  if (!left.length) removeRunDir(lab.name);
  say(left.length ? `lab ${lab.name}: ${left.length} thing(s) left` : `lab ${lab.name}: down, nothing of it left`);
  return left;
}

/** Everything of the lab that may still exist: namespaces, processes, netloomd's records. */
export async function leftovers(lab: Lab, state: LabState | undefined, socket: string | undefined): Promise<string[]> {
  const left: string[] = [];
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  for (const n of lab.nodes) if (netns.includes(n.sandbox)) left.push(`namespace ${n.sandbox}`);
  if (netns.includes(hostNsName(lab.name))) left.push(`namespace ${hostNsName(lab.name)}`);
  for (const [node, pid] of Object.entries(state?.serve ?? {})) if (alive(pid)) left.push(`responder of ${node} (pid ${pid})`);
  if (state?.isolated && alive(state.daemonPid)) left.push(`the lab's netloomd (pid ${state.daemonPid})`);
  for (const [h, host] of Object.entries(state?.hosts ?? {})) {
    if (alive(host.daemonPid) && host.daemonPid !== state?.daemonPid) left.push(`host ${h}'s netloomd (pid ${host.daemonPid})`);
    if (netns.includes(host.ns)) left.push(`namespace ${host.ns}`);
  }
  for (const [m, pid] of (state?.etcd ?? []).entries()) if (alive(pid)) left.push(`etcd member ${m + 1} (pid ${pid})`);
  if (socket && !state?.isolated && (await daemonAnswers(socket))) {
    const sbs = await api<{ Name: string }[]>(socket, 'GET', '/sandboxes');
    const nets = await api<{ Name: string }[]>(socket, 'GET', '/networks');
    const mine = new Set([...lab.nodes.map((n) => n.sandbox), ...lab.networks.filter((n) => !n.builtin).map((n) => n.name)]);
    for (const s of sbs) if (mine.has(s.Name)) left.push(`sandbox ${s.Name}`);
    for (const n of nets) if (mine.has(n.Name)) left.push(`network ${n.Name}`);
  }
  return left;
}

/** The sandboxes to remove when the lab's own netloomd (single host) holds nothing but the lab's:
 *  then down need not ask it to remove them one by one. undefined otherwise (the machine's
 *  netloomd, a multi-host lab, a sandbox someone else made there, which netloomd must refuse). */
async function ownsEverything(lab: Lab, s: LabState): Promise<(LabState & { sandboxes: string[] }) | undefined> {
  if (!s.isolated || s.hosts || !s.hostNs || s.hostNs !== hostNsName(lab.name) || !(await daemonAnswers(s.socket))) return undefined;
  const mine = new Set(lab.nodes.map((n) => n.sandbox));
  const there = (await api<{ Name: string }[]>(s.socket, 'GET', '/sandboxes')).map((x) => x.Name);
  return there.every((n) => mine.has(n)) ? { ...s, sandboxes: [...mine] } : undefined;
}

/** Stops the lab's netloomd, then deletes every namespace of the lab: the nodes' (with their
 *  /etc/netns files and UTS namespaces) and the lab host's, which takes the bridges, veths and
 *  iptables netloomd made there with it. Its records go with the run dir. One umount for all. */
async function dropWhole(lab: Lab, s: LabState & { sandboxes: string[] }): Promise<void> {
  await stopDaemon(s);
  if (alive(s.daemonPid)) throw new Error(`the lab's netloomd (pid ${s.daemonPid}) did not stop`);
  const mounts = [...s.sandboxes.flatMap((sb) => [utsPath(sb), join(NETNS_DIR, sb)]), join(NETNS_DIR, hostNsName(lab.name))].filter((f) => existsSync(f));
  // umount -l is what `ip netns del` does (MNT_DETACH); a file that is no mount is removed as well.
  if (mounts.length) await run('umount', ['-l', ...mounts], { allowFail: true });
  for (const f of mounts) rmSync(f, { force: true });
  for (const sb of s.sandboxes) rmSync(join(ETC_NETNS, sb), { recursive: true, force: true });
}
