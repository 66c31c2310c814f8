// The peer table: the cluster's ov/ keys as this host mirrors them, read into networks, endpoints
// and hosts (pure). A hand-written or corrupt key is skipped, never fatal. Keys:
//   ov/net/<id>            {id, name, subnet, gateway, vni, mtu?, created}
//   ov/ep/<id>/<ep>        {id, network, host, vtep, ip, mac, name, aliases}
//   ov/host/<node id>      {vtep, name}
export interface OvNet {
  readonly id: string;
  readonly name: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly vni: number;
  readonly mtu?: string;
  readonly created: string;
}

export interface OvEndpoint {
  readonly id: string;
  readonly network: string;
  /** The node ID of the host it lives on. */
  readonly host: string;
  readonly vtep: string;
  readonly ip: string; // cidr
  readonly mac: string;
  readonly name: string;
  readonly aliases: readonly string[];
}

export interface OvHost {
  readonly id: string;
  readonly name: string;
  readonly vtep: string;
}

export type Mirror = ReadonlyMap<string, unknown>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mirroredNetworks(m: Mirror): OvNet[] {
  return [...m]
    .filter(([k, v]) => k.startsWith('ov/net/') && isObj(v) && typeof v.id === 'string' && typeof v.subnet === 'string' && typeof v.vni === 'number')
    .map(([, v]) => v as unknown as OvNet);
}

export function mirroredEndpoints(m: Mirror, networkId?: string): OvEndpoint[] {
  const p = networkId ? `ov/ep/${networkId}/` : 'ov/ep/';
  return [...m]
    .filter(([k, v]) => k.startsWith(p) && isObj(v) && ['id', 'host', 'vtep', 'ip', 'mac', 'name'].every((f) => typeof v[f] === 'string'))
    .map(([, v]) => ({ aliases: [], ...(v as object) }) as unknown as OvEndpoint);
}

export function mirroredHosts(m: Mirror): OvHost[] {
  return [...m]
    .filter(([k, v]) => k.startsWith('ov/host/') && isObj(v) && typeof v.vtep === 'string')
    .map(([k, v]) => {
      const id = k.slice('ov/host/'.length);
      const h = v as { vtep: string; name?: string };
      return { id, name: h.name ?? id, vtep: h.vtep };
    });
}
