// The overlay driver: one L2 network across hosts. On each host a bridge (with the gateway
// address, for the embedded DNS) and a VXLAN device enslaved to it: learning off, ARP proxy on,
// no multicast group, no all-zero FDB entry, so nothing is ever flooded. Every remote endpoint
// is a static FDB entry (MAC -> its host's VTEP) and a static neighbour entry (IP -> MAC) on the
// VXLAN device, programmed from the cluster store (cluster.ts, member.ts) through the driver's peers.set.
// Sandboxes join as on a bridge network (the shared Linux-bridge plumbing), without a default
// route: an overlay network reaches only its own members (capability defaultRoute false). Its frames cross the bridge through
// FORWARD (br_netfilter), so it accepts them in its own chain (rules.ts): hosts whose FORWARD
// policy is DROP (every host running Docker) pass overlay traffic too; the same chain, jumped
// before the bridge driver's, drops anything routed between the overlay and another network.
import { invalid, logFailures } from '../../common/errors.js';
import { formatIfAddr, ifAddrIn, macFromIPv4 } from '../../common/cidr.js';
import {
  hostVethName,
  undoAll,
  type Driver,
  type DriverEnv,
  type DriverNetwork,
  type Finding,
  type Firewaller,
  type KeptLines,
  type Lifecycle,
  type NetworkInfo,
  type Peer,
} from '../driver.js';
import type { NeighEntry } from '../../system/types.js';
import { keptRules as keptLines, renderAdd, type Rule } from '../shared/iptables.js';
import { DEFAULT_MTU, addBridgeDevice, addGatewayAddrs, checkBridge, joinBridge, leaveBridge, type BridgePort } from '../shared/linuxbridge.js';
import { OVERLAY_CHAIN, overlayExpectedLines, overlayJumpFix, overlayNetworkRules, overlayOwnLines, renderOverlayAll } from './rules.js';
import type { Cluster } from './cluster.js';
import { overlayClusterHooks } from './member.js';

export type { Peer };

/** Lines of NETLOOM-OVERLAY a salvage keeps although no record explains them. */
const keptRules = (keep: KeptLines | undefined): Rule[] => keptLines(keep?.[4]?.filter ?? [], 'filter', new RegExp(`^${OVERLAY_CHAIN}$`));

/** The chain and the jump to it, made when missing (a first overlay network, a flushed table). */
async function ensureOverlayChain(env: DriverEnv): Promise<void> {
  await env.sys.firewall.ensureChain(4, 'filter', OVERLAY_CHAIN);
  const fix = overlayJumpFix(await env.sys.firewall.save(4, 'filter'));
  if (fix.length) await env.sys.firewall.restore(4, `*filter\n${fix.join('\n')}\nCOMMIT\n`);
}

export const OVERLAY_OPT = {
  vni: 'com.docker.network.driver.overlay.vxlanid_list',
  mtu: 'com.docker.network.driver.mtu',
} as const;

/** VXLAN over IPv4 adds 50 bytes: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

export interface OverlayHost {
  /** This host's VTEP (--advertise-addr); absent on a single host without a cluster store. */
  readonly vtep?: string;
  readonly port: number;
  /** MTU of the underlay interface that holds the VTEP address. */
  readonly underlayMtu: number;
  /** This host's cluster membership (--cluster-store); absent on a single host. */
  readonly cluster?: Cluster;
}

export interface OverlayConfig {
  readonly bridgeName: string;
  readonly vxlanName: string;
  readonly vni: number;
  readonly mtu: number;
  /** Whether the user set the MTU (else: the underlay's less the VXLAN overhead). */
  readonly mtuExplicit: boolean;
}

/** The bridge as the shared plumbing sees it: every pool's gateway on it (the embedded DNS
 *  listens there), and no default route in sandboxes: nothing beyond the overlay is routed. */
const portOf = (net: NetworkInfo, c: OverlayConfig): BridgePort => ({ bridge: c.bridgeName, mtu: c.mtu, addressed: net.pools, routes: false });

