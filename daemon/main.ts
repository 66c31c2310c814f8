// netloomd: the composition root. Wires the store, the system layer, the controller and the API.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PLUGIN_SOCKET, resolvePaths } from '../common/config.js';
import { armFailpoints } from '../common/failpoint.js';
import { createLogger } from '../common/log.js';
import { Controller } from '../controller/index.js';
import { FileStore, SOCKETS_KEY } from '../store/file.js';
import { createSystem } from '../system/index.js';
import { buildServer } from './server.js';
import type { FastifyInstance } from 'fastify';
import { hostname } from 'node:os';
// Loaded only by a daemon that uses them (bench/daemon-rss.sh): the Docker plugin face (not with
// --no-plugin) and the cluster with its etcd client (only with --cluster-store).
import { addressOf, ipFamily } from '../common/cidr.js';
import type { OverlayHost } from '../drivers/overlay/index.js';
import type { System } from '../system/types.js';
import { NameService } from '../dns/service.js';
import { parseNameservers } from '../dns/files.js';
import { removeNetnsFiles, writeNetnsFile } from '../system/files.js';
import { readFileSync } from 'node:fs';
import { parseUpstream } from '../common/upstream.js';
import { CONFIG_KEYS, daemonSettings, flagOf, mergeConfig, parseConfigFile, type ConfigValues, type DaemonSettings } from './config.js';

export const DEFAULT_CONFIG_FILE = '/etc/netloom/daemon.json';

export const DAEMON_HELP = `Usage: netloomd [OPTIONS]   (also: netloom daemon [OPTIONS])

Runs the netloom daemon in the foreground: networks, endpoints and sandboxes, served on a unix socket.

Options:
  --socket PATH      API socket (env NETLOOM_SOCKET, default /run/netloom/netloom.sock): Docker's
                     Engine API for networks (DOCKER_HOST=unix://PATH docker network ..., docker
                     info, docker events, the Docker SDKs), plus /sandboxes
  --data-dir DIR     state directory (env NETLOOM_DATA_DIR, default /var/lib/netloom)
  --log-level LEVEL  trace, debug, info, warn, error (env NETLOOM_LOG_LEVEL, default info)
  --log-file FILE    write logs there instead of stdout
  --dns-port PORT    port of the embedded DNS on each user-defined network's gateway (default 53)
  --dns-upstream IP[:PORT]  upstream for names netloom does not own (repeatable; default: the
                     nameservers of --resolv-conf)
  --resolv-conf FILE where the default upstreams come from (default /etc/resolv.conf); a loopback
                     nameserver such as 127.0.0.53 works, the daemon forwards from the host namespace
  --no-dns           run without the embedded DNS
  --plugin-socket PATH  Docker remote network + IPAM plugin socket (default
                     /run/docker/plugins/netloom.sock: dockerd then knows the plugin as "netloom";
                     another file name is another plugin name); dockerd must run in this daemon's
                     network namespace, as Join hands it a host-side interface
  --no-plugin        do not serve the Docker plugin protocol
  --cluster-store etcd://HOST:PORT[,HOST:PORT]  keep overlay networks in etcd, shared by every
                     host pointing at it (default: overlay networks are local to this host)
  --advertise-addr IP  this host's underlay address (its VXLAN endpoint); needed with a cluster store
  --node-name NAME   this host's display name in the cluster (default: the hostname); hosts are
                     told apart by a node ID made once and kept in --data-dir, so hosts sharing
                     a hostname work; a live host with this node ID or --advertise-addr is refused
  --vxlan-port PORT  UDP port of VXLAN (default 4789)
  --cluster-ttl SECONDS  lease of this host's endpoints in the cluster (default 10): after a crash,
                     peers forget them within this time
  --firewall-check SECONDS  how often netloom's iptables rules are compared with the records and
                     restored if they drifted (a flush, a firewall reload); default 2, 0 = never
  --salvage          start on a damaged store: keep every record that verifies, move the damaged
                     file aside (never deleted); kernel objects no surviving record explains are
                     kept and listed by \`netloom doctor\` until \`netloom doctor --fix\`

The default bridge and the host (dockerd's flags; changed values apply at the next start, once
no sandbox uses the default bridge):
  --bip CIDR         the default bridge's address and subnet, e.g. 10.99.0.1/24
  -b, --bridge NAME  use this existing Linux bridge as the default bridge; none = no default bridge
  --fixed-cidr CIDR  default-bridge sandboxes get addresses from this part of the subnet
  --default-gateway IP  their default route goes via IP instead of the bridge
  --mtu N            the default bridge's MTU (default 1500)
  --icc=false        no traffic between default-bridge sandboxes except legacy --link pairs
  --ip-masq=false    no masquerading of default-bridge traffic leaving the host
  --ip-forward=false leave net.ipv4.ip_forward as it is
  --iptables=false   write no iptables rules at all (no isolation, NAT or published ports)
  --default-address-pool base=CIDR,size=N  where networks without --subnet get theirs (repeatable;
                     default Docker's 172.17-31.0.0/16 and 192.168.0.0/16 as /20s)
  --dns IP           upstream DNS server for sandboxes (repeatable; like --dns-upstream)
  --dns-search DOMAIN  search domain of sandboxes without their own --dns-search (repeatable)
  --dns-opt OPT      resolv.conf option of sandboxes without their own --dns-option (repeatable)
  --config-file PATH settings as JSON, keys named as these flags (Docker's daemon.json): bip,
                     bridge, fixed-cidr, default-gateway, mtu, icc, ip-masq, ip-forward, iptables,
                     dns, dns-search, dns-opts, default-address-pools [{"base","size"}], and dns-upstream,
                     dns-port, resolv-conf, log-level, firewall-check and the cluster flags
                     (default /etc/netloom/daemon.json if it exists); a flag and the file giving
                     different values, or an unknown key, is an error
  -h, --help         show this help

Environment: NETLOOMD_V8_FLAGS  V8 flags the daemon sets for itself at start (default
                     --optimize-for-size --semi-space-growth-factor=1: a smaller heap; "" = V8's defaults)
`;

