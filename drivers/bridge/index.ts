// The bridge driver: one Linux bridge per network, a veth pair per endpoint, the gateway address
// on the bridge, NAT and isolation in netloom's own iptables chains.
import { allDone, conflict, logFailures } from '../../common/errors.js';
import { addressOf, formatIfAddr, ifAddrIn, macFromIPv4 } from '../../common/cidr.js';
import { failpoint } from '../../common/failpoint.js';
import type { PoolRecord } from '../../ipam/types.js';
import {
  hostVethName,
  retiredName,
  undoAll,
  type Driver,
  type DriverEnv,
  type DriverNetwork,
  type EndpointInfo,
  type Firewaller,
  type KeptLines,
  type Lifecycle,
  type NetworkInfo,
} from '../driver.js';
import { OPT, generatedBridgeName, parseBridgeOptions, predefinedBridgeOptions, unknownBridgeOptions, type BridgeConfig } from './options.js';
import {
  ADMIN_CHAINS,
  JUMPS,
  UNORDERED_CHAINS,
  expectedLines,
  isPortLine,
  linkRules,
  networkRules,
  ownLines,
  publishRules,
  renderAdd,
  renderAll,
  renderDel,
  type Rule,
} from './rules.js';
import { hostFamily } from '../../common/ports.js';
import type { Table } from '../../system/types.js';
import { keptRules as keptLines } from '../shared/iptables.js';
import { addBridgeDevice, addGatewayAddrs, checkBridge, gatewayCidr, joinBridge, leaveBridge, retireLink, type BridgePort } from '../shared/linuxbridge.js';

const families = [4, 6] as const;

function rulesFor(net: NetworkInfo, c: BridgeConfig, family: 4 | 6): Rule[] {
  return net.pools
    .filter((p) => p.family === family)
    .flatMap((p) => networkRules({ bridge: c.bridgeName, family, subnet: p.subnet, internal: c.internal, icc: c.icc, masquerade: c.masquerade }));
}

/** DNAT/accept rules of one endpoint's published ports for one family, and its links' accept
 *  rules (IPv4, ICC off: with ICC on the pair talks anyway). */
function portRulesFor(c: BridgeConfig, ep: EndpointInfo, family: 4 | 6): Rule[] {
  const cidr = family === 4 ? ep.ipv4 : ep.ipv6;
  const from = cidr && addressOf(cidr);
  const links = family === 4 && !c.icc && from ? (ep.links ?? []).flatMap((l) => linkRules({ bridge: c.bridgeName, from, to: l.address, ports: l.ports })) : [];
  const bindings = (ep.ports ?? []).filter((b) => (hostFamily(b.hostIP) ?? family) === family);
  if (!cidr || !bindings.length || c.internal) return links;
  return [...publishRules({ bridge: c.bridgeName, family, address: addressOf(cidr), bindings }), ...links];
}

function allRules(nets: readonly DriverNetwork<BridgeConfig>[], family: 4 | 6): Rule[] {
  return [
    ...nets.flatMap(({ net, config }) => rulesFor(net, config, family)),
    ...nets.flatMap(({ config, endpoints }) => endpoints.flatMap((ep) => portRulesFor(config, ep, family))),
  ];
}

/** Lines of netloom's own chains that a salvage keeps although no record explains them. */
function keptRules(keep: KeptLines | undefined, family: 4 | 6): Rule[] {
  return (['filter', 'nat'] as const).flatMap((table) => keptLines(keep?.[family]?.[table] ?? [], table, /^NETLOOM/));
}

/** Our jumps first in each built-in chain, in JUMPS order (other netloom jumps may sit among
 *  them); repaired only when they are not. */
async function ensureJumps(env: DriverEnv, family: 4 | 6): Promise<void> {
  for (const table of ['filter', 'nat'] as Table[]) {
    const want = JUMPS.filter((j) => j.table === table);
    const save = await env.sys.firewall.save(family, table);
    const rules = save.split('\n').filter((l) => l.startsWith('-A '));
    for (const chain of new Set(want.map((j) => j.chain))) {
      const targets = want.filter((j) => j.chain === chain).map((j) => j.target);
      const mine = targets.map((t) => `-A ${chain} -j ${t}`);
      const inChain = rules.filter((l) => l.startsWith(`-A ${chain} `));
      // Other drivers' jumps into NETLOOM-* chains (the overlay's) may sit among ours.
      const other = inChain.findIndex((l) => !/ -j NETLOOM\S*$/.test(l));
      const lead = other < 0 ? inChain : inChain.slice(0, other);
      const ours = (ls: readonly string[]) => ls.filter((l) => mine.includes(l)).join('\n');
      if (ours(lead) === mine.join('\n') && ours(inChain) === mine.join('\n')) continue;
      for (const t of targets) await env.sys.firewall.removeJump(family, table, chain, t);
      for (const t of [...targets].reverse()) await env.sys.firewall.ensureJump(family, table, chain, t);
    }
  }
}

