// The bridge driver's firewall, as data. Pure: unit- and golden-tested; system/ applies it.
//
// filter INPUT    -> NETLOOM-INPUT: per network, nothing from the bridge to 127.0.0.0/8 unless DNATed
// filter FORWARD  -> NETLOOM-USER (first: the admin's rules; netloom creates it and never
//                    touches its contents), then NETLOOM-FORWARD
//   NETLOOM-FORWARD: -j NETLOOM-ISOLATION-1, -j NETLOOM, then per network: established in, icc,
//                    out, drop the rest in
//   NETLOOM (filter): per published port: accept new connections to the container's port;
//                    per legacy link under ICC off: accept the pair's traffic on the exposed ports
//   NETLOOM-ISOLATION-1: per network  -i br ! -o br -j NETLOOM-ISOLATION-2
//   NETLOOM-ISOLATION-2: per network  -o br -j DROP      (so no two netloom bridges talk)
// nat PREROUTING, OUTPUT -> NETLOOM: only for local destinations, per published port a DNAT
// nat POSTROUTING -> NETLOOM-POSTROUTING: per network: masquerade what leaves; clients on the
//   host's loopback (IPv4) and hairpin clients on the same bridge, so replies come back through us
//
// Every spec is written the way iptables-save prints it, so the firewall guard and `netloom
// doctor` compare what the kernel holds with what the records say line by line (a privileged
// test checks the two spellings agree).
import type { PortBinding } from '../../common/ports.js';
import type { Table } from '../../system/types.js';
import { renderAdd, renderDel, renderRules, ruleLine, type Rule } from '../shared/iptables.js';

export { renderAdd, renderDel, ruleLine, type Rule };

export const CHAIN = {
  input: 'NETLOOM-INPUT',
  user: 'NETLOOM-USER',
  forward: 'NETLOOM-FORWARD',
  published: 'NETLOOM',
  iso1: 'NETLOOM-ISOLATION-1',
  iso2: 'NETLOOM-ISOLATION-2',
  dnat: 'NETLOOM',
  postrouting: 'NETLOOM-POSTROUTING',
} as const;

/** Jumps from built-in chains into netloom's, in order (within a chain, the first listed comes
 *  first); the only rules netloom places outside its own chains. */
export const JUMPS: readonly { table: Table; chain: string; target: string }[] = [
  { table: 'filter', chain: 'INPUT', target: CHAIN.input },
  { table: 'filter', chain: 'FORWARD', target: CHAIN.user },
  { table: 'filter', chain: 'FORWARD', target: CHAIN.forward },
  { table: 'nat', chain: 'PREROUTING', target: CHAIN.dnat },
  { table: 'nat', chain: 'OUTPUT', target: CHAIN.dnat },
  { table: 'nat', chain: 'POSTROUTING', target: CHAIN.postrouting },
];

/** Chains netloom owns whole: declared (so flushed and refilled) by every full restore. */
export const OWN_CHAINS: Readonly<Record<Table, readonly string[]>> = {
  filter: [CHAIN.input, CHAIN.forward, CHAIN.published, CHAIN.iso1, CHAIN.iso2],
  nat: [CHAIN.dnat, CHAIN.postrouting],
};

/** Chains created when missing and otherwise left alone. */
export const ADMIN_CHAINS: readonly { table: Table; chain: string }[] = [{ table: 'filter', chain: CHAIN.user }];

export interface BridgeRuleInput {
  readonly bridge: string;
  readonly family: 4 | 6;
  readonly subnet: string; // of the family being rendered
  readonly internal: boolean;
  readonly icc: boolean;
  readonly masquerade: boolean;
}

export interface PublishRuleInput {
  readonly bridge: string;
  readonly family: 4 | 6;
  /** The endpoint's address of this family, without prefix. */
  readonly address: string;
  /** Bindings of this family (wildcard '' included). */
  readonly bindings: readonly PortBinding[];
}

