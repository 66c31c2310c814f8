// A *.loom.yaml file into a Lab: YAML with source positions and the shipped JSON Schema
// (lab/labschema.ts), then the checks a schema cannot express (references between nodes,
// networks and links). Every error names FILE:LINE:COL. Pure: the caller reads the file.
import type { Action, Attachment, DnsAnswer, Expectations, Lab, StepSpec, LinkSpec, NetSpec, NodeMode, NodeSpec, Probe, Requirement } from './model.js';
import { checkCount } from './model.js';
import { durationMs, netemProblem, percent, type Netem } from './netem.js';
import { LabFileError, readLabYaml, type Located, type Path } from './labschema.js';
import { daemonSettings } from './hostsettings.js';

export { LabFileError };

/** Parses and checks a topology; throws LabFileError (FILE:LINE:COL: ...) on the first problem. */
export function parseLab(text: string, file: string): Lab {
  const { raw, loc } = readLabYaml(text, file);
  return build(raw as RawLab, file, loc);
}

interface RawAttach {
  ip?: string;
  aliases?: string[];
  netem?: Partial<Netem>;
}
type RawExpect = NonNullable<RawLab['expect']>;
interface RawNode {
  host?: string;
  networks?: string[] | Record<string, RawAttach | null>;
  network_mode?: string;
  hostname?: string;
  dns?: string[];
  dns_search?: string[];
  links?: string[];
  add_hosts?: string[];
  ports?: string[];
  serve?: string[];
  exec?: string[];
}
interface RawLab {
  name: string;
  description?: string;
  requires?: Requirement[];
  daemon?: Record<string, unknown>;
  networks?: Record<
    string,
    { driver?: string; subnet?: string; gateway?: string; ip_range?: string; internal?: boolean; icc?: boolean; options?: Record<string, string> }
  >;
  nodes: Record<string, RawNode>;
  links?: RawLink[];
  steps?: RawStep[];
  hosts?: Record<string, { daemon?: Record<string, unknown> }>;
  cluster?: { etcd_members?: 1 | 3; underlay?: string };
  expect?: {
    rtt?: { from: string; to: string; p50: string; tolerance?: string }[];
    loss?: { from: string; to: string; max: string }[];
    reach?: { probe: string; nodes: string[]; allow?: string[] }[] | 'same';
    dns?: { from: string; name: string; type?: 'A' | 'AAAA' | 'PTR'; answer: DnsAnswer }[];
    ports?: { from: string; host?: string; to: string; open: boolean }[];
    files?: { node: string; path: string; contains?: string; lacks?: string }[];
    commands?: { node: string; run: string; exit?: number; stdout?: string; contains?: string }[];
  };
}

interface RawStep {
  name: string;
  do?: Record<string, unknown>[];
  within?: string;
  expect?: RawExpect;
  repeat?: number;
  every?: string;
}

interface RawLink {
  a: string;
  b: string;
  a_ip?: string;
  b_ip?: string;
  netem?: Partial<Netem>;
}

/** The file's netem block, with its direction (both by default); an impossible one is an error there. */
function buildNetem(n: Partial<Netem> | undefined, path: Path, loc: Located): Netem | undefined {
  if (!n) return undefined;
  const problem = netemProblem(n);
  if (problem) throw loc.error(path, `netem: ${problem}`);
  return { ...n, direction: n.direction ?? 'both' };
}

const ICC_OPTION = 'com.docker.network.bridge.enable_icc';

