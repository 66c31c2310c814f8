// netloomd's flags, declared once: the parser's options, --help (DAEMON_HELP) and the daemon.json
// keys (daemon/config.ts CONFIG_KEYS) all come from this table.
import { renderFlags, type Flag, type Flags, type ValuesOf } from '../common/flags.js';

/** How a daemon.json key's value is read (daemon/config.ts parseConfigFile). */
export type ConfigKind = 'string' | 'bool' | 'list' | 'pools';

export interface DaemonFlag extends Flag {
  /** Also a daemon.json key, read as this kind. */
  readonly config?: ConfigKind;
  /** The key's name when it is not the flag's (Docker's --default-address-pool fills default-address-pools). */
  readonly key?: string;
}

/** Netloom's own flags (the first --help section). */
const OWN = {
  socket: {
    type: 'string',
    value: 'PATH',
    help: "API socket (env NETLOOM_SOCKET, default /run/netloom/netloom.sock): Docker's\nEngine API for networks (DOCKER_HOST=unix://PATH docker network ..., docker\ninfo, docker events, the Docker SDKs), plus /sandboxes",
  },
  'data-dir': { type: 'string', value: 'DIR', help: 'state directory (env NETLOOM_DATA_DIR, default /var/lib/netloom)' },
  'log-level': { type: 'string', value: 'LEVEL', config: 'string', help: 'trace, debug, info, warn, error (env NETLOOM_LOG_LEVEL, default info)' },
  'log-file': { type: 'string', value: 'FILE', help: 'write logs there instead of stdout' },
  'dns-port': { type: 'string', value: 'PORT', config: 'string', help: "port of the embedded DNS on each user-defined network's gateway (default 53)" },
  'dns-upstream': {
    type: 'string',
    multiple: true,
    value: 'IP[:PORT]',
    config: 'list',
    help: 'upstream for names netloom does not own (repeatable; default: the\nnameservers of --resolv-conf)',
  },
  'resolv-conf': {
    type: 'string',
    value: 'FILE',
    config: 'string',
    help: 'where the default upstreams come from (default /etc/resolv.conf); a loopback\nnameserver such as 127.0.0.53 works, the daemon forwards from the host namespace',
  },
  'no-dns': { type: 'boolean', help: 'run without the embedded DNS' },
  'plugin-socket': {
    type: 'string',
    value: 'PATH',
    help: [
      'Docker remote network + IPAM plugin socket (default',
      '/run/docker/plugins/netloom.sock: dockerd then knows the plugin as "netloom";',
      "another file name is another plugin name); dockerd must run in this daemon's",
      'network namespace, as Join hands it a host-side interface',
    ].join('\n'),
  },
  'no-plugin': { type: 'boolean', help: 'do not serve the Docker plugin protocol' },
  'cluster-store': {
    type: 'string',
    value: 'etcd://HOST:PORT[,HOST:PORT]',
    config: 'string',
    help: 'keep overlay networks in etcd, shared by every\nhost pointing at it (default: overlay networks are local to this host)',
  },
  'advertise-addr': { type: 'string', value: 'IP', config: 'string', help: "this host's underlay address (its VXLAN endpoint); needed with a cluster store" },
  'node-name': {
    type: 'string',
    value: 'NAME',
    config: 'string',
    help: "this host's display name in the cluster (default: the hostname); hosts are\ntold apart by a node ID made once and kept in --data-dir, so hosts sharing\na hostname work; a live host with this node ID or --advertise-addr is refused",
  },
  'vxlan-port': { type: 'string', value: 'PORT', config: 'string', help: 'UDP port of VXLAN (default 4789)' },
  'cluster-ttl': {
    type: 'string',
    value: 'SECONDS',
    config: 'string',
    help: "lease of this host's endpoints in the cluster (default 10): after a crash,\npeers forget them within this time",
  },
  'firewall-check': {
    type: 'string',
    value: 'SECONDS',
    config: 'string',
    help: "how often netloom's iptables rules are compared with the records and\nrestored if they drifted (a flush, a firewall reload); default 2, 0 = never",
  },
  salvage: {
    type: 'boolean',
    help: 'start on a damaged store: keep every record that verifies, move the damaged\nfile aside (never deleted); kernel objects no surviving record explains are\nkept and listed by `netloom doctor` until `netloom doctor --fix`',
  },
} as const satisfies Readonly<Record<string, DaemonFlag>>;

