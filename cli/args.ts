// Turning `netloom network create ...` flags into API request bodies. Pure: unit-tested.
// The flags themselves are declared with their commands in cli/commands*.ts; cli/parse.ts reads them.
import { addressOf, contains, ipFamily } from '../common/cidr.js';
import { UsageError } from '../common/errors.js';
import type { Parsed } from './command.js';

export type { Parsed } from './command.js';
export { UsageError };

/** `k=v` pairs (-o, --label, --aux-address) into a map; a pair without "=" is an error naming it. */
export function keyValues(flag: string, items: readonly string[], requireValue = true): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const i = it.indexOf('=');
    if (i <= 0 && requireValue) throw new UsageError(`invalid ${flag} "${it}": expected key=value`);
    if (i <= 0) out[it] = '';
    else out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

interface PoolBody {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** Docker matches each --gateway, --ip-range and --aux-address to the --subnet that contains it. */
function poolsFrom(v: Parsed['values']): PoolBody[] {
  const pools: PoolBody[] = list(v.subnet).map((s) => ({ Subnet: s }));
  const owner = (flag: string, value: string): PoolBody => {
    const addr = addressOf(value);
    if (!ipFamily(addr)) throw new UsageError(`invalid ${flag} "${value}": expected an IP address`);
    const p = pools.find((x) => {
      try {
        return contains(x.Subnet, addr);
      } catch {
        return false;
      }
    });
    if (!p) {
      const subnets = pools.map((x) => x.Subnet).join(', ') || 'none given';
      throw new UsageError(`${flag} ${value} is not inside any --subnet (${subnets})`);
    }
    return p;
  };
  for (const g of list(v.gateway)) owner('--gateway', g).Gateway = g;
  for (const r of list(v['ip-range'])) owner('--ip-range', r).IPRange = r;
  for (const [k, a] of Object.entries(keyValues('--aux-address', list(v['aux-address'])))) {
    const p = owner('--aux-address', a);
    p.AuxiliaryAddresses = { ...p.AuxiliaryAddresses, [k]: a };
  }
  return pools;
}

export function networkCreateBody(p: Parsed): Record<string, unknown> {
  if (p.positionals.length !== 1) throw new UsageError('network create needs exactly one NAME');
  const v = p.values;
  return {
    Name: p.positionals[0],
    Driver: (v.driver as string | undefined) ?? 'bridge',
    EnableIPv6: Boolean(v.ipv6),
    Internal: Boolean(v.internal),
    Attachable: Boolean(v.attachable),
    IPAM: {
      Driver: (v['ipam-driver'] as string | undefined) ?? 'default',
      // Only when given: Docker shows IPAM.Options as sent, null for none (its own CLI sends {}).
      ...(list(v['ipam-opt']).length ? { Options: keyValues('--ipam-opt', list(v['ipam-opt'])) } : {}),
      Config: poolsFrom(v),
    },
    Options: keyValues('--opt', list(v.opt)),
    Labels: keyValues('--label', list(v.label), false),
    ...(list(v.dns).length ? { Dns: list(v.dns) } : {}),
    ...(v.scope ? { Scope: v.scope } : {}),
    ...(v['config-only'] ? { ConfigOnly: true } : {}),
    ...(v['config-from'] ? { ConfigFrom: { Network: v['config-from'] } } : {}),
  };
}

export function endpointConfig(v: Parsed['values']): Record<string, unknown> {
  const ipam: Record<string, string> = {};
  if (v.ip) ipam.IPv4Address = v.ip as string;
  if (v.ip6) ipam.IPv6Address = v.ip6 as string;
  return {
    IPAMConfig: ipam,
    Aliases: list(v.alias),
    ...(list(v.dns).length ? { Dns: list(v.dns) } : {}),
    ...(list(v.publish).length ? { Publish: list(v.publish) } : {}),
  };
}

export const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

export function sandboxCreateBody(p: Parsed): Record<string, unknown> {
  if (p.positionals.length !== 1) throw new UsageError('sandbox create needs exactly one NAME');
  const v = p.values;
  const opt = (k: string, x: unknown): Record<string, unknown> => (x === undefined || (Array.isArray(x) && !x.length) ? {} : { [k]: x });
  return {
    Name: p.positionals[0],
    Network: v.network,
    EndpointConfig: endpointConfig(v),
    DnsSearch: list(v['dns-search']),
    DnsOptions: list(v['dns-option']),
    ...opt('Hostname', v.hostname),
    ...opt('Domainname', v.domainname),
    ...opt('Links', list(v.link)),
    ...opt('ExtraHosts', list(v['add-host'])),
    ...opt('MacAddress', v['mac-address']),
    ...opt('Expose', list(v.expose)),
    ...opt('PublishAll', v['publish-all']),
  };
}