export function parseOverlayOptions(
  opts: Readonly<Record<string, string>>,
  net: { id: string; name: string; internal: boolean },
  host: OverlayHost,
): OverlayConfig {
  const known = new Set<string>(Object.values(OVERLAY_OPT));
  for (const k of Object.keys(opts)) {
    if (!known.has(k)) throw invalid('NL_UNKNOWN_OPTION', `unknown option "${k}" for driver overlay: valid options are ${[...known].join(', ')}`);
  }
  const rawVni = opts[OVERLAY_OPT.vni];
  const vni = rawVni === undefined ? 0 : /^\d+$/.test(rawVni) ? Number(rawVni) : NaN;
  if (!(vni >= 1 && vni <= 16777215) && rawVni !== undefined) {
    throw invalid('NL_BAD_VNI', `invalid VNI "${rawVni}" in --opt ${OVERLAY_OPT.vni}: expected an integer from 1 to 16777215`);
  }
  const rawMtu = opts[OVERLAY_OPT.mtu];
  const mtu = rawMtu === undefined ? Math.min(DEFAULT_MTU, host.underlayMtu) - VXLAN_OVERHEAD : /^\d+$/.test(rawMtu) ? Number(rawMtu) : NaN;
  if (!(mtu >= 68 && mtu <= 65535)) {
    throw invalid('NL_BRIDGE_BAD_OPTION', `invalid MTU "${rawMtu}" in --opt ${OVERLAY_OPT.mtu}: expected an integer from 68 to 65535`);
  }
  return {
    bridgeName: `nlo-${net.id.slice(0, 11)}`,
    vxlanName: `nlx-${net.id.slice(0, 11)}`,
    vni,
    mtu,
    mtuExplicit: rawMtu !== undefined,
  };
}

/** The FDB (MAC -> VTEP) and neighbour (IP -> MAC) entries the peers call for, against the
 *  VXLAN device's: what to add and what to remove. */
async function peerDiff(env: DriverEnv, c: OverlayConfig, peers: readonly Peer[]): Promise<{ extra: NeighEntry[]; missing: NeighEntry[] }> {
  const want: NeighEntry[] = peers.flatMap((p) => [
    { link: c.vxlanName, mac: p.mac, ip: p.vtep, fdb: true },
    { link: c.vxlanName, mac: p.mac, ip: p.ip, fdb: false },
  ]);
  const key = (e: NeighEntry) => `${e.fdb} ${e.mac} ${e.ip}`;
  const have = [...(await env.sys.host.neighbours(c.vxlanName, true)), ...(await env.sys.host.neighbours(c.vxlanName, false))];
  const wanted = new Set(want.map(key));
  const present = new Set(have.map(key));
  return { extra: have.filter((e) => !wanted.has(key(e))), missing: want.filter((e) => !present.has(key(e))) };
}

/** `iptables: false` is netloomd --iptables=false: the overlay writes no accept rules either. */
export function createOverlayDriver(host: () => OverlayHost, { iptables = true }: { readonly iptables?: boolean } = {}): Driver<OverlayConfig> {
  // Networks whose accept rule is in the kernel since the last restore(): createNetwork runs
  // again on every reconcile and must not append a second copy.
  const applied = new Set<string>();
  return {
    name: 'overlay',
    caps: { scope: 'global', usesIpam: true, dns: true, publish: false, defaultRoute: false },
    options: { parse: (opts, net) => parseOverlayOptions(opts, net, host()) },
    lifecycle: overlayLifecycle(host, applied, iptables),
    // --iptables=false: no rules are written, so none are compared (the guard and doctor skip them).
    ...(iptables ? { firewall: overlayFirewaller(applied) } : {}),
    doctor: { check: checkOverlay },
    peers: { set: setPeers, check: checkPeers },
    cluster: overlayClusterHooks(() => host().cluster, OVERLAY_OPT),
  };
}

