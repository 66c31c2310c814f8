// The overlay driver's multi-host hooks (drivers/driver.ts ClusterDriver): fixing a new network's
// VNI (cluster-wide through the Cluster when there is one, among this host's overlay networks
// when not) and this host's cluster membership as the controller sees it.
import { invalid } from '../../common/errors.js';
import type { ClusterDriver, ClusterMember } from '../driver.js';
import type { Cluster } from './cluster.js';
import { pickVni } from './pick.js';

/** The option keys the overlay keeps its VNI and MTU under. */
export interface OverlayOptionKeys {
  readonly vni: string;
  readonly mtu: string;
}

export function overlayClusterHooks(cluster: () => Cluster | undefined, opt: OverlayOptionKeys): Required<ClusterDriver> {
  const members = new WeakMap<Cluster, ClusterMember>();
  return {
    async defineNetwork(net, pools, options, others) {
      const pool = pools.find((p) => p.family === 4);
      if (!pool) throw invalid('NL_IPAM_NO_SUBNET', `overlay network ${net.name} needs an IPv4 subnet`);
      const raw = options[opt.vni];
      const want = raw === undefined ? undefined : Number(raw);
      const cl = cluster();
      if (cl) {
        if (!pool.userSubnet) throw invalid('NL_IPAM_NO_SUBNET', `overlay network ${net.name} needs --subnet: netloom does not pick subnets cluster-wide`);
        const def = await cl.define(net, pool, want, options[opt.mtu]);
        return { ...options, [opt.vni]: String(def.vni) };
      }
      const used = new Map(others.map((o) => [Number(o[opt.vni]), undefined]));
      return { ...options, [opt.vni]: String(pickVni(used, want)) };
    },
    clusterMember() {
      const cl = cluster();
      if (!cl) return undefined;
      let m = members.get(cl);
      if (!m) members.set(cl, (m = memberOf(cl, opt)));
      return m;
    },
  };
}

function memberOf(cl: Cluster, opt: OverlayOptionKeys): ClusterMember {
  return {
    hostId: cl.host,
    start: (events) => cl.start(events),
    close: () => cl.close(),
    async allocate(net, endpointId, wanted) {
      const pool = net.pools.find((p) => p.family === 4);
      return pool ? cl.allocate(net.id, pool.subnet, pool.gateway, endpointId, wanted) : undefined;
    },
    release: (networkId, ip) => cl.release(networkId, ip),
    announce: (ep) => cl.publish(ep),
    withdraw: (ep) => cl.withdraw(ep),
    undefine: (net, force) => cl.undefine(net, force),
    syncLocal: (eps) => cl.syncLocal(eps),
    networks: () =>
      cl.networks().map((d) => ({
        id: d.id,
        name: d.name,
        subnet: d.subnet,
        gateway: d.gateway,
        options: { [opt.vni]: String(d.vni), ...(d.mtu ? { [opt.mtu]: d.mtu } : {}) },
      })),
    endpoints: (networkId) =>
      cl
        .endpoints(networkId)
        .map((e) => ({ id: e.id, name: e.name, ip: e.ip, mac: e.mac, aliases: e.aliases, hostId: e.host, hostName: cl.hostName(e.host), vtep: e.vtep })),
    hosts: () => cl.hosts().map((h) => ({ id: h.id, name: h.name, address: h.vtep })),
  };
}
