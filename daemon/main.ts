// netloomd: the composition root. Wires the store, the system layer, the controller and the API.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PLUGIN_SOCKET, resolvePaths } from '../common/config.js';
import { armFailpoints } from '../common/failpoint.js';
import { createLogger } from './log.js';
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
import { DAEMON_FLAGS, daemonHelp, type DaemonValues } from './flags.js';
import { parseOptions } from '../common/flags.js';

export const DEFAULT_CONFIG_FILE = '/etc/netloom/daemon.json';

/** netloomd --help, made from the flag table (daemon/flags.ts). */
export const DAEMON_HELP = daemonHelp();

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
const DOCKER_BOOLS = Object.keys(DAEMON_FLAGS).filter((k) => DAEMON_FLAGS[k].config === 'bool');

export async function runDaemon(argv: string[]): Promise<void> {
  const args = argv.map((a) => (DOCKER_BOOLS.includes(a.slice(2)) && a.startsWith('--') ? `${a}=true` : a));
  const { values: flagValues } = parseArgs({ args, options: parseOptions(DAEMON_FLAGS), strict: true }) as { values: DaemonValues };
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
  if (!Number.isFinite(every) || every < 0 || every > 3600)
    throw new Error(`invalid --firewall-check "${values['firewall-check']}": expected seconds from 0 to 3600`);
  const { overlayHost } = await clusterOf(values, sys, log, store);
  const ctl = new Controller({
    store,
    sys,
    log,
    names,
    firewallCheckMs: every * 1000,
    overlayHost,
    defaultBridge: settings.defaultBridge,
    iptables: settings.iptables,
    ipForward: settings.ipForward,
    defaultPools: settings.defaultPools,
    // Disconnect and rm retire links; they are deleted after 100 ms with nothing queued
    // (NETLOOM_REAP_QUIET_MS: tests hold reaps back to look at the state before one).
    reaper: { quietMs: Number(process.env.NETLOOM_REAP_QUIET_MS ?? 100) || 100 },
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
  const [{ Cluster, nodeIdOf }, { EtcdClient, etcdClusterStore, parseClusterStore }] = await Promise.all([
    import('../drivers/overlay/cluster.js'),
    import('../store/etcd.js'),
  ]);
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
    if (!parseUpstream(u))
      throw new Error(`invalid --dns-upstream "${u}": expected an IP address, optionally with a port (10.0.0.53, 10.0.0.53:5353, [fd00::53]:53)`);
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
  return new NameService({
    log,
    port,
    upstreams,
    defaultSearch: defaults.dnsSearch,
    defaultOptions: defaults.dnsOptions,
    files: { write: writeNetnsFile, remove: removeNetnsFiles },
  });
}

export const daemonLogFile = (dataDir: string): string => join(dataDir, 'netloomd.log');
