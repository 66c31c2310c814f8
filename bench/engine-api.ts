// Latency harness for anything that serves Docker's Engine network API on a unix socket: Docker
// itself and netloomd. The same requests go to both, so their latencies can be compared as ratios.
//
// Every loop here is bounded by the caller's counts and every request by a timeout. Each measure
// function removes what it created (networks, then containers) even when a step fails; names carry
// the process ID (`nlbench-<pid>-...`) so a run never touches another run's objects.
//
// bench/ sits outside the layering in STYLE.md: it measures engines from the outside with plain
// HTTP and processes, and imports nothing from the rest of netloom.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';

/** An engine to measure. Created by the bench entry points, one per socket. */
export interface Target {
  name: string;
  socket: string;
  /** make/remove a "container" to connect */
  makeContainer(name: string): Promise<void>;
  removeContainer(name: string): Promise<void>;
}

/** Latencies in milliseconds. Percentiles are nearest-rank over the samples. */
export interface Stats {
  n: number;
  p50: number;
  p95: number;
  mean: number;
}

export type ApiOp = 'create' | 'connect' | 'disconnect' | 'rm';
export const API_OPS: readonly ApiOp[] = ['create', 'connect', 'disconnect', 'rm'];

export interface FlatResult {
  first: Stats;
  last: Stats;
  /** last.p50 / first.p50: 1 means the operation does not slow down as objects accumulate */
  ratio: number;
}

const REQUEST_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 60_000;
const RUN_ID = `nlbench-${process.pid}`;

// ---------------------------------------------------------------------------------------------
// HTTP over a unix socket

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Closes the keep-alive connections so the process can exit. Call once at the end of a run. */
export function closeConnections(): void {
  agent.destroy();
}

/** `unix:///run/x.sock` or `/run/x.sock` -> `/run/x.sock`. */
export function socketPath(hostOrPath: string): string {
  return hostOrPath.startsWith('unix://') ? hostOrPath.slice('unix://'.length) : hostOrPath;
}

export async function request(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(new Error(`${method} ${path} on ${socket}: ${err.message}`, { cause: err })));
    req.end(payload);
  });
}

/** request(), then throw unless the status is one of `ok`; the error names the call and the reply. */
async function call(socket: string, method: string, path: string, body: unknown, ok: readonly number[]): Promise<string> {
  const res = await request(socket, method, path, body);
  if (!ok.includes(res.status)) {
    throw new Error(`${method} ${path} on ${socket}: status ${res.status}, expected ${ok.join(' or ')}: ${res.body.trim().slice(0, 300)}`);
  }
  return res.body;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** Docker: a "container" is `docker run -d --name X nlbusybox sleep 3600`, made through the API. */
export function dockerTarget(hostOrPath: string, image = 'nlbusybox:latest'): Target {
  const socket = socketPath(hostOrPath);
  return {
    name: 'docker',
    socket,
    async makeContainer(name) {
      const q = `?name=${encodeURIComponent(name)}`;
      await call(socket, 'POST', `/containers/create${q}`, { Image: image, Cmd: ['sleep', '3600'] }, [201]);
      await call(socket, 'POST', `/containers/${encodeURIComponent(name)}/start`, undefined, [204, 304]);
    },
    async removeContainer(name) {
      await call(socket, 'DELETE', `/containers/${encodeURIComponent(name)}?force=true`, undefined, [204, 404]);
    },
  };
}

/** netloomd: a "container" is a sandbox. */
export function netloomTarget(socket: string): Target {
  return {
    name: 'netloom',
    socket,
    async makeContainer(name) {
      await call(socket, 'POST', '/sandboxes/create', { Name: name }, [200, 201]);
    },
    async removeContainer(name) {
      await call(socket, 'DELETE', `/sandboxes/${encodeURIComponent(name)}`, undefined, [200, 204, 404]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and subnets

export function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) return { n: 0, p50: NaN, p95: NaN, mean: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]!;
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return { n: sorted.length, p50: round3(rank(0.5)), p95: round3(rank(0.95)), mean: round3(mean) };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * The i-th /24 inside `base` (an IPv4 CIDR with a prefix of /8 to /24), and its .1 gateway:
 * subnet24('10.231.0.0/16', 5) -> { subnet: '10.231.5.0/24', gateway: '10.231.5.1' }.
 */
export function subnet24(base: string, i: number): { subnet: string; gateway: string } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(base);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const len = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || !(len >= 8 && len <= 24)) {
    throw new Error(`invalid subnet base "${base}": expected an IPv4 CIDR from /8 to /24, like 10.231.0.0/16`);
  }
  const capacity = 2 ** (24 - len);
  if (!Number.isInteger(i) || i < 0 || i >= capacity) {
    throw new Error(`subnet base ${base} holds ${capacity} /24 subnets, asked for number ${i}`);
  }
  const start = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8)) >>> 0;
  const mask = (~0 << (32 - len)) >>> 0;
  const net = ((start & mask) >>> 0) + i * 256;
  const dotted = (x: number): string => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
  return { subnet: `${dotted(net)}/24`, gateway: dotted(net + 1) };
}

