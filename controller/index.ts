// The network controller: the one object the daemon's APIs (CLI API, Docker plugin) talk to.
// Operations run one at a time (a promise queue): the kernel and the store see a single
// writer, so check-then-act inside one operation is safe.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.js';
import type { NameService } from '../dns/service.js';
import { restoreNames } from './names.js';
import type { DriverEnv } from '../drivers/driver.js';
import { defaultDrivers, type DriverRegistry } from '../drivers/registry.js';
import { Ipam } from '../ipam/index.js';
import { del, put, type Store } from '../store/types.js';
import { SALVAGED_KEY, type SalvageRecord } from '../store/file.js';
import type { System } from '../system/types.js';
import { driverOf, endpointOwner, poolsOf, type Ctx } from './context.js';
import { connect, disconnect, type ConnectRequest } from './endpoints.js';
import { networkView, sandboxView, type NetworkView, type SandboxView } from './inspect.js';
import { createNetwork, ensurePredefined, optionWarning, pruneNetworks, removeNetwork } from './networks.js';
import type { CreateNetworkRequest, DefaultBridgeSettings } from './requests.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { key, type NetworkRecord } from './records.js';
import { createSandbox, removeSandbox, type CreateSandboxRequest } from './sandboxes.js';
import { State } from './state.js';
import { invalid } from '../common/errors.js';
import * as rs from './reserved.js';
import * as ex from './external.js';
import { firewallDiff, needsHeal, restoreFirewall, type GuardStats, type RuleDiff } from './firewall.js';
import { diagnose } from './doctor.js';
import { clusterView, closeClusters, startClusters, syncClusters } from './clustersync.js';
import type { OverlayHost } from '../drivers/registry.js';
import type { Finding } from '../drivers/driver.js';
import { QTYPE } from '../dns/types.js';
import { checkBridgeExists } from './defaultbridge.js';
import type { DefaultPool } from '../ipam/types.js';
import { Reaper, type ReaperOptions } from './reaper.js';

export type { Attached, ExternalEndpointRequest, ExternalNetworkRequest, ExternalPool } from './external.js';
export type { PoolReservation } from './reserved.js';

export interface ExplainView {
  sandbox: string;
  name: string;
  type: string;
  via?: string;
  answeredBy: string;
  rcode?: number;
  answers?: string[];
  upstreamsTried?: readonly string[];
  why: string;
}

export interface ControllerOptions {
  readonly store: Store;
  readonly sys: System;
  readonly log: Logger;
  readonly drivers?: DriverRegistry;
  readonly names?: NameService;
  /** How often the firewall guard compares netloom's rules with the kernel's; 0 = never. */
  readonly firewallCheckMs?: number;
  /** What the overlay driver needs of this host (VTEP, VXLAN port, underlay MTU, cluster). */
  readonly overlayHost?: OverlayHost;
  /** The default bridge as netloomd's flags describe it (--bip, -b, --icc, ...). */
  readonly defaultBridge?: DefaultBridgeSettings;
  /** netloomd --iptables (default true) and --ip-forward (default true). */
  readonly iptables?: boolean;
  readonly ipForward?: boolean;
  /** --default-address-pool: where networks without --subnet get theirs (default: Docker's). */
  readonly defaultPools?: readonly DefaultPool[];
  /** Disconnect and network rm retire their links and a reaper deletes them when the daemon is
   *  idle (controller/reaper.ts); unset: they are deleted inside the call. */
  readonly reaper?: ReaperOptions;
}

export interface DoctorReport {
  findings: Finding[];
  firewallGuard: GuardStats;
  /** Set after `netloomd --salvage` until `netloom doctor --fix`: what was damaged, and that
   *  unexplained objects are being kept. */
  salvage?: SalvageRecord;
  /** false with netloomd --iptables=false: no rules written, none checked. */
  iptables: boolean;
}

export class Controller {
  private queue: Promise<unknown> = Promise.resolve();
  private ctx!: Ctx;
  private instance = '';
  private tagPrefix = '';
  private guardTimer?: NodeJS.Timeout;
  readonly guard: GuardStats = { checks: 0, heals: 0 };
  readonly state: State;
  private readonly reaper?: Reaper;

  constructor(private readonly opts: ControllerOptions) {
    this.state = new State(opts.store);
    if (opts.reaper)
      this.reaper = new Reaper(opts.reaper, { enqueue: (fn) => this.serial(fn, true), del: (name) => this.ctx.env.sys.host.delLink(name), log: opts.log });
  }

