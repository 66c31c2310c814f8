// netloomd's settings from its flags and its config file (Docker's daemon.json: the keys are the
// flags' names). Pure: the caller reads the file; unit-tested in test/unit/daemon-config.test.ts.
//
// Docker's boolean flags take `--icc=false`, which node's parseArgs refuses for a boolean: they
// are read as strings here. A key set both by a flag and in the file must agree (Docker refuses
// even equal values; agreeing values are accepted here so a generated file and a script's flags
// can repeat each other); an unknown key in the file is refused naming it.
import { canonicalCidr, contains, formatIfAddr, ipFamily, parseCidr, parseIfAddr, parseIp, prefixLength } from '../common/cidr.js';
import { invalid } from '../common/errors.js';
import { parseUpstream } from '../common/upstream.js';
import type { DefaultPool } from '../ipam/types.js';
import type { DefaultBridgeSettings } from '../controller/requests.js';
import { CONFIG_FLAGS, type ConfigKind } from './flags.js';

type Kind = ConfigKind;

/** Settings that a flag and a daemon.json key can both give: key -> kind (from daemon/flags.ts). */
export const CONFIG_KEYS: Readonly<Record<string, Kind>> = Object.fromEntries(CONFIG_FLAGS.map((c) => [c.key, c.kind]));

/** The flag that sets a key (Docker's repeatable --default-address-pool fills default-address-pools). */
export const flagOf = (k: string): string => CONFIG_FLAGS.find((c) => c.key === k)?.flag ?? k;

export type ConfigValues = Record<string, string | string[] | undefined>;

const bad = (msg: string) => invalid('NL_BAD_DAEMON_CONFIG', msg);