function networkBody(name: string, subnet: string, gateway: string): unknown {
  return {
    Name: name,
    Driver: 'bridge',
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gateway }] },
    Options: {},
    Labels: { 'netloom.bench': RUN_ID },
  };
}

// ---------------------------------------------------------------------------------------------
// Cleanup that keeps going: every undo runs, failures are reported together.

class Cleanup {
  private readonly undos: Array<{ what: string; fn: () => Promise<unknown> }> = [];
  add(what: string, fn: () => Promise<unknown>): void {
    this.undos.push({ what, fn });
  }
  /** Drop a registered undo once the measured code has already done it. */
  done(what: string): void {
    const i = this.undos.findIndex((u) => u.what === what);
    if (i >= 0) this.undos.splice(i, 1);
  }
  async run(): Promise<void> {
    const failures: string[] = [];
    for (const u of this.undos.splice(0).reverse()) {
      try {
        await u.fn();
      } catch (err) {
        failures.push(`${u.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (failures.length) throw new Error(`cleanup failed for ${failures.length} object(s):\n  ${failures.join('\n  ')}`);
  }
}

/** Run `body`, then the cleanup; a body error wins, a cleanup error alone is thrown. */
async function withCleanup<T>(body: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  let result: T;
  try {
    result = await body(c);
  } catch (err) {
    await c.run().catch((cleanupErr: Error) => process.stderr.write(`bench: ${cleanupErr.message}\n`));
    throw err;
  }
  await c.run();
  return result;
}

async function createNetwork(t: Target, c: Cleanup, name: string, base: string, i: number): Promise<number> {
  const { subnet, gateway } = subnet24(base, i);
  const ms = await timed(() => call(t.socket, 'POST', '/networks/create', networkBody(name, subnet, gateway), [201]));
  c.add(`network ${name}`, () => call(t.socket, 'DELETE', `/networks/${name}`, undefined, [200, 204, 404]));
  return ms;
}

async function deleteNetwork(t: Target, c: Cleanup, name: string): Promise<number> {
  const ms = await timed(() => call(t.socket, 'DELETE', `/networks/${name}`, undefined, [200, 204]));
  c.done(`network ${name}`);
  return ms;
}

async function connect(t: Target, c: Cleanup, net: string, ctr: string): Promise<number> {
  const ms = await timed(() => call(t.socket, 'POST', `/networks/${net}/connect`, { Container: ctr, EndpointConfig: {} }, [200, 204]));
  // Undone before the network is deleted: an engine refuses to delete a network with endpoints.
  c.add(`endpoint ${ctr} on ${net}`, () => call(t.socket, 'POST', `/networks/${net}/disconnect`, { Container: ctr, Force: true }, [200, 204, 404]));
  return ms;
}

async function disconnect(t: Target, c: Cleanup, net: string, ctr: string): Promise<number> {
  const ms = await timed(() => call(t.socket, 'POST', `/networks/${net}/disconnect`, { Container: ctr, Force: false }, [200, 204]));
  c.done(`endpoint ${ctr} on ${net}`);
  return ms;
}

async function makeContainer(t: Target, c: Cleanup, name: string): Promise<void> {
  c.add(`container ${name}`, () => t.removeContainer(name));
  await t.makeContainer(name);
}

/** Runs `fn` on every item with at most `limit` in flight (container creation is not measured). */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// Measurements

/**
 * One container; then `rounds` times: create a network with an explicit /24 from `subnetBase`,
 * connect the container, disconnect it, delete the network. `warmup` extra rounds run first and
 * are not counted (first-request costs: connection setup, lazy initialisation in the engine).
 */
export async function measureApi(t: Target, opts: { rounds: number; subnetBase: string; warmup?: number }): Promise<Record<ApiOp, Stats>> {
  const warmup = opts.warmup ?? 2;
  const samples: Record<ApiOp, number[]> = { create: [], connect: [], disconnect: [], rm: [] };
  return withCleanup(async (c) => {
    const ctr = `${RUN_ID}-api-c`;
    await makeContainer(t, c, ctr);
    for (let i = 0; i < warmup + opts.rounds; i++) {
      const net = `${RUN_ID}-api-${i}`;
      const ms: Record<ApiOp, number> = {
        create: await createNetwork(t, c, net, opts.subnetBase, i),
        connect: await connect(t, c, net, ctr),
        disconnect: await disconnect(t, c, net, ctr),
        rm: await deleteNetwork(t, c, net),
      };
      if (i >= warmup) for (const op of API_OPS) samples[op].push(ms[op]);
    }
    return { create: stats(samples.create), connect: stats(samples.connect), disconnect: stats(samples.disconnect), rm: stats(samples.rm) };
  });
}

/**
 * Does an operation stay flat as objects accumulate?
 * - op 'create': create `total` networks (the i-th gets the i-th /24 of `subnetBase`) and keep
 *   them all; compare the first `sample` creations with the last `sample`.
 * - op 'connect': one network on the first /24 of `subnetBase` (so at most 250 endpoints) and
 *   `total` containers (made `concurrency` at a time, not measured), each connected in turn;
 *   compare the first `sample` connects with the last `sample`.
 * Everything is removed at the end: endpoints, containers, networks.
 */
export async function measureFlat(
  t: Target,
  opts: { op?: 'create' | 'connect'; total: number; sample: number; subnetBase: string; concurrency?: number },
): Promise<FlatResult> {
  const op = opts.op ?? 'create';
  if (opts.sample < 1 || opts.sample * 2 > opts.total) {
    throw new Error(`flat ${op}: sample ${opts.sample} must be at least 1 and at most half of total ${opts.total}`);
  }
  const lat = op === 'create' ? await flatCreate(t, opts) : await flatConnect(t, opts);
  const first = stats(lat.slice(0, opts.sample));
  const last = stats(lat.slice(lat.length - opts.sample));
  return { first, last, ratio: round3(last.p50 / first.p50) };
}

async function flatCreate(t: Target, opts: { total: number; subnetBase: string }): Promise<number[]> {
  return withCleanup(async (c) => {
    const lat: number[] = [];
    for (let i = 0; i < opts.total; i++) lat.push(await createNetwork(t, c, `${RUN_ID}-flat-${i}`, opts.subnetBase, i));
    return lat;
  });
}

async function flatConnect(t: Target, opts: { total: number; subnetBase: string; concurrency?: number }): Promise<number[]> {
  if (opts.total > 250) throw new Error(`flat connect: total ${opts.total} endpoints do not fit one /24 (at most 250)`);
  return withCleanup(async (c) => {
    const net = `${RUN_ID}-flatc`;
    await createNetwork(t, c, net, opts.subnetBase, 0);
    const ctrs = Array.from({ length: opts.total }, (_, i) => `${RUN_ID}-flatc-c${i}`);
    await eachLimited(ctrs, opts.concurrency ?? 4, (name) => makeContainer(t, c, name));
    const lat: number[] = [];
    for (const ctr of ctrs) lat.push(await connect(t, c, net, ctr));
    return lat;
  });
}

/**
 * Whole CLI processes, as a user runs them: `<cmdPrefix> network create --subnet S --gateway G N`,
 * `network connect N C`, `network disconnect N C`, `network rm N`. The container comes from the
 * target's API; cleanup also goes through the API, so a failing CLI leaves nothing behind.
 */
export async function measureCli(
  cmdPrefix: readonly string[],
  t: Target,
  opts: { rounds: number; subnetBase: string; warmup?: number; env?: Record<string, string> },
): Promise<Record<ApiOp, Stats>> {
  const [file, ...prefixArgs] = cmdPrefix;
  if (!file) throw new Error('measureCli: empty command prefix');
  const run = (args: string[]): Promise<number> =>
    timed(async () => {
      const r = await execa(file, [...prefixArgs, ...args], { timeout: CLI_TIMEOUT_MS, env: opts.env, reject: false });
      if (r.exitCode !== 0) {
        throw new Error(`${[file, ...prefixArgs, ...args].join(' ')}: exit ${r.exitCode ?? r.signal}: ${String(r.stderr).trim().slice(0, 300)}`);
      }
    });
  const warmup = opts.warmup ?? 1;
  const samples: Record<ApiOp, number[]> = { create: [], connect: [], disconnect: [], rm: [] };
  return withCleanup(async (c) => {
    const ctr = `${RUN_ID}-cli-c`;
    await makeContainer(t, c, ctr);
    for (let i = 0; i < warmup + opts.rounds; i++) {
      const net = `${RUN_ID}-cli-${i}`;
      const { subnet, gateway } = subnet24(opts.subnetBase, i);
      const undoNet = `network ${net}`;
      const undoEp = `endpoint ${ctr} on ${net}`;
      c.add(undoNet, () => call(t.socket, 'DELETE', `/networks/${net}`, undefined, [200, 204, 404]));
      const create = await run(['network', 'create', '--subnet', subnet, '--gateway', gateway, net]);
      const connect = await run(['network', 'connect', net, ctr]);
      c.add(undoEp, () => call(t.socket, 'POST', `/networks/${net}/disconnect`, { Container: ctr, Force: true }, [200, 204, 404]));
      const disconnect = await run(['network', 'disconnect', net, ctr]);
      c.done(undoEp);
      const rm = await run(['network', 'rm', net]);
      c.done(undoNet);
      const ms: Record<ApiOp, number> = { create, connect, disconnect, rm };
      if (i >= warmup) for (const op of API_OPS) samples[op].push(ms[op]);
    }
    return { create: stats(samples.create), connect: stats(samples.connect), disconnect: stats(samples.disconnect), rm: stats(samples.rm) };
  });
}

/**
 * Deletes networks a crashed earlier run left behind: those labelled netloom.bench whose run's
 * process is gone. Returns their names. Objects of runs still alive are never touched.
 */
export async function sweepStaleNetworks(t: Target): Promise<string[]> {
  const res = await request(t.socket, 'GET', '/networks');
  if (res.status !== 200) return [];
  const nets = JSON.parse(res.body) as Array<{ Name: string; Labels?: Record<string, string> | null }>;
  const swept: string[] = [];
  for (const n of nets) {
    const run = n.Labels?.['netloom.bench'];
    const pid = run ? Number(/^nlbench-(\d+)$/.exec(run)?.[1]) : NaN;
    if (!Number.isInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
    const del = await request(t.socket, 'DELETE', `/networks/${n.Name}`);
    if (del.status === 204 || del.status === 200) swept.push(n.Name);
  }
  return swept;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
