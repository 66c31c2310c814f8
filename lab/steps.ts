// The timeline (`steps:`), run by `lab check` after the top-level expectations: each step's
// actions in order, then its expectations polled (never slept) until they all hold or its
// deadline passes. The time at which they first held is the step's time to heal. A step with
// `repeat: N` runs N times, `every` apart (start to start): flapping.
import { api } from '../cli/client.js';
import { run } from '../system/exec.js';
import { labCheck } from './check.js';
import { labFacts, type Facts } from './facts.js';
import { applyNetem, declared, targetKey, type Target } from './impair.js';
import { describeAction, nodeByKey, nsOwner, type Action, type Lab, type StepSpec } from './model.js';
import { mergeNetem, type Netem } from './netem.js';
import { attachBody } from './plan.js';
import type { CaseResult, Suite } from './report.js';
import { alive, inLabHost, inNode, LabFailure, readState, socketFor, startIsolated, stopDaemon, writeState, type LabState, type Programs } from './runtime.js';
import { labUp } from './up.js';
import { inHost, startEtcdMember, startHostDaemon, stopPid } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;
/** Between two polls of a step's expectations. */
const POLL_MS = 200;

/** A netem action's target: a point-to-point link by one of its ends, or a node's attachment. */
export function resolveTarget(lab: Lab, target: string): Target {
  const [node, place] = target.split(':');
  const index = lab.links.findIndex((l) => [l.a, l.b].some((e) => e.node === node && e.ifname === place));
  return index >= 0 ? { kind: 'link', index } : { kind: 'attachment', node, network: place };
}

/** The impairments in force: what steps set (kept in the lab's state), else what the file says. */
function inForce(lab: Lab, state: LabState): Record<string, Partial<Netem>> {
  return state.netem ?? Object.fromEntries(declared(lab).map((d) => [targetKey(d.target), d.netem]));
}

class Runner {
  constructor(
    readonly lab: Lab,
    public state: LabState,
    readonly progs: Programs,
    public facts: Facts,
  ) {}

  private needOwnDaemon(what: string): void {
    if (!this.state.isolated) throw new LabFailure(`${what} needs the lab's own netloomd and host namespace: drop --host`);
  }

  private async refreshFacts(): Promise<void> {
    // While netloomd is down the kernel keeps what it made: probe with what was known.
    this.facts = await labFacts(this.lab, this.state).catch(() => this.facts);
  }

  async act(a: Action): Promise<string | undefined> {
    const lab = this.lab;
    switch (a.kind) {
      case 'link': {
        const r = await run('ip', ['-n', nsOwner(lab, a.node).sandbox, 'link', 'set', a.ifname, a.state], { allowFail: true });
        if (r.exitCode !== 0) throw new LabFailure(r.stderr.trim() || `exit ${r.exitCode}`);
        return undefined;
      }
      case 'netem': {
        const target = resolveTarget(lab, a.target);
        const key = targetKey(target);
        const all = { ...inForce(lab, this.state) };
        const next = mergeNetem(all[key], a.netem, a.clear);
        const dir = next?.direction ?? 'both';
        // The side a narrower direction leaves out is cleared, so only what is in force remains.
        const items = [
          ...(dir === 'both' ? [] : [{ target, direction: dir === 'a-to-b' ? ('b-to-a' as const) : ('a-to-b' as const) }]),
          next ? { target, netem: next, direction: dir } : { target, direction: 'both' as const },
        ];
        await applyNetem(lab, this.state, this.facts, items);
        if (next) all[key] = next;
        else delete all[key];
        this.save({ ...this.state, netem: all });
        return undefined;
      }
      case 'connect':
      case 'disconnect': {
        const node = nodeByKey(lab, a.node)!;
        const net = lab.networks.find((n) => n.key === a.network)!.name;
        const body = a.kind === 'connect' ? attachBody(lab, node, a.network) : { Container: node.sandbox, Force: false };
        await api(socketFor(lab, this.state, a.node), 'POST', `/networks/${enc(net)}/${a.kind}`, body);
        await this.refreshFacts();
        return undefined;
      }
      case 'node':
        return a.state === 'stop' ? this.stopNode(a.node) : this.startNodes();
      case 'daemon':
        return this.lab.hosts.length ? this.hostDaemons(a.op, a.host ? [a.host] : this.lab.hosts) : this.daemon(a.op);
      case 'etcd': {
        const members = a.member !== undefined ? [a.member] : Array.from({ length: lab.cluster.etcdMembers }, (_, m) => m + 1);
        const pids = [...(this.state.etcd ?? [])];
        for (const m of members) {
          if (a.op === 'stop') await stopPid(pids[m - 1]);
          else if (!alive(pids[m - 1])) pids[m - 1] = startEtcdMember(lab, m);
        }
        this.save({ ...this.state, etcd: pids });
        return `member(s) ${members.join(', ')}`;
      }
      case 'partition':
      case 'heal': {
        // A partitioned host's link to the underlay bridge is down: it reaches neither the other
        // hosts nor etcd, and they do not reach it.
        const hosts = a.kind === 'heal' ? lab.hosts : a.hosts;
        for (const h of hosts) {
          const r = await run('ip', ['-n', this.state.hostNs!, 'link', 'set', this.state.hosts![h].uplink, a.kind === 'heal' ? 'up' : 'down'], {
            allowFail: true,
          });
          if (r.exitCode !== 0) throw new LabFailure(r.stderr.trim() || `exit ${r.exitCode}`);
        }
        return undefined;
      }
      case 'iptables':
        return this.flush(a);
      case 'exec': {
        const r = await inNode(nodeByKey(lab, a.node)!.sandbox, ['sh', '-c', a.run], 30_000);
        if (r.exitCode !== 0) throw new LabFailure(`exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`);
        return r.stdout.trim().split('\n')[0] || undefined;
      }
      case 'wait':
        await sleep(a.ms);
        return undefined;
    }
  }