  /** Serialises every operation: one runs at a time, in arrival order. The reaper sees each
   *  enter and leave the queue (`reap`: a slot of its own). */
  private serial<T>(fn: () => Promise<T>, reap = false): Promise<T> {
    const reaper = this.reaper;
    if (!reaper) {
      const next = this.queue.then(fn, fn);
      this.queue = next.catch(() => undefined);
      return next;
    }
    reaper.begin(reap);
    const run = async (): Promise<T> => {
      try {
        return await fn();
      } finally {
        reaper.end(reap);
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Waits for every link the reaper still holds to be deleted (tests, shutdown); returns their
   *  names. */
  settle(): Promise<string[]> {
    return this.serial(async () => (this.reaper ? this.reaper.settle() : []), true);
  }

  /** Loads the store, reconciles the kernel with it and makes the predefined networks. */
  async start(): Promise<ReconcileReport> {
    const report = await this.startLocal();
    // After the local start (and outside its queue slot: the cluster applies through the queue).
    await startClusters(this.ctx, (fn) => this.serial(fn));
    return report;
  }

  private async startLocal(): Promise<ReconcileReport> {
    return this.serial(async () => {
      const { store, sys, log } = this.opts;
      await this.state.load();
      this.instance = (await store.get<string>(key.instance))?.value ?? '';
      if (!this.instance) {
        this.instance = randomBytes(4).toString('hex');
        await this.state.commit([put(key.instance, this.instance)]);
      }
      const tagPrefix = `netloom:${this.instance}:`;
      this.tagPrefix = tagPrefix;
      const reaper = this.reaper;
      const env: DriverEnv = {
        sys,
        log,
        tag: (kind, id) => `${tagPrefix}${kind}:${id.slice(0, 12)}`,
        ...(reaper && { reap: (name: string) => reaper.add(name) }),
      };
      const pools = this.opts.defaultPools ?? [];
      const fam = (f: 4 | 6) => pools.filter((p) => (p.base.includes(':') ? 6 : 4) === f);
      const ipam = new Ipam({ ...(fam(4).length ? { defaults4: fam(4) } : {}), ...(fam(6).length ? { defaults6: fam(6) } : {}) });
      await ipam.restore(store);
      const overlayHost = this.opts.overlayHost;
      const iptables = this.opts.iptables ?? true;
      const bridgeHost = { iptables, ipForward: this.opts.ipForward ?? true };
      this.ctx = {
        state: this.state,
        ipam,
        drivers: this.opts.drivers ?? defaultDrivers(overlayHost && (() => overlayHost), bridgeHost),
        env,
        log,
        names: this.opts.names,
        defaultBridge: this.opts.defaultBridge,
        iptables,
        keepUnexplained: (await store.get(SALVAGED_KEY)) !== undefined,
        reaping: this.reaper?.pending,
      };
      if (this.ctx.keepUnexplained)
        log.warn('the store was salvaged: kernel objects no record explains are kept; `netloom doctor` lists them, `netloom doctor --fix` removes them');
      await checkBridgeExists(this.ctx);
      for (const d of this.ctx.drivers.values()) await d.init?.(env);
      const report = await reconcile(this.ctx, tagPrefix);
      await this.reaper?.settle(); // what reconcile retired goes before start returns
      await ensurePredefined(this.ctx);
      await restoreNames(this.ctx);
      log.info({ instance: this.instance, ...report }, 'controller started');
      const every = this.opts.firewallCheckMs ?? 0;
      if (every > 0) this.guardTimer = setInterval(() => void this.checkFirewall().catch(() => undefined), every).unref();
      return report;
    });
  }

  /** One run of the firewall guard: compare, and restore netloom's rules whole if they drifted. */
  checkFirewall(): Promise<RuleDiff[]> {
    return this.serial(async () => {
      this.guard.checks++;
      try {
        const drift = needsHeal(this.ctx, await firewallDiff(this.ctx));
        if (!drift.length) return drift;
        this.opts.log.warn(
          { drift: drift.map((d) => ({ family: d.family, table: d.table, missing: d.missing.length, extra: d.extra.length, misordered: d.misordered })) },
          "firewall drift (a flush or a reload?): restoring netloom's rules",
        );
        await restoreFirewall(this.ctx);
        this.guard.heals++;
        this.guard.lastHeal = new Date().toISOString();
        return drift;
      } catch (err) {
        this.guard.lastError = String(err);
        this.opts.log.error({ err: String(err) }, 'firewall guard failed');
        throw err;
      }
    });
  }

  /** `netloom doctor`: differences between the records and the kernel. */
  doctor(): Promise<DoctorReport> {
    return this.serial(async () => ({
      findings: await diagnose(this.ctx, this.tagPrefix),
      firewallGuard: { ...this.guard },
      salvage: (await this.opts.store.get<SalvageRecord>(SALVAGED_KEY))?.value,
      iptables: this.ctx.iptables ?? true,
    }));
  }

  /** `netloom doctor --fix`: reconcile, then look again. */
  doctorFix(): Promise<{ before: Finding[]; after: Finding[]; report: ReconcileReport }> {
    return this.serial(async () => {
      const before = await diagnose(this.ctx, this.tagPrefix);
      // The user has seen what no record explains and chose to remove it: the salvage is over.
      if (this.ctx.keepUnexplained) {
        await this.state.commit([del(SALVAGED_KEY)]);
        this.ctx.keepUnexplained = false;
      }
      const report = before.length ? await reconcile(this.ctx, this.tagPrefix) : { rolledBack: [], finished: [], repaired: [], orphansRemoved: [], errors: [] };
      if (before.length) await restoreNames(this.ctx);
      // Peer entries come from the cluster, not from the records.
      if (before.length) await syncClusters(this.ctx);
      return { before, after: await diagnose(this.ctx, this.tagPrefix), report };
    });
  }

  get instanceId(): string {
    return this.instance;
  }

  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.serial(() => createNetwork(this.ctx, req));
  }

  /** Warnings about how netloomd was started (GET /info's Warnings, doctor): --iptables=false. */
  settingsWarnings(): string[] {
    return this.ctx.iptables === false
      ? ['WARNING: netloomd runs with --iptables=false: it writes no iptables rules (no isolation between networks, no NAT, no published ports)']
      : [];
  }

  /** The network drivers this controller has (GET /info lists them). */
  driverNames(): string[] {
    return [...this.ctx.drivers.keys()];
  }

  /** The Warning of `POST /networks/create` for a network just made. */
  createWarning(n: NetworkRecord): string {
    return optionWarning(this.ctx, n);
  }

  removeNetwork(ref: string): Promise<void> {
    return this.serial(() => removeNetwork(this.ctx, ref));
  }

  pruneNetworks(keep?: (n: NetworkRecord) => boolean): Promise<string[]> {
    return this.serial(() => pruneNetworks(this.ctx, keep));
  }

  connect(netRef: string, sbRef: string, req?: ConnectRequest): Promise<unknown> {
    return this.serial(() => connect(this.ctx, netRef, sbRef, req));
  }

  disconnect(netRef: string, sbRef: string, force?: boolean): Promise<void> {
    return this.serial(() => disconnect(this.ctx, netRef, sbRef, force));
  }

  createSandbox(req: CreateSandboxRequest): Promise<SandboxView> {
    return this.serial(async () => {
      const sb = await createSandbox(this.ctx, req);
      return this.sandboxView(sb.name);
    });
  }

  /** Operations for what a container engine manages (the Docker plugin, plugin/): reserved pools
   *  and addresses (reserved.ts), its networks and engine-attached endpoints (external.ts),
   *  serialised with every other operation. */
  readonly external = {
    reservePool: (req: rs.PoolReservation) => this.serial(() => rs.reservePool(this.ctx, req)),
    releasePool: (poolId: string) => this.serial(() => rs.releasePool(this.ctx, poolId)),
    reserveAddress: (poolId: string, address?: string) => this.serial(() => rs.reserveAddress(this.ctx, poolId, address)),
    setPoolGateway: (poolId: string, gateway?: string) => this.serial(() => rs.setPoolGateway(this.ctx, poolId, gateway)),
    releaseAddress: (poolId: string, address: string) => this.serial(() => rs.releaseAddress(this.ctx, poolId, address)),
    createNetwork: (req: ex.ExternalNetworkRequest) => this.serial(() => ex.createExternalNetwork(this.ctx, req)),
    deleteNetwork: (networkId: string) => this.serial(() => ex.deleteExternalNetwork(this.ctx, networkId)),
    createEndpoint: (req: ex.ExternalEndpointRequest) => this.serial(() => ex.createExternalEndpoint(this.ctx, req)),
    deleteEndpoint: (endpointId: string) => this.serial(() => ex.deleteExternalEndpoint(this.ctx, endpointId)),
    attach: (networkId: string, endpointId: string, sandboxKey: string) => this.serial(() => ex.attachExternal(this.ctx, networkId, endpointId, sandboxKey)),
    detach: (endpointId: string) => this.serial(() => ex.detachExternal(this.ctx, endpointId)),
    publish: (endpointId: string) => this.serial(() => ex.publishExternal(this.ctx, endpointId)),
    unpublish: (endpointId: string) => this.serial(() => ex.unpublishExternal(this.ctx, endpointId)),
    endpoint: (endpointId: string) => ex.externalEndpoint(this.ctx, endpointId),
  };

  /** `netloom dns explain`: asks as the sandbox's resolver would, through its first DNS network. */
  async explainName(sbRef: string, name: string, type: string): Promise<ExplainView> {
    const sb = this.state.sandbox(sbRef);
    const owner = endpointOwner(sb);
    const names = this.ctx.names;
    if (!names) throw invalid('NL_NO_DNS', 'this daemon runs without embedded DNS');
    const qtype = type.toUpperCase();
    if (!(qtype in QTYPE)) throw invalid('NL_BAD_DNS', `unknown query type "${type}": expected one of ${Object.keys(QTYPE).join(', ')}`);
    const eps = this.state.endpointsOf({ sandbox: this.state.sandboxes.get(owner)?.id ?? owner }).filter((e) => names.hasNetwork(e.network));
    eps.sort((a, b) => Number(this.state.networks.get(a.network)?.internal) - Number(this.state.networks.get(b.network)?.internal));
    const ep = eps[0];
    if (!ep) {
      return {
        sandbox: sb.name,
        name,
        type: qtype,
        answeredBy: 'host',
        why: `${sb.name} is on no user-defined network: its resolv.conf lists the host's upstream servers, netloom answers nothing for it`,
      };
    }
    const ip = (ep.ipv4 ?? ep.ipv6)?.ip ?? '';
    const e = await names.explain(ip, ep.network, name, qtype as keyof typeof QTYPE);
    const d = e.decision;
    return {
      sandbox: sb.name,
      name,
      type: qtype,
      via: this.state.networks.get(ep.network)?.name,
      answeredBy:
        d.kind === 'forward' ? (e.upstream ? `upstream ${e.upstream}` : 'nobody (every upstream failed)') : d.kind === 'refuse' ? 'nobody' : 'netloom',
      rcode: d.kind === 'answer' ? d.rcode : e.rcode,
      answers: d.kind === 'answer' ? d.answers.map((a) => ('address' in a.data ? a.data.address : a.data.target)) : undefined,
      upstreamsTried: e.tried,
      why: d.why,
    };
  }

  removeSandbox(ref: string): Promise<void> {
    return this.serial(() => removeSandbox(this.ctx, ref));
  }

  // Reads: no queue needed, they see a consistent in-memory state between awaits.

  inspectNetwork(ref: string): NetworkView {
    const n = this.state.network(ref);
    return this.view(n, true);
  }

  listNetworks(): NetworkView[] {
    return [...this.state.networks.values()].filter((n) => n.state === 'ready').map((n) => this.view(n, false));
  }

  private view(n: NetworkRecord, withContainers: boolean): NetworkView {
    const scope = driverOf(this.ctx, n).caps.scope;
    const v = networkView(n, poolsOf(this.ctx, n), this.state.endpointsOf({ network: n.id }), this.state.sandboxesById, scope, withContainers);
    // Docker's overlay shows Peers; netloom also lists the endpoints on other hosts.
    const cv = withContainers ? clusterView(this.ctx, n) : undefined;
    return cv ? Object.assign(v, cv) : v;
  }

  sandboxView(ref: string): SandboxView {
    const sb = this.state.sandbox(ref);
    return sandboxView(
      sb,
      this.state.endpointsOf({ sandbox: sb.id }),
      this.state.networks,
      (n, family) => poolsOf(this.ctx, n).find((p) => p.family === family)?.gateway,
    );
  }

  listSandboxes(): SandboxView[] {
    return [...this.state.sandboxes.values()].filter((s) => s.state === 'ready').map((s) => this.sandboxView(s.name));
  }

  /** Stops the timers and the clusters, then deletes what the reaper still holds (a shutdown
   *  leaves the host as a disconnect without a reaper would). */
  async close(): Promise<void> {
    if (this.guardTimer) clearInterval(this.guardTimer);
    this.reaper?.close();
    await closeClusters(this.ctx);
    await this.settle();
  }
}