const r = (table: Table, chain: string, ...spec: string[]): Rule => ({ table, chain, spec });
const host = (ip: string, family: 4 | 6): string => `${ip}/${family === 4 ? 32 : 128}`;
const ports = (first: number, count: number): string => (count === 1 ? `${first}` : `${first}:${first + count - 1}`);

/** Rules every full restore starts with, before any network's. */
export function baseRules(): Rule[] {
  return [
    r('filter', CHAIN.forward, '-j', CHAIN.iso1),
    r('filter', CHAIN.forward, '-j', CHAIN.published),
    r('nat', CHAIN.dnat, '-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', 'RETURN'),
  ];
}

export function networkRules(n: BridgeRuleInput): Rule[] {
  const br = n.bridge;
  const rules: Rule[] = [r('filter', CHAIN.iso1, '-i', br, '!', '-o', br, '-j', CHAIN.iso2), r('filter', CHAIN.iso2, '-o', br, '-j', 'DROP')];
  if (!n.internal) {
    rules.push(r('filter', CHAIN.forward, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'));
  }
  rules.push(r('filter', CHAIN.forward, '-i', br, '-o', br, '-j', n.icc ? 'ACCEPT' : 'DROP'));
  rules.push(r('filter', CHAIN.forward, '-i', br, '!', '-o', br, '-j', n.internal ? 'DROP' : 'ACCEPT'));
  // Nothing from outside opens a connection into the network (published ports are accepted
  // earlier, in NETLOOM).
  rules.push(r('filter', CHAIN.forward, '!', '-i', br, '-o', br, '-j', 'DROP'));
  if (!n.internal && n.masquerade) {
    rules.push(r('nat', CHAIN.postrouting, '-s', n.subnet, '!', '-o', br, '-j', 'MASQUERADE'));
  }
  if (!n.internal) {
    // route_localnet (for published ports on 127.0.0.1) would also let a sandbox reach the host's
    // loopback-only services by sending to 127.0.0.1 itself (CVE-2020-8558): only DNATed
    // connections, and replies, may arrive from the bridge for a loopback address.
    if (n.family === 4) {
      rules.push(r('filter', CHAIN.input, '-d', '127.0.0.0/8', '-i', br, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'));
    }
    // A published port reached from the host's loopback (route_localnet is on for the bridge)...
    if (n.family === 4) rules.push(r('nat', CHAIN.postrouting, '-s', '127.0.0.0/8', '-o', br, '-j', 'MASQUERADE'));
    // ...or by a sandbox of this network through a host address (hairpin): the reply must come
    // back through the host to be un-NATed, so the source becomes the gateway.
    rules.push(r('nat', CHAIN.postrouting, '-s', n.subnet, '-o', br, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'));
  }
  return rules;
}

/** DNAT and accept rules of one endpoint's published ports, for one family. A range whose host
 *  and container ports are the same numbers is one rule pair; a shifted range is one pair per
 *  port (DNAT to a port range would spread connections over it, not map port to port). */
export function publishRules(p: PublishRuleInput): Rule[] {
  const rules: Rule[] = [];
  const target = (port: number): string => (p.family === 4 ? `${p.address}:${port}` : `[${p.address}]:${port}`);
  for (const b of p.bindings) {
    const dst = b.hostIP === '' || b.hostIP === '0.0.0.0' || b.hostIP === '::' ? [] : ['-d', host(b.hostIP, p.family)];
    const pieces: [number, number, number][] =
      b.count === 1 || b.hostPort === b.containerPort
        ? [[b.hostPort, b.containerPort, b.count]]
        : Array.from({ length: b.count }, (_, i): [number, number, number] => [b.hostPort + i, b.containerPort + i, 1]);
    for (const [hp, cp, count] of pieces) {
      const to = hp === cp && count > 1 ? (p.family === 4 ? p.address : `${p.address}`) : target(cp);
      rules.push(r('nat', CHAIN.dnat, ...dst, '-p', b.proto, '-m', b.proto, '--dport', ports(hp, count), '-j', 'DNAT', '--to-destination', to));
      rules.push(
        r(
          'filter',
          CHAIN.published,
          '-d',
          host(p.address, p.family),
          '!',
          '-i',
          p.bridge,
          '-o',
          p.bridge,
          '-p',
          b.proto,
          '-m',
          b.proto,
          '--dport',
          ports(cp, count),
          '-j',
          'ACCEPT',
        ),
      );
    }
  }
  return rules;
}

export interface LinkRuleInput {
  readonly bridge: string;
  /** The linking sandbox's and the linked sandbox's IPv4 addresses (no prefix). */
  readonly from: string;
  readonly to: string;
  /** The linked sandbox's exposed ports; empty = every port. */
  readonly ports: readonly { readonly proto: 'tcp' | 'udp'; readonly port: number; readonly end: number }[];
}

/** A legacy link under ICC off (Docker's bridge link.go): per exposed port, one rule from the
 *  linking sandbox to the linked one's port and one for the replies back; with nothing exposed,
 *  one rule each way for every port. In NETLOOM, before each network's ICC drop. */
export function linkRules(l: LinkRuleInput): Rule[] {
  const pair = ['-s', host(l.from, 4), '-d', host(l.to, 4), '-i', l.bridge, '-o', l.bridge];
  const back = ['-s', host(l.to, 4), '-d', host(l.from, 4), '-i', l.bridge, '-o', l.bridge];
  if (!l.ports.length) return [r('filter', CHAIN.published, ...pair, '-j', 'ACCEPT'), r('filter', CHAIN.published, ...back, '-j', 'ACCEPT')];
  return l.ports.flatMap((p) => {
    const range = ports(p.port, p.end - p.port + 1);
    return [
      r('filter', CHAIN.published, ...pair, '-p', p.proto, '-m', p.proto, '--dport', range, '-j', 'ACCEPT'),
      r('filter', CHAIN.published, ...back, '-p', p.proto, '-m', p.proto, '--sport', range, '-j', 'ACCEPT'),
    ];
  });
}

/** The complete contents of netloom's chains (baseRules first, then `rules`): declaring a chain
 *  with --noflush flushes it, so this replaces exactly netloom's rules and nobody else's. */
export const renderAll = (rules: readonly Rule[]): string => renderRules([...baseRules(), ...rules], '-A', OWN_CHAINS);

/** What iptables-save shows of netloom for one family, given its rules: the lines of its own
 *  chains (in order) and its jumps from built-in chains. */
export function expectedLines(rules: readonly Rule[]): Record<Table, string[]> {
  const out: Record<Table, string[]> = { filter: [], nat: [] };
  for (const j of JUMPS) out[j.table].push(`-A ${j.chain} -j ${j.target}`);
  for (const rule of [...baseRules(), ...rules]) out[rule.table].push(ruleLine(rule));
  return out;
}

/** The netloom part of an iptables-save of one table: jumps into netloom's chains and the rules
 *  of its own chains (NETLOOM-USER, the admin's, excluded), each chain's rules in order. */
export function ownLines(save: string, table: Table): string[] {
  const own = new Set(OWN_CHAINS[table]);
  const targets = new Set(JUMPS.filter((j) => j.table === table).map((j) => j.target));
  return save.split('\n').filter((l) => {
    const m = /^-A (\S+) (.*)$/.exec(l);
    if (!m) return false;
    if (own.has(m[1])) return true;
    const jump = /^-j (\S+)$/.exec(m[2]);
    return !m[1].startsWith('NETLOOM') && jump !== null && targets.has(jump[1]);
  });
}

/** Chains where order carries no meaning (one rule per published port, none overlapping): all
 *  but their first rule compare as a multiset, so ports published in any order agree. */
export const UNORDERED_CHAINS: ReadonlySet<string> = new Set([CHAIN.published, CHAIN.dnat]);

/** A published port's rule (DNAT or accept), as a line of ownLines. */
export const isPortLine = (line: string): boolean => new RegExp(`^-A ${CHAIN.dnat} .*--dport`).test(line);