function build(raw: RawLab, file: string, loc: Located): Lab {
  const name = raw.name;
  const hosts = Object.keys(raw.hosts ?? {});
  const { daemon, hostDaemon } = daemonSettings(raw.daemon ?? {}, raw.hosts ?? {}, loc);
  const networks: NetSpec[] = [{ key: 'bridge', name: 'bridge', builtin: true, driver: 'bridge', internal: false, icc: daemon.icc !== false, options: {} }];
  for (const [key, n] of Object.entries(raw.networks ?? {})) {
    const icc = n.icc ?? (n.options?.[ICC_OPTION] ?? 'true') !== 'false';
    networks.push({
      key,
      name: `${name}-${key}`,
      builtin: false,
      driver: n.driver ?? 'bridge',
      ...(n.subnet ? { subnet: n.subnet } : {}),
      ...(n.gateway ? { gateway: n.gateway } : {}),
      ...(n.ip_range ? { ipRange: n.ip_range } : {}),
      internal: n.internal ?? false,
      icc,
      options: { ...(n.options ?? {}), ...(n.icc === undefined ? {} : { [ICC_OPTION]: String(n.icc) }) },
    });
    if (n.gateway && !n.subnet) throw loc.error(['networks', key, 'gateway'], `network ${key}: a gateway needs a subnet`);
  }
  const nodeKeys = Object.keys(raw.nodes);
  const nodes = nodeKeys.map((key) => buildNode(name, key, raw.nodes[key], networks, nodeKeys, loc));
  checkContainerCycles(nodes, loc);
  checkHosts(raw, hosts, networks, nodes, loc);
  const placed = hosts.length ? nodes.map((n) => ({ ...n, host: raw.nodes[n.key].host ?? hosts[0] })) : nodes;
  const links = (raw.links ?? []).map((l, i) => buildLink(l, i, placed, loc));
  const lab: Lab = {
    hosts,
    cluster: { etcdMembers: raw.cluster?.etcd_members ?? 1, underlay: raw.cluster?.underlay ?? '10.250.0.0/24' },
    name,
    file,
    ...(raw.description ? { description: raw.description } : {}),
    daemon,
    hostDaemon,
    requires: raw.requires ?? [],
    networks,
    nodes: placed,
    links,
    expect: buildExpect(raw.expect ?? {}, nodeKeys, hosts, loc, ['expect']),
    steps: [],
  };
  if (raw.expect?.reach === 'same') throw loc.error(['expect', 'reach'], 'reach: same is for a step (the top-level reach blocks still hold)');
  return { ...lab, steps: (raw.steps ?? []).map((st, i) => buildStep(st, i, lab, loc)) };
}

const DEFAULT_WITHIN = '5s';

function buildStep(st: RawStep, i: number, lab: Lab, loc: Located): StepSpec {
  const at = (...p: (string | number)[]) => ['steps', i, ...p];
  const keys = lab.nodes.map((n) => n.key);
  const node = (path: Path, key: string): string => {
    if (!keys.includes(key)) throw loc.error(path, `step "${st.name}": no node "${key}" (nodes: ${keys.join(', ')})`);
    return key;
  };
  const network = (path: Path, key: string): string => {
    if (!lab.networks.some((n) => n.key === key))
      throw loc.error(path, `step "${st.name}": no network "${key}" (defined: ${lab.networks.map((n) => n.key).join(', ')})`);
    return key;
  };
  const actions = (st.do ?? []).map((raw, j): Action => {
    const a = raw as Record<string, never>;
    const p = (k: string) => at('do', j, k);
    if ('link' in a) {
      const [n, ifname] = String(a.link).split(':');
      return { kind: 'link', node: node(p('link'), n), ifname, state: a.state };
    }
    if ('netem' in a) {
      const { target, clear, ...params } = a.netem as { target: string; clear?: boolean } & Partial<Netem>;
      const [n, place] = target.split(':');
      node([...p('netem'), 'target'], n);
      const isLink = lab.links.some((l) => [l.a, l.b].some((e) => e.node === n && e.ifname === place));
      const isAtt = lab.nodes.find((x) => x.key === n)?.mode.kind === 'networks' && lab.networks.some((x) => x.key === place);
      if (isLink === isAtt) {
        throw loc.error(
          [...p('netem'), 'target'],
          isLink
            ? `netem target ${target} names both a link and a network: rename one`
            : `netem target ${target}: ${place} is neither a point-to-point interface of ${n} nor a network`,
        );
      }
      if (!clear && !Object.keys(params).some((k) => k !== 'direction'))
        throw loc.error(p('netem'), `netem ${target}: give parameters to change, or clear: true`);
      return { kind: 'netem', target, netem: params, clear: Boolean(clear) };
    }
    if ('connect' in a || 'disconnect' in a) {
      const kind = 'connect' in a ? 'connect' : 'disconnect';
      const n = node(p(kind), String(a[kind]));
      const net = network(p('network'), String(a.network));
      if (lab.nodes.find((x) => x.key === n)?.mode.kind !== 'networks')
        throw loc.error(p(kind), `step "${st.name}": node ${n} has a network_mode: it cannot ${kind}`);
      return { kind, node: n, network: net };
    }
    if ('node' in a) return { kind: 'node', node: node(p('node'), String(a.node)), state: a.state };
    const host = (path: Path, h: string): string => {
      if (!lab.hosts.includes(h))
        throw loc.error(path, `step "${st.name}": no host "${h}" (${lab.hosts.length ? `hosts: ${lab.hosts.join(', ')}` : 'a single-host lab'})`);
      return h;
    };
    if ('daemon' in a) return { kind: 'daemon', op: a.daemon, ...(a.host ? { host: host(p('host'), a.host) } : {}) };
    if ('etcd' in a || 'partition' in a || 'heal' in a) {
      if (!lab.hosts.length) throw loc.error(at('do', j), `step "${st.name}": ${Object.keys(a)[0]} needs a multi-host lab (hosts:)`);
      if ('etcd' in a) {
        if (a.member !== undefined && a.member > lab.cluster.etcdMembers)
          throw loc.error(p('member'), `step "${st.name}": etcd has ${lab.cluster.etcdMembers} member(s)`);
        return { kind: 'etcd', op: a.etcd, ...(a.member !== undefined ? { member: a.member } : {}) };
      }
      if ('partition' in a) return { kind: 'partition', hosts: (a.partition as string[]).map((h, k) => host([...p('partition'), k], h)) };
      return { kind: 'heal' };
    }
    if ('iptables' in a)
      return { kind: 'iptables', table: a.table ?? 'filter', ...(a.chain ? { chain: a.chain } : {}), ...(a.host ? { host: host(p('host'), a.host) } : {}) };
    if ('exec' in a) {
      const e = a.exec as { node: string; run: string };
      return { kind: 'exec', node: node([...p('exec'), 'node'], e.node), run: e.run };
    }
    return { kind: 'wait', ms: durationMs(String(a.wait)), text: String(a.wait) };
  });
  const e = st.expect ?? {};
  const same = e.reach === 'same';
  const built = buildExpect(e, keys, lab.hosts, loc, at('expect'));
  const expect = same ? { ...built, reach: lab.expect.reach } : built;
  if (!actions.length && !checkCount(expect)) throw loc.error(at(), `step "${st.name}" neither does nor expects anything`);
  if (st.every && !st.repeat) throw loc.error(at('every'), `step "${st.name}": every needs repeat`);
  const within = st.within ?? DEFAULT_WITHIN;
  return { name: st.name, actions, expect, within, withinMs: durationMs(within), repeat: st.repeat ?? 1, everyMs: st.every ? durationMs(st.every) : 0 };
}