function overlayLifecycle(host: () => OverlayHost, applied: Set<string>, iptables: boolean): Lifecycle<OverlayConfig> {
  return {
    async createNetwork(env, net, c) {
      if (!c.vni) throw invalid('NL_BAD_VNI', `overlay network ${net.name} has no VNI`);
      const h = env.sys.host;
      const steps: (() => Promise<void>)[] = [];
      try {
        if (!(await h.link(c.bridgeName))) steps.unshift(() => h.delLink(c.bridgeName));
        await addBridgeDevice(env, net, c.bridgeName, c.mtu);
        await addGatewayAddrs(env, portOf(net, c));
        const o = host();
        steps.unshift(() => h.delLink(c.vxlanName));
        await h.addVxlan({ name: c.vxlanName, vni: c.vni, local: o.vtep ?? '', port: o.port, mtu: c.mtu, master: c.bridgeName, alias: env.tag('net', net.id) });
        if (iptables && !applied.has(net.id)) {
          await ensureOverlayChain(env);
          await env.sys.firewall.restore(4, renderAdd(overlayNetworkRules(c.bridgeName)));
          applied.add(net.id);
        }
      } catch (err) {
        applied.delete(net.id);
        await undoAll(steps).catch((e: unknown) => logFailures(env.log, e, 'overlay network setup: rollback step failed'));
        throw err;
      }
    },

    async deleteNetwork(env, net, c) {
      applied.delete(net.id);
      await undoAll([
        () => env.sys.host.delLink(c.vxlanName),
        () => env.sys.host.delLink(c.bridgeName),
        ...(iptables ? overlayNetworkRules(c.bridgeName).map((rule) => () => env.sys.firewall.deleteRule(4, 'filter', rule.chain, rule.spec)) : []),
      ]);
    },

    join: (env, net, c, ep) => joinBridge(env, net, portOf(net, c), ep),
    leave: (env, _net, _c, ep) => leaveBridge(env, ep),
    hostLinks: (_net, c, endpointIds) => [c.bridgeName, c.vxlanName, ...endpointIds.map(hostVethName)],
  };
}

/** NETLOOM-OVERLAY: its own chain, rebuilt whole from every overlay network. */
function overlayFirewaller(applied: Set<string>): Firewaller<OverlayConfig> {
  return {
    async restore(env, nets, keep) {
      applied.clear();
      const rules = [...nets.flatMap((n) => overlayNetworkRules(n.config.bridgeName)), ...keptRules(keep)];
      await env.sys.firewall.restore(4, renderOverlayAll(rules, overlayJumpFix(await env.sys.firewall.save(4, 'filter'))));
      for (const n of nets) applied.add(n.net.id);
    },
    lines: (nets) => overlayExpectedLines(nets.flatMap((n) => overlayNetworkRules(n.config.bridgeName))),
    ownLines: overlayOwnLines,
  };
}

/** The bridge and its endpoints (shared plumbing), and the VXLAN device a port of the bridge. */
async function checkOverlay(env: DriverEnv, dn: DriverNetwork<OverlayConfig>): Promise<Finding[]> {
  const c = dn.config;
  const out = await checkBridge(env, dn, portOf(dn.net, c));
  const vx = await env.sys.host.link(c.vxlanName);
  const what = `vxlan ${c.vxlanName} (network ${dn.net.name})`;
  if (!vx) out.push({ kind: 'link', object: what, problem: 'missing' });
  else {
    const br = await env.sys.host.link(c.bridgeName);
    if (!vx.up) out.push({ kind: 'link', object: what, problem: 'is down' });
    if (br && vx.master !== br.index) out.push({ kind: 'link', object: what, problem: `is not a port of ${c.bridgeName}` });
  }
  return out;
}

async function setPeers(env: DriverEnv, _net: NetworkInfo, c: OverlayConfig, peers: readonly Peer[]): Promise<void> {
  const { extra, missing } = await peerDiff(env, c, peers);
  for (const e of extra) await env.sys.host.delNeighbour(e);
  for (const e of missing) await env.sys.host.addNeighbour(e);
}

async function checkPeers(env: DriverEnv, net: NetworkInfo, c: OverlayConfig, peers: readonly Peer[]): Promise<Finding[]> {
  const { extra, missing } = await peerDiff(env, c, peers);
  const what = (e: NeighEntry): string =>
    (e.fdb ? `fdb ${e.mac} dst ${e.ip} dev ${e.link}` : `neigh ${e.ip} lladdr ${e.mac} dev ${e.link}`) + ` (network ${net.name})`;
  return [
    ...missing.map((e): Finding => ({ kind: 'peer', object: what(e), problem: 'missing: the cluster has this endpoint' })),
    ...extra.map((e): Finding => ({ kind: 'peer', object: what(e), problem: 'not in the cluster mirror' })),
  ];
}