async function deleteRules(env: DriverEnv, family: 4 | 6, rules: readonly Rule[]): Promise<void> {
  if (!rules.length) return;
  try {
    await env.sys.firewall.restore(family, renderDel(rules));
  } catch {
    // Some rule was already gone (someone flushed a table): delete the rest one by one.
    for (const rule of rules) await env.sys.firewall.deleteRule(family, rule.table, rule.chain, rule.spec);
  }
}

/** The pools whose gateway address goes on the bridge: not IPv4 with inhibit_ipv4. */
const bridgeAddressed = (net: NetworkInfo, c: BridgeConfig): PoolRecord[] => net.pools.filter((p) => !(c.inhibitIpv4 && p.family === 4));

/** The bridge as the shared plumbing sees it: no default route out of an internal network. */
const portOf = (net: NetworkInfo, c: BridgeConfig): BridgePort => ({
  bridge: c.bridgeName,
  mtu: c.mtu,
  addressed: bridgeAddressed(net, c),
  routes: !c.internal,
});

/** Host-wide settings of the bridge driver (netloomd's --iptables and --ip-forward). */
export interface BridgeHost {
  /** false: netloom writes no iptables rules at all (and so checks none). */
  readonly iptables: boolean;
  /** false: net.ipv4.ip_forward is left as it is. */
  readonly ipForward: boolean;
}

export function createBridgeDriver(hostCfg: BridgeHost = { iptables: true, ipForward: true }): Driver<BridgeConfig> {
  // Networks whose rules are in the kernel since the last restore(): createNetwork runs again on
  // every reconcile and must not append a second copy.
  const applied = new Set<string>();
  const fw = hostCfg.iptables;
  return {
    name: 'bridge',
    caps: { scope: 'local', usesIpam: true, dns: true, publish: true, defaultRoute: true },
    options: {
      parse: parseBridgeOptions,
      unknown: unknownBridgeOptions,
      unique: (c) => ({ [OPT.name]: c.bridgeName }),
      ifnamePrefix: (c) => c.ifacePrefix,
      hostBinding: (c) => c.hostBindingIpv4,
      // inhibit_ipv4 leaves the IPv4 gateway address, where the embedded DNS listens, off the bridge.
      capabilities: (c) => (c.inhibitIpv4 ? { dns: false } : {}),
      predefined: predefinedBridgeOptions,
    },
    async init(env) {
      if (hostCfg.ipForward) await env.sys.sysctl('net.ipv4.ip_forward', '1');
    },
    lifecycle: bridgeLifecycle(applied, fw),
    // --iptables=false: no rules are written, so none are compared (the guard and doctor skip them).
    ...(fw ? { firewall: bridgeFirewaller(applied) } : {}),
    doctor: { check: (env, dn) => checkBridge(env, dn, portOf(dn.net, dn.config)) },
  };
}

/** The bridge driver's firewall: NETLOOM-* chains, rebuilt whole from every bridge network. */
function bridgeFirewaller(applied: Set<string>): Firewaller<BridgeConfig> {
  return {
    async restore(env, nets, keep) {
      applied.clear();
      for (const family of families) {
        const rules = [...allRules(nets, family), ...keptRules(keep, family)];
        try {
          await env.sys.firewall.restore(family, renderAll(rules));
          for (const a of ADMIN_CHAINS) await env.sys.firewall.ensureChain(family, a.table, a.chain);
          await ensureJumps(env, family);
        } catch (err) {
          // A host without IPv6 firewalling can still run IPv4-only networks.
          if (family === 4 || rules.length) throw err;
          env.log.warn({ err: String(err) }, 'ip6tables unavailable: IPv6 networks cannot be created');
        }
      }
      for (const { net } of nets) applied.add(net.id);
    },
    lines(nets) {
      const out = {} as Record<4 | 6, Record<Table, string[]>>;
      for (const family of families) out[family] = expectedLines(allRules(nets, family));
      return out;
    },
    ownLines,
    unpublish: (env, _net, c, ep) => unpublish(env, c, ep),
    unorderedChains: UNORDERED_CHAINS,
    isPortLine,
  };
}