/** A multi-host lab: user-defined networks are overlay networks, nodes name a defined host, a
 *  point-to-point link stays on one host; a single-host lab has no overlay network. */
function checkHosts(raw: RawLab, hosts: readonly string[], networks: readonly NetSpec[], nodes: readonly NodeSpec[], loc: Located): void {
  for (const n of networks.filter((x) => !x.builtin)) {
    if (hosts.length && n.driver !== 'overlay')
      throw loc.error(
        ['networks', n.key],
        `network ${n.key}: a multi-host lab's networks are overlay networks (driver: overlay); each host has its own default bridge`,
        true,
      );
    if (!hosts.length && n.driver === 'overlay')
      throw loc.error(['networks', n.key, 'driver'], `network ${n.key}: an overlay network needs hosts: (a multi-host lab)`);
  }
  for (const n of nodes) {
    const firstKey = n.mode.kind === 'networks' ? n.mode.attach[0]?.network : undefined;
    const first = networks.find((x) => x.key === firstKey);
    if (n.ports.length && first?.driver === 'overlay')
      throw loc.error(
        ['nodes', n.key, 'ports'],
        `node ${n.key}: published ports go with its first network, ${first.key}, an overlay network, which publishes nothing (Docker's need the swarm ingress mesh): list bridge first`,
        true,
      );
    const h = raw.nodes[n.key].host;
    if (h === undefined) continue;
    if (!hosts.length) throw loc.error(['nodes', n.key, 'host'], `node ${n.key}: host needs hosts: (a multi-host lab)`);
    if (!hosts.includes(h)) throw loc.error(['nodes', n.key, 'host'], `node ${n.key}: no host "${h}" (hosts: ${hosts.join(', ')})`);
    if (n.mode.kind === 'container') {
      const t = raw.nodes[n.mode.target].host ?? hosts[0];
      if (t !== h) throw loc.error(['nodes', n.key, 'host'], `node ${n.key}: shares ${n.mode.target}'s namespace, which is on host ${t}`);
    }
  }
  if (!hosts.length && raw.cluster) throw loc.error(['cluster'], 'cluster needs hosts: (a multi-host lab)', true);
}