  /** iptables -F in the lab's host namespace; in a multi-host lab in each named host's (every
   *  host's by default), never the lab's own, which holds only the underlay and etcd. */
  private async flush(a: Extract<Action, { kind: 'iptables' }>): Promise<string | undefined> {
    this.needOwnDaemon('iptables flush');
    const lab = this.lab;
    const argv = ['iptables', '-w', '-t', a.table, '-F', ...(a.chain ? [a.chain] : [])];
    const hosts = lab.hosts.length ? (a.host ? [a.host] : lab.hosts) : [undefined];
    for (const h of hosts) {
      const r = h ? await inHost(this.state, h, argv) : await inLabHost(this.state, argv);
      if (r.exitCode !== 0) throw new LabFailure(`${h ? `host ${h}: ` : ''}${r.stderr.trim() || `exit ${r.exitCode}`}`);
    }
    return lab.hosts.length && !a.host ? `on ${hosts.join(', ')}` : undefined;
  }

  /** The node's sandbox removed (its responders stopped by PID), as a stopped container's. */
  private async stopNode(key: string): Promise<string | undefined> {
    const lab = this.lab;
    const owner = nsOwner(lab, key);
    const sharing = lab.nodes.filter((n) => nsOwner(lab, n.key).key === owner.key);
    const serve = { ...this.state.serve };
    for (const n of sharing) {
      const pid = serve[n.key];
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      delete serve[n.key];
    }
    this.save({ ...this.state, serve });
    // Nodes sharing its namespace (network_mode container:) go first, as Docker refuses otherwise.
    for (const n of [...sharing.filter((x) => x.key !== owner.key), owner]) {
      await api(socketFor(lab, this.state, n.key), 'DELETE', `/sandboxes/${enc(n.sandbox)}`);
    }
    return sharing.length > 1
      ? `with ${sharing
          .filter((n) => n.key !== owner.key)
          .map((n) => n.key)
          .join(', ')}`
      : undefined;
  }

  /** What is missing is made again as the file says (up is idempotent): the sandbox with the same
   *  settings, its networks, links, impairments, responders and exec commands. */
  private async startNodes(): Promise<string | undefined> {
    const said: string[] = [];
    this.state = await labUp(this.lab, this.progs, { host: !this.state.isolated, socket: this.state.socket }, (l) => said.push(l));
    await this.refreshFacts();
    return said.find((l) => /nodes/.test(l))?.replace(/^\[\d+\/\d+\] nodes\s+/, '');
  }

  private async daemon(op: 'kill' | 'stop' | 'start' | 'restart'): Promise<string | undefined> {
    this.needOwnDaemon(`daemon ${op}`);
    const pid = this.state.daemonPid;
    if (op === 'kill') {
      if (!alive(pid)) throw new LabFailure(`the lab's netloomd (pid ${pid}) is not running`);
      process.kill(pid as number, 'SIGKILL');
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
      return `pid ${pid}`;
    }
    if (op === 'stop' || op === 'restart') await stopDaemon(this.state);
    if (op === 'start' || op === 'restart') {
      const r = await startIsolated(this.lab, this.progs);
      this.state = { ...r.state, netem: this.state.netem ?? r.state.netem };
      this.save(this.state);
      await this.refreshFacts();
      return `pid ${this.state.daemonPid}`;
    }
    return `pid ${pid}`;
  }

