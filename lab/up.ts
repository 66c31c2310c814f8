// `netloom lab up`: idempotent, phase by phase (host, networks, nodes, links, netem, services, commands,
// settings check). Anything already there is kept; what is missing is made.
import { addressOf, canonicalCidr } from '../common/cidr.js';
import { api, ApiError } from '../cli/client.js';
import { spawnDetachedProgram } from '../system/process.js';
import { attachmentsOf, nsOwner, requirementsOf, type Lab, type LinkEnd } from './model.js';
import { connectBodies, creationLevels, networkBody, sandboxBody } from './plan.js';
import { pool } from './pool.js';
import { alive, attachHost, inNode, LabFailure, runDir, socketFor, startIsolated, writeState, type LabState, type Programs } from './runtime.js';
import { join } from 'node:path';
import { labFacts } from './facts.js';
import { clusterHostNs, startCluster } from './cluster.js';
import { applyNetem, declared } from './impair.js';
import type { NetHandle, NsRef } from '../system/types.js';

export type Say = (line: string) => void;

const enc = encodeURIComponent;

interface SandboxView {
  Name: string;
  Networks: Record<
    string,
    {
      Interface?: string;
      IPv4Address: string;
      Aliases?: string[];
      Ports?: { proto: string; hostIP: string; hostPort: number; containerPort: number; count: number }[];
    }
  >;
  [k: string]: unknown;
}

async function phase<T>(say: Say, n: number, total: number, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    const r = await fn();
    say(`[${n}/${total}] ${what.padEnd(9)} ${typeof r === 'string' ? r : 'ok'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return r;
  } catch (err) {
    say(`[${n}/${total}] ${what.padEnd(9)} FAILED`);
    throw err instanceof LabFailure ? err : new LabFailure(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export interface UpOptions {
  readonly host: boolean;
  readonly socket?: string;
}

export async function labUp(lab: Lab, progs: Programs, opts: UpOptions, say: Say): Promise<LabState> {
  const T = 8;
  let state!: LabState;
  // The system layer (and the netlink package, 50-150 ms of CPU to load) is only needed by the
  // links phase: loaded while the lab's netloomd starts, when this process has nothing to do.
  const system = import('../system/index.js');
  system.catch(() => undefined); // awaited (and its failure reported) by the links phase
  await phase(say, 1, T, 'host', async () => {
    if (opts.host && lab.hosts.length) throw new LabFailure('a multi-host lab makes its own hosts: drop --host');
    if (opts.host) {
      state = await attachHost(lab, opts.socket);
      return `the machine's netloomd (${state.socket})`;
    }
    const r = lab.hosts.length ? await startCluster(lab, progs) : await startIsolated(lab, progs);
    state = r.state;
    if (lab.hosts.length)
      return `${r.reused ? 'reusing' : 'made'} ${lab.hosts.length} host namespace(s) (${lab.hosts.map((h) => clusterHostNs(lab, h)).join(', ')}), each with its own netloomd, on an underlay with etcd (${lab.cluster.etcdMembers} member(s)) in ${state.hostNs}`;
    return `${r.reused ? 'reusing' : 'made'} namespace ${state.hostNs} with its own netloomd (pid ${state.daemonPid})`;
  });
  const socket = state.socket;
  await phase(say, 2, T, 'networks', async () => {
    // One list, then the missing ones in the file's order (a network without a subnet gets the
    // next free one: the order keeps that the same from run to run).
    const there = new Set((await api<{ Name: string }[]>(socket, 'GET', '/networks')).map((n) => n.Name));
    let made = 0;
    for (const n of lab.networks.filter((x) => !x.builtin)) {
      if (there.has(n.name)) continue;
      await api(socket, 'POST', '/networks/create', networkBody(n));
      made++;
    }
    return `${made} made, ${lab.networks.length - 1 - made} already there`;
  });
  const fresh = new Set<string>();
  await phase(say, 3, T, 'nodes', async () => {
    await makeNodes(lab, state, fresh);
    return `${fresh.size} made, ${lab.nodes.length - fresh.size} already there`;
  });
  await phase(say, 4, T, 'links', async () => {
    const { openHandle } = await system;
    const made = (await pool(lab.links, AT_ONCE, (l) => ensureLink(openHandle, lab, l.a, l.b))).filter(Boolean).length;
    return `${made} veth pair(s) made, ${lab.links.length - made} already there`;
  });
  await phase(say, 5, T, 'netem', async () => {
    const items = declared(lab);
    if (!items.length) return 'none declared';
    const lines = await applyNetem(lab, state, await labFacts(lab, state), items);
    return `${items.length} impairment(s), ${lines} tc qdisc(s)`;
  });
  await phase(say, 6, T, 'services', async () => {
    const r = await startServices(lab, progs, state);
    state = r.state;
    return `${r.started} responder(s) started`;
  });
  await phase(say, 7, T, 'commands', async () => `${await runCommands(lab, fresh)} ran`);
  await phase(say, 8, T, 'settings', async () => {
    const missing = await unappliedSettings(lab, state);
    if (missing.length) {
      throw new LabFailure(
        `this netloomd does not apply ${missing.join('; ')}: the lab cannot run as written (netloom lab down ${lab.file} removes what was made)`,
      );
    }
    const used = requirementsOf(lab);
    return used.length ? `${used.join(', ')} applied` : 'nothing special to verify';
  });
  return state;
}