function buildNode(lab: string, key: string, n: RawNode, networks: readonly NetSpec[], nodeKeys: readonly string[], loc: Located): NodeSpec {
  const at = (...p: (string | number)[]) => ['nodes', key, ...p];
  let mode: NodeMode;
  const nm = n.network_mode;
  if (nm === 'host' || nm === 'none') mode = { kind: nm };
  else if (nm?.startsWith('container:')) {
    const target = nm.slice('container:'.length);
    if (!nodeKeys.includes(target)) throw loc.error(at('network_mode'), `node ${key}: network_mode ${nm} names no node (nodes: ${nodeKeys.join(', ')})`);
    if (target === key) throw loc.error(at('network_mode'), `node ${key}: network_mode cannot share its own namespace`);
    mode = { kind: 'container', target };
  } else {
    const entries: [string, RawAttach | null][] = Array.isArray(n.networks) ? n.networks.map((k) => [k, null]) : Object.entries(n.networks ?? { bridge: null });
    const attach: Attachment[] = entries.map(([net, a], i) => {
      const where = Array.isArray(n.networks) ? at('networks', i) : at('networks', net);
      if (net === 'host' || net === 'none')
        throw loc.error(where, `node ${key}: "${net}" is a network mode: write network_mode: ${net}`, !Array.isArray(n.networks));
      const spec = networks.find((x) => x.key === net);
      if (!spec) throw loc.error(where, `node ${key}: no network "${net}" (defined: ${networks.map((x) => x.key).join(', ')})`, !Array.isArray(n.networks));
      if (spec.builtin && a?.aliases?.length)
        throw loc.error(where, `node ${key}: the default bridge has no DNS, so aliases need a user-defined network`, true);
      // The node's own name is an alias on every user-defined network, so nodes find each other by it.
      const aliases = spec.builtin ? [] : [...new Set([key, ...(a?.aliases ?? [])])];
      const netem = buildNetem(a?.netem, [...where, 'netem'], loc);
      return { network: net, ...(a?.ip ? { ip: a.ip } : {}), aliases, ...(netem ? { netem } : {}) };
    });
    mode = { kind: 'networks', attach };
  }
  for (const [i, l] of (n.links ?? []).entries()) {
    const target = l.split(':')[0];
    if (!nodeKeys.includes(target)) throw loc.error(at('links', i), `node ${key}: link to "${target}" names no node (nodes: ${nodeKeys.join(', ')})`);
  }
  if (mode.kind !== 'networks' && n.ports?.length) throw loc.error(at('ports'), `node ${key}: published ports need a network, not network_mode ${nm}`, true);
  const serve = (n.serve ?? []).map((s, i) => {
    const [proto, port] = s.split('/');
    if (Number(port) < 1 || Number(port) > 65535) throw loc.error(at('serve', i), `node ${key}: port ${port} is not from 1 to 65535`);
    return { proto: proto as 'tcp' | 'udp', port: Number(port) };
  });
  return {
    key,
    sandbox: `${lab}-${key}`,
    mode,
    ...(n.hostname ? { hostname: n.hostname } : {}),
    dns: n.dns ?? [],
    dnsSearch: n.dns_search ?? [],
    links: (n.links ?? []).map((l) => (l.includes(':') ? `${lab}-${l}` : `${lab}-${l}:${l}`)),
    addHosts: n.add_hosts ?? [],
    ports: n.ports ?? [],
    serve,
    exec: n.exec ?? [],
  };
}

function checkContainerCycles(nodes: readonly NodeSpec[], loc: Located): void {
  for (const n of nodes) {
    const seen = new Set([n.key]);
    let cur: NodeSpec | undefined = n;
    while (cur?.mode.kind === 'container') {
      const t: string = cur.mode.target;
      if (seen.has(t))
        throw loc.error(['nodes', n.key, 'network_mode'], `node ${n.key}: network_mode container:… goes round in a circle (${[...seen, t].join(' -> ')})`);
      seen.add(t);
      cur = nodes.find((x) => x.key === t);
    }
  }
}