  /** Per host of a multi-host lab: kill (SIGKILL), stop, start (same data dir), restart. */
  private async hostDaemons(op: 'kill' | 'stop' | 'start' | 'restart', names: readonly string[]): Promise<string | undefined> {
    const hosts = { ...(this.state.hosts ?? {}) };
    const pids: string[] = [];
    for (const h of names) {
      const host = hosts[h];
      if (op === 'kill') {
        if (!alive(host.daemonPid)) throw new LabFailure(`host ${h}'s netloomd (pid ${host.daemonPid}) is not running`);
        process.kill(host.daemonPid as number, 'SIGKILL');
        for (let i = 0; i < 100 && alive(host.daemonPid); i++) await sleep(20);
      }
      if (op === 'stop' || op === 'restart') await stopPid(host.daemonPid);
      if (op === 'start' || op === 'restart') hosts[h] = await startHostDaemon(this.lab, this.progs, h, host);
      pids.push(`${h} pid ${hosts[h].daemonPid}`);
    }
    const first = hosts[this.lab.hosts[0]];
    this.save({ ...this.state, hosts, socket: first.socket, ...(first.daemonPid ? { daemonPid: first.daemonPid } : {}) });
    if (op === 'start' || op === 'restart') await this.refreshFacts();
    return pids.join(', ');
  }

  private save(s: LabState): void {
    this.state = s;
    writeState(s);
  }
}

/** Every step (each repetition), as one suite each: the actions' cases, then the expectations'. */
export async function runSteps(lab: Lab, state: LabState, progs: Programs, facts: Facts, say: (line: string) => void): Promise<Suite[]> {
  const r = new Runner(lab, readState(lab.name) ?? state, progs, facts);
  const suites: Suite[] = [];
  for (const [i, st] of lab.steps.entries()) {
    for (let k = 1; k <= st.repeat; k++) {
      const t0 = Date.now();
      const s = await runStep(r, st, i, k);
      suites.push(s);
      const info = s.step!;
      say(
        `step ${i + 1}${st.repeat > 1 ? ` (${k}/${st.repeat})` : ''} ${st.name}: ${
          info.healedMs !== undefined ? `held after ${(info.healedMs / 1000).toFixed(2)} s (within ${st.within})` : `did not hold within ${st.within}`
        }`,
      );
      if (k < st.repeat && st.everyMs) await sleep(Math.max(0, st.everyMs - (Date.now() - t0)));
    }
  }
  return suites;
}

async function runStep(r: Runner, st: StepSpec, index: number, run: number): Promise<Suite> {
  const cases: CaseResult[] = [];
  let broken = false;
  for (const a of st.actions) {
    const name = `do ${describeAction(a)}`;
    try {
      const note = await r.act(a);
      cases.push({ name: note ? `${name} (${note})` : name, status: 'pass' });
    } catch (err) {
      broken = true;
      cases.push({ name, status: 'error', message: err instanceof Error ? err.message : String(err) });
      break;
    }
  }
  const done = Date.now();
  const sub = { ...r.lab, expect: st.expect, steps: [] };
  let healedMs: number | undefined;
  let polls = 0;
  let last: CaseResult[] = [];
  // Polled until all hold or the deadline passes; at least one poll, even with a deadline of 0.
  while (!broken) {
    polls++;
    const rep = await labCheck(sub, r.state, r.progs, r.facts);
    last = rep.suites.flatMap((s) => s.cases.map((k) => ({ ...k, name: `${s.name}: ${k.name}` })));
    if (last.every((k) => k.status === 'pass')) {
      healedMs = Date.now() - done;
      break;
    }
    if (Date.now() - done >= st.withinMs) break;
    await sleep(POLL_MS);
  }
  const name = `step ${index + 1}${st.repeat > 1 ? ` (${run}/${st.repeat})` : ''}: ${st.name}`;
  return {
    kind: 'step',
    name,
    cases: [...cases, ...last],
    step: { index, name: st.name, run, runs: st.repeat, withinMs: st.withinMs, ...(healedMs !== undefined ? { healedMs } : {}), polls },
  };
}