/** Phase 6: a responder per node that serves ports, unless one is alive already; the state records their pids. */
async function startServices(lab: Lab, progs: Programs, state: LabState): Promise<{ state: LabState; started: number }> {
  const serve = { ...state.serve };
  let started = 0;
  for (const node of lab.nodes.filter((n) => n.serve.length)) {
    if (alive(serve[node.key])) continue;
    const specs = node.serve.map((s) => `${s.proto}/${s.port}`);
    serve[node.key] = spawnDetachedProgram(
      'ip',
      ['netns', 'exec', node.sandbox, process.execPath, progs.cliScript, 'lab', '_serve', node.key, ...specs],
      join(runDir(lab.name), `serve-${node.key}.log`),
    );
    started++;
  }
  const next = { ...state, serve };
  writeState(next);
  // A probe right after up must find the responders listening.
  if (started) await waitListening(lab, serve);
  return { state: next, started };
}

/** Phase 7: each fresh node's exec commands, in order; the first that fails stops the lab. */
async function runCommands(lab: Lab, fresh: ReadonlySet<string>): Promise<number> {
  let ran = 0;
  for (const node of lab.nodes.filter((n) => fresh.has(n.key))) {
    for (const cmd of node.exec) {
      const r = await inNode(node.sandbox, ['sh', '-c', cmd]);
      if (r.exitCode !== 0) throw new LabFailure(`node ${node.key}: exec "${cmd}" exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
      ran++;
    }
  }
  return ran;
}

async function waitListening(lab: Lab, serve: Record<string, number>): Promise<void> {
  for (const node of lab.nodes.filter((n) => n.serve.length)) {
    for (let i = 0; i < 100; i++) {
      const r = await inNode(node.sandbox, ['ss', '-Hlntu']);
      const ports = new Set([...r.stdout.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
      if (node.serve.every((s) => ports.has(s.port))) break;
      if (!alive(serve[node.key]))
        throw new LabFailure(
          `node ${node.key}: the responder for ${node.serve.map((s) => `${s.proto}/${s.port}`).join(', ')} exited (see ${runDir(lab.name)}/serve-${node.key}.log)`,
        );
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

/** Requests (or `ip` runs) in flight at once: netloomd runs its operations one at a time, so more
 *  only hides the round trips; each `ip` is a process on a 2-core machine. */
const AT_ONCE = 8;

/** Sandboxes and their further networks: what netloomd already has (one list per netloomd) is
 *  kept, the rest made, a level at a time (a container-mode node after its target), AT_ONCE
 *  requests in flight. Fresh nodes' keys go into `fresh`. */
async function makeNodes(lab: Lab, state: LabState, fresh: Set<string>): Promise<void> {
  const known = new Map<string, SandboxView>();
  for (const sock of new Set(lab.nodes.map((n) => socketFor(lab, state, n.key)))) {
    for (const v of await api<SandboxView[]>(sock, 'GET', '/sandboxes')) known.set(`${sock}\u0000${v.Name}`, v);
  }
  for (const level of creationLevels(lab)) {
    await pool(level, AT_ONCE, async (node) => {
      const mine = socketFor(lab, state, node.key);
      let view = known.get(`${mine}\u0000${node.sandbox}`);
      if (!view) {
        // One that is not listed may still be there, half made (not ready): netloomd says 409.
        const made = await api(mine, 'POST', '/sandboxes/create', sandboxBody(lab, node)).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ApiError && err.status === 409) return false;
            throw err;
          },
        );
        if (made) fresh.add(node.key);
        else view = await api<SandboxView>(mine, 'GET', `/sandboxes/${enc(node.sandbox)}`);
      }
      // A fresh sandbox has its first network only.
      for (const c of connectBodies(lab, node)) {
        if (!view?.Networks[c.network]) await api(mine, 'POST', `/networks/${enc(c.network)}/connect`, c.body);
      }
    });
  }
}

/** A point-to-point veth pair between two nodes' namespaces, outside any network, made over
 *  rtnetlink from this process (no `ip` per step). A pair whose first end is there is kept as is. */
async function ensureLink(openHandle: (ns: NsRef) => NetHandle, lab: Lab, a: LinkEnd, b: LinkEnd): Promise<boolean> {
  const ha = openHandle({ kind: 'named', name: nsOwner(lab, a.node).sandbox });
  const hb = openHandle({ kind: 'named', name: nsOwner(lab, b.node).sandbox });
  try {
    if (await ha.link(a.ifname)) return false;
    // addVeth sets the first end up; the alias is the lab's, not a netloom tag (netloom:...).
    await ha.addVeth({ hostName: a.ifname, peerName: b.ifname, peerNs: hb.ns, alias: `lab ${lab.name} link` });
    if (a.ip) await ha.addAddr(a.ifname, a.ip);
    if (b.ip) await hb.addAddr(b.ifname, b.ip);
    await hb.setUp(b.ifname);
    return true;
  } finally {
    ha.close();
    hb.close();
  }
}

const embeddedDns = (lab: Lab, key: string): boolean => attachmentsOf(lab, key).some((a) => a.network !== 'bridge');

/** Settings an older netloomd accepts and silently drops: each is looked for where it must show. */
async function unappliedSettings(lab: Lab, state: LabState): Promise<string[]> {
  const socket = state.socket;
  const missing: string[] = [];
  for (const node of lab.nodes) {
    const files = async (path: string) => (await inNode(node.sandbox, ['cat', path])).stdout;
    if (node.hostname) {
      const view = await api<Record<string, unknown>>(socketFor(lab, state, node.key), 'GET', `/sandboxes/${enc(node.sandbox)}`);
      const shown = JSON.stringify(view).includes(`"${node.hostname}"`) || (await files('/etc/hostname')).trim() === node.hostname;
      if (!shown) missing.push(`hostname ${node.hostname} (node ${node.key})`);
    }
    // Without a user-defined network there is no embedded DNS: --dns servers belong in resolv.conf
    // (Docker's behaviour). With one, they are the embedded DNS's upstreams, not checked here (that
    // would mean asking them).
    if (node.dns.length && !embeddedDns(lab, node.key) && nsOwner(lab, node.key).mode.kind !== 'host') {
      const resolv = await files('/etc/resolv.conf');
      for (const d of node.dns)
        if (!new RegExp(`^nameserver\\s+${d.replace(/[.]/g, '\\.')}\\s*$`, 'm').test(resolv))
          missing.push(`dns ${d} (node ${node.key}: not in its resolv.conf)`);
    }
    const hosts = node.links.length || node.addHosts.length ? await files('/etc/hosts') : '';
    for (const l of node.links) {
      const alias = l.split(':')[1];
      if (!new RegExp(`\\s${alias.replace(/[.]/g, '\\.')}(\\s|$)`, 'm').test(hosts))
        missing.push(`links (${l.replace(`${lab.name}-`, '')} on node ${node.key})`);
    }
    for (const h of node.addHosts) {
      const [name, ip] = h.split(':');
      if (!new RegExp(`^${ip.replace(/[.]/g, '\\.')}\\s.*\\b${name}\\b`, 'm').test(hosts)) missing.push(`add_hosts (${h} on node ${node.key})`);
    }
  }
  const bip = lab.daemon.bip;
  if (typeof bip === 'string') {
    const br = await api<{ IPAM: { Config: { Subnet: string; Gateway?: string }[] } }>(socket, 'GET', '/networks/bridge');
    // Network inspect may show a gateway only when one was chosen (Docker 20.10): the subnet tells too.
    if (!br.IPAM.Config.some((c) => c.Gateway === addressOf(bip) || c.Subnet === canonicalCidr(bip)))
      missing.push(`daemon bip ${bip} (the default bridge is ${br.IPAM.Config.map((c) => c.Subnet).join(', ')})`);
  }
  return missing;
}