function buildLink(l: RawLink, i: number, nodes: readonly NodeSpec[], loc: Located): LinkSpec {
  const end = (side: 'a' | 'b'): LinkSpec['a'] => {
    const [node, ifname] = l[side].split(':');
    const n = nodes.find((x) => x.key === node);
    if (!n) throw loc.error(['links', i, side], `link ${i + 1}: no node "${node}" (nodes: ${nodes.map((x) => x.key).join(', ')})`);
    if (n.mode.kind === 'host' || n.mode.kind === 'container') {
      throw loc.error(
        ['links', i, side],
        `link ${i + 1}: node ${node} has network_mode ${n.mode.kind}: a point-to-point link needs a namespace of the node's own`,
      );
    }
    const ip = side === 'a' ? l.a_ip : l.b_ip;
    return { node, ifname, ...(ip ? { ip } : {}) };
  };
  const a = end('a');
  const b = end('b');
  const ha = nodes.find((x) => x.key === a.node)?.host;
  const hb = nodes.find((x) => x.key === b.node)?.host;
  if (ha !== hb) throw loc.error(['links', i], `link ${i + 1}: ${a.node} is on host ${ha} and ${b.node} on ${hb}: a veth pair stays on one host`);
  if (a.node === b.node) throw loc.error(['links', i], `link ${i + 1}: both ends are on node ${a.node}`);
  const netem = buildNetem(l.netem, ['links', i, 'netem'], loc);
  return { a, b, ...(netem ? { netem } : {}) };
}

/** An expect block; `reach: same` (a step's) is left to the caller, as no reach block here. */
function buildExpect(e: RawExpect, nodeKeys: readonly string[], hosts: readonly string[], loc: Located, at: Path): Expectations {
  const need = (path: (string | number)[], node: string, allowHost = false): void => {
    if (allowHost && node === 'host') return;
    if (!nodeKeys.includes(node)) throw loc.error(path, `no node "${node}" (nodes: ${nodeKeys.join(', ')}${allowHost ? ', or host' : ''})`);
  };
  const reach = (e.reach === 'same' ? [] : (e.reach ?? [])).map((r, i) => {
    r.nodes.forEach((n, j) => need([...at, 'reach', i, 'nodes', j], n));
    for (const [j, a] of (r.allow ?? []).entries()) {
      for (const side of a.split(/<->|->/)) {
        if (side !== '*' && !r.nodes.includes(side))
          throw loc.error([...at, 'reach', i, 'allow', j], `allow "${a}": ${side} is not in this block's nodes (${r.nodes.join(', ')})`);
      }
    }
    const [kind, port] = r.probe.split('/');
    const probe: Probe = kind === 'icmp' ? { kind: 'icmp' } : { kind: kind as 'tcp' | 'udp', port: Number(port) };
    return { probe, probeText: r.probe, nodes: [...new Set(r.nodes)], allow: r.allow ?? [] };
  });
  (e.dns ?? []).forEach((d, i) => need([...at, 'dns', i, 'from'], d.from));
  (e.ports ?? []).forEach((p, i) => {
    need([...at, 'ports', i, 'from'], p.from, true);
    if (p.host === undefined) return;
    if (p.from !== 'host')
      throw loc.error([...at, 'ports', i, 'host'], `host "${p.host}" is for from: host (a node's probe runs in that node, on its own host)`, true);
    if (!hosts.includes(p.host))
      throw loc.error([...at, 'ports', i, 'host'], `no host "${p.host}" (${hosts.length ? `hosts: ${hosts.join(', ')}` : 'a single-host lab: drop host'})`);
  });
  (e.files ?? []).forEach((f, i) => need([...at, 'files', i, 'node'], f.node));
  (e.commands ?? []).forEach((c, i) => need([...at, 'commands', i, 'node'], c.node));
  const pair = (kind: 'rtt' | 'loss', x: { from: string; to: string }, i: number): void => {
    need([...at, kind, i, 'from'], x.from);
    if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(x.to)) need([...at, kind, i, 'to'], x.to);
  };
  (e.rtt ?? []).forEach((r, i) => pair('rtt', r, i));
  (e.loss ?? []).forEach((r, i) => pair('loss', r, i));
  return {
    rtt: (e.rtt ?? []).map((r) => ({
      from: r.from,
      to: r.to,
      p50: r.p50,
      p50Ms: durationMs(r.p50),
      tolerance: r.tolerance ?? '25%',
      toleranceFrac: percent(r.tolerance ?? '25%'),
    })),
    loss: (e.loss ?? []).map((r) => ({ from: r.from, to: r.to, max: r.max, maxFrac: percent(r.max) })),
    reach,
    dns: (e.dns ?? []).map((d) => ({ from: d.from, name: d.name, type: d.type ?? 'A', answer: d.answer })),
    ports: e.ports ?? [],
    files: e.files ?? [],
    commands: e.commands ?? [],
  };
}