/** dockerd's flags (the second --help section). Its booleans take `--icc=false`: strings here. */
const DOCKERD = {
  bip: { type: 'string', value: 'CIDR', config: 'string', help: "the default bridge's address and subnet, e.g. 10.99.0.1/24" },
  bridge: {
    type: 'string',
    short: 'b',
    value: 'NAME',
    config: 'string',
    help: 'use this existing Linux bridge as the default bridge; none = no default bridge',
  },
  'fixed-cidr': { type: 'string', value: 'CIDR', config: 'string', help: 'default-bridge sandboxes get addresses from this part of the subnet' },
  'default-gateway': { type: 'string', value: 'IP', config: 'string', help: 'their default route goes via IP instead of the bridge' },
  mtu: { type: 'string', value: 'N', config: 'string', help: "the default bridge's MTU (default 1500)" },
  icc: { type: 'string', value: '=false', config: 'bool', help: 'no traffic between default-bridge sandboxes except legacy --link pairs' },
  'ip-masq': { type: 'string', value: '=false', config: 'bool', help: 'no masquerading of default-bridge traffic leaving the host' },
  'ip-forward': { type: 'string', value: '=false', config: 'bool', help: 'leave net.ipv4.ip_forward as it is' },
  iptables: { type: 'string', value: '=false', config: 'bool', help: 'write no iptables rules at all (no isolation, NAT or published ports)' },
  'default-address-pool': {
    type: 'string',
    multiple: true,
    value: 'base=CIDR,size=N',
    config: 'pools',
    key: 'default-address-pools',
    help: "where networks without --subnet get theirs (repeatable;\ndefault Docker's 172.17-31.0.0/16 and 192.168.0.0/16 as /20s)",
  },
  dns: { type: 'string', multiple: true, value: 'IP', config: 'list', help: 'upstream DNS server for sandboxes (repeatable; like --dns-upstream)' },
  'dns-search': {
    type: 'string',
    multiple: true,
    value: 'DOMAIN',
    config: 'list',
    help: 'search domain of sandboxes without their own --dns-search (repeatable)',
  },
  'dns-opt': {
    type: 'string',
    multiple: true,
    value: 'OPT',
    config: 'list',
    key: 'dns-opts',
    help: 'resolv.conf option of sandboxes without their own --dns-option (repeatable)',
  },
  'config-file': { type: 'string', value: 'PATH', help: '' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Readonly<Record<string, DaemonFlag>>;

export const DAEMON_FLAGS: Readonly<Record<string, DaemonFlag>> = { ...OWN, ...DOCKERD };
/** dockerd's flags alone (README's "Docker's run and dockerd flags" table lists them). */
export const DOCKERD_FLAGS: Readonly<Record<string, DaemonFlag>> = DOCKERD;

/** What the parser gives for the table. */
export type DaemonValues = ValuesOf<typeof OWN & typeof DOCKERD>;

/** The daemon.json keys, dockerd's first (as --config-file lists them): key -> flag and kind. */
export const CONFIG_FLAGS: readonly { key: string; flag: string; kind: ConfigKind }[] = [DOCKERD, OWN].flatMap((t) =>
  Object.entries(t as Readonly<Record<string, DaemonFlag>>).flatMap(([flag, f]) => (f.config ? [{ key: f.key ?? flag, flag, kind: f.config }] : [])),
);

const LAYOUT = { width: 19 };

/** --config-file's help names the keys from the table. */
function configFileHelp(): string {
  const shown = (c: (typeof CONFIG_FLAGS)[number]): string => (c.kind === 'pools' ? `${c.key} [{"base","size"}]` : c.key);
  const own = CONFIG_FLAGS.filter((c) => c.flag in OWN).map(shown);
  const docker = CONFIG_FLAGS.filter((c) => !(c.flag in OWN)).map(shown);
  const text = `settings as JSON, keys named as these flags (Docker's daemon.json): ${docker.join(', ')}, and ${own.join(', ')} (default /etc/netloom/daemon.json if it exists); a flag and the file giving different values, or an unknown key, is an error`;
  const lines = [''];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (lines[last] && lines[last].length + word.length >= 80) lines.push(word);
    else lines[last] = lines[last] ? `${lines[last]} ${word}` : word;
  }
  return lines.join('\n');
}

export function daemonHelp(): string {
  const dockerd: Flags = { ...DOCKERD, 'config-file': { ...DOCKERD['config-file'], help: configFileHelp() } };
  return `Usage: netloomd [OPTIONS]   (also: netloom daemon [OPTIONS])

Runs the netloom daemon in the foreground: networks, endpoints and sandboxes, served on a unix socket.

Options:
${renderFlags(OWN, LAYOUT)}

The default bridge and the host (dockerd's flags; changed values apply at the next start, once
no sandbox uses the default bridge):
${renderFlags(dockerd, LAYOUT)}

Environment: NETLOOMD_V8_FLAGS  V8 flags the daemon sets for itself at start (default
                     --optimize-for-size --semi-space-growth-factor=1: a smaller heap; "" = V8's defaults)
`;
}
