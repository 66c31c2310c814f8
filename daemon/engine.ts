// The parts of Docker's Engine API that are not networks, answered as far as a networks-only engine
// can: /_ping and /version (version negotiation), /info (`docker info`, the SDK's info()), /swarm
// and the other swarm routes as an engine outside a swarm, /events (network events), and a JSON
// 404 for everything else. Texts and statuses are a Docker 20.10 engine's.
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Controller } from '../controller/index.js';
import { unavailable } from '../common/errors.js';
import { type EventHub, checkEventFilters, eventMatches, type EventMessage, badEventTime } from './events.js';
import { parseFilters } from './filters.js';
import { dockerTimestamp } from './gotime.js';

export const API_VERSION = '1.41';
export const VERSION = '0.1.0';
const MIN_API_VERSION = '1.24';
const GOARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };

/** Headers a Docker engine sends with every answer; clients read Api-Version (and Ostype). */
export const ENGINE_HEADERS: Readonly<Record<string, string>> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `netloom/${VERSION} (linux)`,
};

const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** One query parameter as Go's r.Form.Get reads it: the first value when repeated. */
export function queryParam(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

function info(ctl: Controller, hub: EventHub): object {
  const sandboxes = ctl.listSandboxes().length;
  const commit = { ID: '', Expected: '' };
  return {
    ID: `netloom-${ctl.instanceId}`,
    Containers: sandboxes,
    ContainersRunning: sandboxes,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: 0,
    Driver: '',
    DriverStatus: [],
    // The network drivers and IPAM drivers netloom has; it has no volume or log plugins.
    Plugins: { Volume: [], Network: ctl.driverNames(), Authorization: null, Log: [] },
    MemoryLimit: false,
    SwapLimit: false,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: false,
    CpuCfsQuota: false,
    CPUShares: false,
    CPUSet: false,
    PidsLimit: false,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: '',
    CgroupDriver: '',
    CgroupVersion: '',
    NEventsListener: hub.listeners,
    KernelVersion: release(),
    OperatingSystem: 'netloom (networks only)',
    OSVersion: '',
    OSType: 'linux',
    Architecture: arch() === 'x64' ? 'x86_64' : arch(),
    IndexServerAddress: '',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: [],
      IndexConfigs: {},
      Mirrors: [],
    },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    GenericResources: null,
    DockerRootDir: '',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: VERSION,
    Runtimes: {},
    DefaultRuntime: '',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: commit,
    RuncCommit: commit,
    InitCommit: commit,
    SecurityOptions: [],
    Warnings: ["netloom serves Docker's network API only: containers, images and volumes are not available", ...ctl.settingsWarnings()],
  };
}

function version(ctl: Controller): object {
  const details = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
    Arch: GOARCH[process.arch] ?? process.arch,
    KernelVersion: release(),
    Instance: ctl.instanceId,
    Pid: String(process.pid),
  };
  return {
    Platform: { Name: 'netloom' },
    Components: [{ Name: 'netloomd', Version: VERSION, Details: details }],
    Version: VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node ${process.version}`,
    Os: 'linux',
    Arch: details.Arch,
    KernelVersion: release(),
    BuildTime: '',
  };
}

/** GET /events: replays what the hub kept since `since`, then streams until `until` or the client goes. */
function streamEvents(app: FastifyInstance, hub: EventHub): void {
  const open = new Set<() => void>();
  // Before the server stops listening: an open stream would otherwise keep close() waiting.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  app.get('/events', (req, reply: FastifyReply) => {
    const f = parseFilters(queryParam(req.query, 'filters'));
    checkEventFilters(f);
    const nowMs = Date.now();
    const zone = -new Date().getTimezoneOffset();
    const when = (what: 'since' | 'until'): number | undefined => {
      const v = queryParam(req.query, what);
      if (!v) return undefined;
      try {
        return dockerTimestamp(v, nowMs, zone);
      } catch (err) {
        throw badEventTime(what, v, err);
      }
    };
    const sinceMs = when('since');
    const untilMs = when('until');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...ENGINE_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const send = (ev: EventMessage): void => {
      if (untilMs !== undefined && ev.timeNano / 1e6 > untilMs) return;
      if (eventMatches(f, ev)) res.write(`${JSON.stringify(ev)}\n`);
    };
    if (sinceMs !== undefined) hub.since(sinceMs * 1e6).forEach(send);
    if (untilMs !== undefined && untilMs <= nowMs) {
      res.end();
      return;
    }
    const unsubscribe = hub.subscribe(send);
    const timer = untilMs !== undefined ? setTimeout(() => end(), untilMs - nowMs) : undefined;
    const end = (): void => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      open.delete(end);
      res.end();
    };
    open.add(end);
    res.on('close', end);
  });
}

export function engineRoutes(
  app: FastifyInstance,
  ctl: Controller,
  hub: EventHub,
  fail: (reply: FastifyReply, status: number, message: string, code: string) => FastifyReply,
): void {
  app.get('/_ping', async (_req, reply) =>
    reply.headers({ 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' }).type('text/plain; charset=utf-8').send('OK'),
  );
  app.get('/version', async () => version(ctl));
  app.get('/info', async () => info(ctl, hub));

  // An engine outside a swarm: leave says so, the manager-only routes say what is needed.
  for (const path of ['/swarm/init', '/swarm/join']) {
    app.post(path, async () => {
      throw unavailable('NL_NO_SWARM', 'netloom has no swarm mode: a node cannot init or join a swarm');
    });
  }
  app.post('/swarm/leave', async () => {
    throw unavailable('NL_NO_SWARM', 'This node is not part of a swarm');
  });
  for (const path of [
    '/swarm',
    '/swarm/*',
    '/nodes',
    '/nodes/*',
    '/services',
    '/services/*',
    '/tasks',
    '/tasks/*',
    '/secrets',
    '/secrets/*',
    '/configs',
    '/configs/*',
  ]) {
    app.all(path, async () => {
      throw unavailable('NL_NO_SWARM', NOT_MANAGER);
    });
  }
  streamEvents(app, hub);

  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, `netloom serves Docker's network API only (and /sandboxes): ${req.method} ${req.url} is not one of its routes`, 'NL_NO_ROUTE'),
  );
}