/** True when something answers on the socket (a live daemon); a stale socket file is not one. */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Docker's boolean daemon flags take `--icc=false`, which parseArgs refuses for a boolean: they
 *  are strings, and a bare `--icc` means true as in Docker. */
const DOCKER_BOOLS = ['icc', 'ip-masq', 'ip-forward', 'iptables'];

export async function runDaemon(argv: string[]): Promise<void> {
  const args = argv.map((a) => (DOCKER_BOOLS.includes(a.slice(2)) && a.startsWith('--') ? `${a}=true` : a));
  const { values: flagValues } = parseArgs({
    args,
    options: {
      bip: { type: 'string' },
      bridge: { type: 'string', short: 'b' },
      'fixed-cidr': { type: 'string' },
      'default-gateway': { type: 'string' },
      mtu: { type: 'string' },
      icc: { type: 'string' },
      'ip-masq': { type: 'string' },
      'ip-forward': { type: 'string' },
      iptables: { type: 'string' },
      'default-address-pool': { type: 'string', multiple: true },
      dns: { type: 'string', multiple: true },
      'dns-search': { type: 'string', multiple: true },
      'dns-opt': { type: 'string', multiple: true },
      'config-file': { type: 'string' },
      socket: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'log-file': { type: 'string' },
      'dns-port': { type: 'string' },
      'dns-upstream': { type: 'string', multiple: true },
      'resolv-conf': { type: 'string' },
      'no-dns': { type: 'boolean' },
      'plugin-socket': { type: 'string' },
      'no-plugin': { type: 'boolean' },
      'firewall-check': { type: 'string' },
      'cluster-store': { type: 'string' },
      'advertise-addr': { type: 'string' },
      'node-name': { type: 'string' },
      'vxlan-port': { type: 'string' },
      'cluster-ttl': { type: 'string' },
      salvage: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (flagValues.help) {
    process.stdout.write(DAEMON_HELP);
    return;
  }
  const { values, settings } = daemonConfig(flagValues);
  const paths = resolvePaths({ socket: values.socket, dataDir: values['data-dir'] });
  const pluginSocket = values['no-plugin'] ? undefined : (values['plugin-socket'] ?? DEFAULT_PLUGIN_SOCKET);
  for (const path of [paths.socket, pluginSocket]) {
    if (!path || !existsSync(path)) continue;
    if (await socketAlive(path)) throw new Error(`a daemon already answers on ${path}`);
    unlinkSync(path);
  }
  // Before anything touches the kernel (and before the log file, whose async writer cannot flush
  // on an early exit): a damaged or locked store stops the start here, one line naming it.
  const store = FileStore.open(paths.dataDir, { salvage: values.salvage });
  const log = createLogger({ level: values['log-level'], file: values['log-file'] });
  // For `netloom system reset` when no daemon is left to ask where its sockets are.
  await store.txn([], [{ op: 'put', key: SOCKETS_KEY, value: { api: paths.socket, plugin: pluginSocket } }]);
  if (store.salvaged) log.warn({ ...store.salvaged }, 'store salvaged: every record that verifies was kept, the damaged files moved aside');
  const sys = createSystem();
  const names = values['no-dns'] ? undefined : nameService({ ...values, 'dns-upstream': [...(values['dns-upstream'] ?? []), ...settings.dns] }, log, settings);
  const every = Number(values['firewall-check'] ?? 2);
  if (!Number.isFinite(every) || every < 0 || every > 3600) throw new Error(`invalid --firewall-check "${values['firewall-check']}": expected seconds from 0 to 3600`);
  const { overlayHost } = await clusterOf(values, sys, log, store);
  const ctl = new Controller({
    store, sys, log, names, firewallCheckMs: every * 1000, overlayHost,
    defaultBridge: settings.defaultBridge, iptables: settings.iptables, ipForward: settings.ipForward, defaultPools: settings.defaultPools,
  });
  if (!settings.iptables) log.warn('--iptables=false: netloom writes no iptables rules (no isolation between networks, no NAT, no published ports)');
  await ctl.start();
  armFailpoints();
  const app = buildServer(ctl);
  await listenPrivate(app, paths.socket);
  const plugin = pluginSocket ? (await import('../plugin/server.js')).buildPluginServer(ctl, log) : undefined;
  if (plugin && pluginSocket) await listenPrivate(plugin, pluginSocket);
  log.info({ socket: paths.socket, pluginSocket, dataDir: paths.dataDir, pid: process.pid }, 'netloomd ready');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'netloomd stopping');
    await app.close();
    await plugin?.close();
    await ctl.close();
    names?.close();
    await store.close();
    sys.close();
    log.flush?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** --cluster-store and friends: checked here, before anything is created, each bad value named. */
async function clusterOf(
  v: { 'cluster-store'?: string; 'advertise-addr'?: string; 'node-name'?: string; 'vxlan-port'?: string; 'cluster-ttl'?: string },
  sys: System,
  log: ReturnType<typeof createLogger>,
  store: FileStore,
): Promise<{ overlayHost?: OverlayHost }> {
  const port = Number(v['vxlan-port'] ?? 4789);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid --vxlan-port "${v['vxlan-port']}": expected 1 to 65535`);
  if (!v['cluster-store']) {
    if (v['advertise-addr']) throw new Error('--advertise-addr needs --cluster-store: without one, overlay networks are local to this host');
    return { overlayHost: { port, underlayMtu: 1500 } };
  }
  const [{ Cluster, nodeIdOf }, { EtcdClient, etcdClusterStore, parseClusterStore }] = await Promise.all([import('../drivers/overlay/cluster.js'), import('../store/etcd.js')]);
  const endpoints = parseClusterStore(v['cluster-store']);
  const adv = v['advertise-addr'];
  if (!adv) throw new Error('--cluster-store needs --advertise-addr: the underlay address other hosts reach this one on');
  if (ipFamily(adv) !== 4) throw new Error(`invalid --advertise-addr "${adv}": expected an IPv4 address`);
  const addr = (await sys.host.addrs()).find((a) => addressOf(a.cidr) === adv);
  if (!addr) throw new Error(`--advertise-addr ${adv} is not an address of this host`);
  const underlayMtu = (await sys.host.link(addr.link))?.mtu ?? 1500;
  const ttl = Number(v['cluster-ttl'] ?? 10);
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600) throw new Error(`invalid --cluster-ttl "${v['cluster-ttl']}": expected 2 to 3600 seconds`);
  const node = v['node-name'] ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(node)) throw new Error(`invalid --node-name "${node}": expected letters, digits, "_", "." or "-"`);
  const kv = new EtcdClient(endpoints);
  await kv.get('ov/seq'); // unreachable: one line naming it, before anything local is created
  // Known in the cluster by a node ID kept in the data dir; --node-name is only displayed.
  const cluster = new Cluster(etcdClusterStore(kv), adv, log, await nodeIdOf(store), ttl, node);
  await cluster.claim(); // another live host with this ID or address: refused before reconcile
  return { overlayHost: { vtep: adv, port, underlayMtu, cluster } };
}

/** Listens on a unix socket only root can use: created 0600 (umask), not chmod'ed after, so no
 *  moment exists when others could connect. */
async function listenPrivate(app: FastifyInstance, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const oldMask = process.umask(0o177);
  try {
    await app.listen({ path });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
}

/** The flags merged with the config file (--config-file, else /etc/netloom/daemon.json if it
 *  exists), and the settings they make; every bad value named before anything starts. */
function daemonConfig<V extends Record<string, unknown>>(flags: V): { values: V & ConfigValues; settings: DaemonSettings } {
  const given: ConfigValues = {};
  for (const k of Object.keys(CONFIG_KEYS)) given[k] = flags[flagOf(k)] as ConfigValues[string];
  const path = (flags['config-file'] as string | undefined) ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let file: ConfigValues = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    file = parseConfigFile(text, path);
  }
  const merged = mergeConfig(given, file, path ?? '');
  return { values: { ...flags, ...merged }, settings: daemonSettings(merged) };
}

function nameService(
  values: { 'dns-port'?: string; 'dns-upstream'?: string[]; 'resolv-conf'?: string },
  log: ReturnType<typeof createLogger>,
  defaults: { dnsSearch: readonly string[]; dnsOptions: readonly string[] },
): NameService {
  const port = Number(values['dns-port'] ?? 53);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid --dns-port "${values['dns-port']}": expected 1 to 65535`);
  const fixed = values['dns-upstream'];
  for (const u of fixed ?? []) {
    if (!parseUpstream(u)) throw new Error(`invalid --dns-upstream "${u}": expected an IP address, optionally with a port (10.0.0.53, 10.0.0.53:5353, [fd00::53]:53)`);
  }
  const resolvConf = values['resolv-conf'] ?? '/etc/resolv.conf';
  // Re-read at most once a second, so an edited resolv.conf takes effect without a restart.
  let cached: { at: number; list: string[] } = { at: 0, list: [] };
  const upstreams = (): readonly string[] => {
    if (fixed?.length) return fixed;
    if (Date.now() - cached.at > 1000) {
      let text = '';
      try {
        text = readFileSync(resolvConf, 'utf8');
      } catch {
        /* no resolv.conf: no upstream */
      }
      cached = { at: Date.now(), list: parseNameservers(text) };
    }
    return cached.list;
  };
  return new NameService({ log, port, upstreams, defaultSearch: defaults.dnsSearch, defaultOptions: defaults.dnsOptions, files: { write: writeNetnsFile, remove: removeNetnsFiles } });
}

export const daemonLogFile = (dataDir: string): string => join(dataDir, 'netloomd.log');