/** The file's values in the flags' text form (numbers and booleans as text, pools as base=,size=). */
export function parseConfigFile(text: string, path: string): ConfigValues {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`invalid config file ${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(`invalid config file ${path}: expected a JSON object of settings`);
  const out: ConfigValues = {};
  for (const [k, v] of Object.entries(json)) {
    const kind = CONFIG_KEYS[k];
    if (!kind) throw bad(`unknown key "${k}" in config file ${path}: valid keys are ${Object.keys(CONFIG_KEYS).join(', ')}`);
    const where = `"${k}" in config file ${path}`;
    if (kind === 'bool') {
      if (typeof v !== 'boolean') throw bad(`invalid ${where}: expected true or false`);
      out[k] = String(v);
    } else if (kind === 'string') {
      if (typeof v !== 'string' && typeof v !== 'number') throw bad(`invalid ${where}: expected a string`);
      out[k] = String(v);
    } else if (kind === 'list') {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`invalid ${where}: expected a list of strings`);
      out[k] = v as string[];
    } else {
      if (!Array.isArray(v)) throw bad(`invalid ${where}: expected a list of {"base": CIDR, "size": N}`);
      out[k] = v.map((p: unknown) => {
        const o = p as { base?: unknown; size?: unknown };
        if (typeof o !== 'object' || o === null || typeof o.base !== 'string' || typeof o.size !== 'number') {
          throw bad(`invalid ${where}: expected a list of {"base": CIDR, "size": N}, got ${JSON.stringify(p)}`);
        }
        return `base=${o.base},size=${o.size}`;
      });
    }
  }
  return out;
}

/** Flags over the file; a key both give with different values is an error naming both. */
export function mergeConfig(flags: ConfigValues, file: ConfigValues, path: string): ConfigValues {
  const out: ConfigValues = { ...file };
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || (Array.isArray(v) && !v.length)) continue;
    const f = file[k];
    if (f !== undefined && JSON.stringify(f) !== JSON.stringify(v)) {
      const show = (x: string | string[]) => (Array.isArray(x) ? x.join(' ') : x);
      throw bad(`--${flagOf(k)} ${show(v)} disagrees with "${k}": ${JSON.stringify(f)} in config file ${path}: set it in one place`);
    }
    out[k] = v;
  }
  return out;
}

export interface DaemonSettings {
  readonly defaultBridge: DefaultBridgeSettings;
  readonly ipForward: boolean;
  readonly iptables: boolean;
  readonly dns: readonly string[];
  readonly dnsSearch: readonly string[];
  readonly dnsOptions: readonly string[];
  readonly defaultPools: readonly DefaultPool[];
}

function bool(k: string, v: string | string[] | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'string' && /^(true|1|t)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|f)$/i.test(v)) return false;
  throw bad(`invalid --${k} "${String(v)}": expected true or false`);
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** --bip: a host address of an IPv4 subnet with room for sandboxes (prefix up to /30). */
function parseBip(v: string): string {
  const c = parseCidr(v);
  const a = parseIfAddr(v);
  const ip = a && parseIp(a.ip);
  const broadcast = c && c.family === 4 ? c.base + 2 ** (32 - c.prefix) - 1 : undefined;
  if (!c || !a || !ip || c.family !== 4 || c.prefix > 30 || ip.value === c.base || ip.value === broadcast) {
    throw bad(`invalid --bip "${v}": expected the default bridge's IPv4 address with its subnet's prefix (up to /30), such as 10.99.0.1/24`);
  }
  return formatIfAddr(a);
}

/** --default-address-pool base=CIDR,size=N (either order, as Docker's flag reads it). */
function parsePool(v: string): DefaultPool {
  const m = /^(?:base=([^,]+),size=(\d{1,3})|size=(\d{1,3}),base=([^,]+))$/.exec(v.trim());
  const base = m && canonicalCidr(m[1] ?? m[4] ?? '');
  if (!m || !base) throw bad(`invalid --default-address-pool "${v}": expected base=CIDR,size=PREFIX, such as base=10.10.0.0/16,size=24`);
  return { base, size: Number(m[2] ?? m[3]) };
}

export function daemonSettings(v: ConfigValues): DaemonSettings {
  const bip = one(v.bip) === undefined ? undefined : parseBip(one(v.bip)!);
  const bridge = one(v.bridge);
  if (bridge !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) {
    throw bad(`invalid --bridge "${bridge}": expected the name of an existing Linux bridge (1 to 15 letters, digits, "_", "." or "-") or none`);
  }
  if (bridge === 'none' && bip) throw bad(`--bip ${bip} and --bridge none conflict: without a default bridge there is nothing to address`);
  const subnet = bip && canonicalCidr(bip);
  const fixed = one(v['fixed-cidr']);
  if (fixed !== undefined) {
    const c = parseCidr(fixed);
    if (c?.family !== 4) throw bad(`invalid --fixed-cidr "${fixed}": expected an IPv4 subnet such as 10.99.0.128/25`);
    if (subnet && (!contains(subnet, { family: 4, value: c.base }) || c.prefix < prefixLength(subnet))) {
      throw bad(`invalid --fixed-cidr "${fixed}": it is not inside the --bip subnet ${subnet}`);
    }
  }
  const gw = one(v['default-gateway']);
  if (gw !== undefined) {
    if (ipFamily(gw) !== 4) throw bad(`invalid --default-gateway "${gw}": expected an IPv4 address`);
    if (subnet && !contains(subnet, gw)) throw bad(`invalid --default-gateway "${gw}": it is not inside the --bip subnet ${subnet}`);
  }
  const rawMtu = one(v.mtu);
  const mtu = rawMtu === undefined ? undefined : /^\d{1,5}$/.test(rawMtu) ? Number(rawMtu) : NaN;
  if (mtu !== undefined && !(mtu >= 68 && mtu <= 65535)) throw bad(`invalid --mtu "${rawMtu}": expected an integer from 68 to 65535`);
  const dns = many(v.dns);
  for (const d of dns) if (!parseUpstream(d)) throw bad(`invalid --dns "${d}": expected an IP address`);
  const dnsSearch = many(v['dns-search']);
  for (const d of dnsSearch) if (!/^[A-Za-z0-9_.-]{1,253}$/.test(d)) throw bad(`invalid --dns-search "${d}": expected a domain name`);
  const dnsOptions = many(v['dns-opts']);
  for (const o of dnsOptions) if (!/^[a-z][a-z0-9_-]*(:\d+)?$/.test(o)) throw bad(`invalid --dns-opt "${o}": expected a resolv.conf option such as ndots:2`);
  return {
    defaultBridge: {
      ...(bip ? { bip } : {}),
      ...(bridge ? { bridge } : {}),
      ...(fixed ? { fixedCidr: canonicalCidr(fixed)! } : {}),
      ...(gw ? { defaultGateway: gw } : {}),
      ...(mtu ? { mtu } : {}),
      icc: bool('icc', v.icc, true),
      ipMasq: bool('ip-masq', v['ip-masq'], true),
    },
    ipForward: bool('ip-forward', v['ip-forward'], true),
    iptables: bool('iptables', v.iptables, true),
    dns,
    dnsSearch,
    dnsOptions,
    defaultPools: many(v['default-address-pools']).map(parsePool),
  };
}