/** The bridge device of a network, addressed, with its sysctls; `undo` gets its delete. */
async function makeBridge(env: DriverEnv, net: NetworkInfo, c: BridgeConfig, undo: (() => Promise<void>)[]): Promise<void> {
  const host = env.sys.host;
  const existed = await host.link(c.bridgeName);
  if (existed && existed.kind !== 'bridge') {
    throw conflict('NL_OPTION_IN_USE', `bridge name "${c.bridgeName}" is taken by a ${existed.kind ?? 'network'} device: choose another --opt ${OPT.name}`);
  }
  // Registered before addBridge: it creates, tags and sets up, and may fail after creating.
  if (!existed) undo.push(() => host.delLink(c.bridgeName));
  await addBridgeDevice(env, net, c.bridgeName, existed && !c.mtuExplicit ? undefined : c.mtu);
  failpoint('create:bridge');
  const sysctls = async (): Promise<void> => {
    if (net.pools.some((p) => p.family === 6)) await env.sys.sysctl('net.ipv6.conf.all.forwarding', '1');
    // Published ports reached on 127.0.0.1 are DNATed out of this bridge: allow loopback sources on it.
    if (!c.internal) await env.sys.sysctl(`net/ipv4/conf/${c.bridgeName}/route_localnet`, '1');
  };
  await allDone([addGatewayAddrs(env, portOf(net, c)), sysctls()]);
}

/** With --iptables=false (`fw` false) the restore never runs and no rule is written. */
function bridgeLifecycle(applied: Set<string>, fw: boolean): Lifecycle<BridgeConfig> {
  return {
    // The rules only name the bridge: they are applied (iptables-restore, a process) while the
    // bridge is made, addressed and configured (netlink, sysctls), and each side undoes what it
    // did if either fails.
    async createNetwork(env, net, c) {
      const undo: (() => Promise<void>)[] = [];
      const rules = fw && !applied.has(net.id) ? families.map((f) => [f, rulesFor(net, c, f)] as const).filter(([, r]) => r.length) : [];
      const firewall = async (): Promise<void> => {
        for (const [family, r] of rules) {
          await env.sys.firewall.restore(family, renderAdd(r));
          undo.push(() => deleteRules(env, family, r));
        }
      };
      try {
        await allDone([makeBridge(env, net, c, undo), firewall()]);
        if (fw) applied.add(net.id);
      } catch (err) {
        applied.delete(net.id);
        await undoAll(undo).catch((e: unknown) => logFailures(env.log, e, 'bridge network create: rollback step failed'));
        throw err;
      }
    },

    async deleteNetwork(env, net, c) {
      const host = env.sys.host;
      applied.delete(net.id);
      const steps = fw ? families.map((f) => () => deleteRules(env, f, rulesFor(net, c, f))) : [];
      steps.push(async () => {
        // Only a bridge netloom made is deleted; one the admin made (-o ...bridge.name=br0) stays.
        const l = await host.link(c.bridgeName);
        // (A crash between creating the bridge and tagging it leaves a generated name untagged.)
        const ours = l?.alias === env.tag('net', net.id) || (!l?.alias && c.bridgeName === generatedBridgeName(net.id));
        if (ours) await retireLink(env, c.bridgeName, retiredName(net.id));
        else if (l) for (const p of bridgeAddressed(net, c)) await host.delAddr(c.bridgeName, gatewayCidr(p));
      });
      await undoAll(steps);
    },

    join: (env, net, c, ep) => joinBridge(env, net, portOf(net, c), ep, fw ? () => publish(env, c, ep) : undefined),

    async leave(env, _net, c, ep) {
      await leaveBridge(env, ep);
      if (fw) await unpublish(env, c, ep);
    },

    hostLinks: (_net, c, endpointIds) => [c.bridgeName, ...endpointIds.map(hostVethName)],
  };
}

/** Removes the endpoint's port rules (both families). */
async function unpublish(env: DriverEnv, c: BridgeConfig, ep: EndpointInfo): Promise<void> {
  for (const family of families) await deleteRules(env, family, portRulesFor(c, ep, family));
}

/** Adds the endpoint's port rules, unless a full restore since the daemon started already has them. */
async function publish(env: DriverEnv, c: BridgeConfig, ep: EndpointInfo): Promise<void> {
  for (const family of families) {
    const rules = portRulesFor(c, ep, family);
    if (!rules.length) continue;
    // join runs again on every reconcile: check first, so no rule is ever there twice.
    const have = new Set([
      ...ownLines(await env.sys.firewall.save(family, 'nat'), 'nat'),
      ...ownLines(await env.sys.firewall.save(family, 'filter'), 'filter'),
    ]);
    const missing = rules.filter((r) => !have.has(`-A ${r.chain} ${r.spec.join(' ')}`));
    if (missing.length) await env.sys.firewall.restore(family, renderAdd(missing));
  }
}
