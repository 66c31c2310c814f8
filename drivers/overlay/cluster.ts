// Multi-host state for overlay networks, in a ClusterStore (etcd: store/etcd.ts; in memory for
// unit tests: store/memorycluster.ts): this host as a live member of the cluster. The ov/ keys
// and what each transaction writes are spelled in records.ts (read back by peers.ts).
// Every reservation is a transaction comparing versions, never read-then-write. A host's lease
// expiring (kill -9, power loss) deletes its endpoints, allocations and host key everywhere.
// Each host mirrors ov/ from one read plus a watch from the revision of that read; when the
// watch breaks, it reads afresh and watches again, so no event is ever missed. A watch can also
// go silent without breaking (a proxy holding the stream, a half-open connection): each host
// watches its own heartbeat come back, and when etcd takes its writes but the watch has shown
// none of them for a TTL, it resyncs (so a stall is caught within 2x the TTL).
import { conflict, forbidden, isLeaseLost, unavailable } from '../../common/errors.js';
import { addressOf } from '../../common/cidr.js';
import type { Logger } from '../../common/log.js';
import type { PoolRecord } from '../../ipam/types.js';
import type { ClusterStore, WatchEvent } from '../../store/cluster.js';
import type { TxnOp } from '../../store/types.js';
import type { ClusterEvents, LocalEndpoint } from '../driver.js';
import { mirroredEndpoints, mirroredHosts, mirroredNetworks, type OvEndpoint, type OvHost, type OvNet } from './peers.js';
import { pickAddress, pickVni } from './pick.js';
import { BEAT_PREFIX, OV_PREFIX, checkDefinable, definitionTxn, endpointRecord, localAllocKey, ovKey, registrationOps, undefineOps } from './records.js';

export type { OvEndpoint, OvNet } from './peers.js';
export { nodeIdOf } from './records.js';

const MAX_TRIES = 20;

export class Cluster {
  /** ov/ keys as last read or watched. */
  readonly mirror = new Map<string, unknown>();
  private lease?: string;
  private stopWatch?: () => void;
  private timers: NodeJS.Timeout[] = [];
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private beats = 0;
  /** When the watch last delivered this host's heartbeat, and when etcd last took one. */
  private beatSeen = 0;
  private beatWritten = 0;
  /** Resyncs started because the watch went silent (for tests and logs). */
  stalls = 0;
  private hooks?: ClusterEvents;
  /** Local endpoints to keep registered (re-put under a new lease after an expiry). */
  private readonly mine = new Map<string, { ep: OvEndpoint; alloc: string }>();

  /** `host` is the node ID; `name` the display name. */
  constructor(
    readonly kv: ClusterStore,
    readonly vtep: string,
    private readonly log: Logger,
    readonly host: string,
    private readonly ttl = 10,
    readonly name = host,
  ) {}

  get where(): string {
    return this.kv.where;
  }

  private registration(): TxnOp[] {
    return registrationOps(this.host, this.vtep, this.name);
  }

  /** Registers this host, refusing when a live host already claims its node ID (a copied data
   *  dir) or its advertise address. A claim left by a dead host (this one's previous run
   *  included) goes with its lease: waited for up to the TTL and a little more. Called before
   *  the controller touches anything local. */
  async claim(): Promise<void> {
    if (this.lease) return;
    const deadline = Date.now() + (this.ttl + 2) * 1000;
    for (;;) {
      const byId = await this.kv.get<{ vtep?: string; name?: string }>(ovKey.host(this.host));
      const byVtep = await this.kv.get<string>(ovKey.vtep(this.vtep));
      const other =
        byId && byId.value.vtep !== this.vtep
          ? `node id ${this.host} is already claimed by live host "${byId.value.name ?? '?'}" (${byId.value.vtep ?? '?'}) in ${this.where}: is this data dir a copy of that host's? give each host its own --data-dir (the node id is kept there)`
          : byVtep && byVtep.value !== this.host
            ? `advertise address ${this.vtep} is already claimed by live host ${await this.describe(byVtep.value)} in ${this.where}: give each host its own --advertise-addr`
            : undefined;
      if (!other) {
        const lease = await this.kv.grantLease(this.ttl);
        const ok = await this.kv.txn(
          [
            { key: ovKey.host(this.host), version: byId?.version ?? 0 },
            { key: ovKey.vtep(this.vtep), version: byVtep?.version ?? 0 },
          ],
          this.registration(),
          lease,
        );
        if (ok) {
          this.lease = lease;
          // Kept alive from here: the local start (reconcile) between claim and start may be long.
          this.timers.push(setInterval(() => void this.keepAlive(), Math.max(1000, (this.ttl * 1000) / 3)).unref());
          return;
        }
        await this.kv.revoke(lease).catch(() => undefined);
      } else if (Date.now() > deadline) {
        throw conflict('NL_NODE_CONFLICT', other);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async describe(id: string): Promise<string> {
    const h = await this.kv.get<{ vtep?: string; name?: string }>(ovKey.host(id));
    return `"${h?.value.name ?? '?'}" (node id ${id})`;
  }

  async start(hooks: ClusterEvents): Promise<void> {
    this.hooks = hooks;
    await this.claim();
    await this.resync();
    this.timers.push(setInterval(() => this.checkWatch(), 500).unref());
  }

  private renewing = false;

  private async keepAlive(): Promise<void> {
    if (this.closed || !this.lease || this.renewing) return;
    this.renewing = true;
    try {
      if (await this.kv.keepAlive(this.lease)) {
        await this.kv.txn([], [{ op: 'put', key: ovKey.beat(this.host), value: ++this.beats }], this.lease);
        this.beatWritten = Date.now();
        return;
      }
      await this.renewLease();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'cluster keepalive failed (programmed traffic keeps flowing)');
    } finally {
      this.renewing = false;
    }
  }

  private renewal?: Promise<void>;

  /** The lease expired (etcd was away, or this host was too slow to renew it within the TTL):
   *  register again under a new one, endpoints included. One renewal at a time; callers that
   *  meet the expiry meanwhile wait for it. */
  private renewLease(): Promise<void> {
    this.renewal ??= (async () => {
      this.log.warn({ host: this.host }, 'cluster lease expired: registering this host again');
      this.lease = await this.kv.grantLease(this.ttl);
      await this.kv.txn([], this.registration(), this.lease);
      for (const { ep } of [...this.mine.values()]) {
        await this.register(ep).catch((err: unknown) => this.log.error({ endpoint: ep.name, err: String(err) }, 'cluster: endpoint not registered again'));
      }
    })().finally(() => (this.renewal = undefined));
    return this.renewal;
  }

  /** Runs a write under this host's lease; if etcd no longer knows the lease, registers again
   *  and runs it once more, so an operation never fails only because a keepalive came late. */
  private async leased<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (!isLeaseLost(err)) throw err;
      await this.renewLease();
      return write();
    }
  }

  /** A watch that delivered none of this host's heartbeats for a TTL while etcd took them. */
  private checkWatch(): void {
    if (this.closed || this.resyncing || this.beatWritten <= this.beatSeen) return;
    if (Date.now() - this.beatSeen <= this.ttl * 1000) return;
    this.stalls++;
    this.log.warn({ silentForMs: Date.now() - this.beatSeen }, 'cluster watch silent although etcd answers: resyncing from a fresh read');
    this.beatSeen = Date.now();
    this.onWatchEnd(new Error('watch stalled'));
  }

  private resyncing = false;

  /** A fresh read of ov/, applied, then a watch from that read's revision. */
  private async resync(): Promise<void> {
    this.resyncing = true;
    try {
      await this.resyncOnce();
    } finally {
      this.resyncing = false;
      this.beatSeen = Date.now();
    }
  }

  private async resyncOnce(): Promise<void> {
    const { entries, revision } = await this.kv.listAt(OV_PREFIX);
    this.mirror.clear();
    for (const e of entries) this.mirror.set(e.key, e.value);
    // Watch first: an apply that fails must not leave this host deaf to later changes.
    this.stopWatch?.();
    this.stopWatch = this.kv.watch(
      OV_PREFIX,
      revision + 1,
      (evs) => void this.onEvents(evs),
      (err) => this.onWatchEnd(err),
    );
    await this.hooks!.serial(() => this.hooks!.changed()).catch((err: unknown) =>
      this.log.error({ err: String(err) }, 'cluster: applying the fresh read failed'),
    );
  }

  private applyQueued = false;

  private async onEvents(evs: readonly WatchEvent[]): Promise<void> {
    const own = ovKey.beat(this.host);
    if (evs.some((e) => e.key === own)) this.beatSeen = Date.now();
    // Heartbeats change nothing to apply.
    const changes = evs.filter((e) => !e.key.startsWith(BEAT_PREFIX));
    if (!changes.length) return;
    for (const e of changes) {
      if (e.type === 'put') this.mirror.set(e.key, e.value);
      else this.mirror.delete(e.key);
    }
    // One apply in the queue at a time: it reads the mirror when it runs, so a burst of events
    // (a host with 1000 endpoints coming back) is applied once, not 1000 times.
    if (this.applyQueued) return;
    this.applyQueued = true;
    await this.hooks!.serial(() => {
      this.applyQueued = false;
      return this.hooks!.changed();
    }).catch((err: unknown) => this.log.error({ err: String(err) }, 'cluster: applying changes failed'));
  }

  private onWatchEnd(err?: Error): void {
    if (this.closed) return;
    this.log.warn({ err: err?.message }, 'cluster watch ended: resyncing from a fresh read');
    const retry = (): void => {
      if (this.closed) return;
      this.resync().catch((e: unknown) => {
        this.log.warn({ err: String(e) }, 'cluster store unreachable: retrying in 1 s');
        this.retryTimer = setTimeout(retry, 1000).unref();
      });
    };
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(retry, 200).unref();
  }

  networks(): OvNet[] {
    return mirroredNetworks(this.mirror);
  }

  /** Well-formed endpoint records only: a hand-written or corrupt key is skipped, not fatal. */
  endpoints(networkId?: string): OvEndpoint[] {
    return mirroredEndpoints(this.mirror, networkId);
  }

  hosts(): OvHost[] {
    return mirroredHosts(this.mirror);
  }

  /** A host's display name, from its node ID (the ID itself when the host is gone). */
  hostName(id: string): string {
    return this.hosts().find((h) => h.id === id)?.name ?? id;
  }

  /** Defines a network cluster-wide: name, VNI and subnet checked against every other overlay
   *  network in one transaction (compare on ov/seq), so two hosts can never both win. */
  async define(
    n: { readonly id: string; readonly name: string; readonly created: string },
    pool: PoolRecord,
    wantVni: number | undefined,
    mtu: string | undefined,
  ): Promise<OvNet> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const { entries } = await this.kv.listAt<unknown>(OV_PREFIX);
      const seq = entries.find((e) => e.key === ovKey.seq);
      const nets = entries.filter((e) => e.key.startsWith('ov/net/')).map((e) => e.value as OvNet);
      checkDefinable(nets, n.name, pool, this.where);
      const vni = pickVni(new Map(nets.map((x) => [x.vni, x.name])), wantVni);
      const def: OvNet = { id: n.id, name: n.name, subnet: pool.subnet, gateway: pool.gateway, vni, ...(mtu ? { mtu } : {}), created: n.created };
      const { compares, ops } = definitionTxn(def, seq);
      const ok = await this.kv.txn(compares, ops);
      if (ok) {
        this.mirror.set(ovKey.net(n.id), def);
        return def;
      }
    }
    throw unavailable('NL_STORE_CONFLICT', `defining overlay network ${n.name}: ${MAX_TRIES} concurrent changes won the race`);
  }

  /** Removes a definition; refused while any host has an endpoint on it (named). */
  async undefine(net: { id: string; name: string }, force = false): Promise<void> {
    const { entries } = await this.kv.listAt<OvEndpoint>(ovKey.eps(net.id));
    if (entries.length && !force) {
      const where = [...new Set(entries.map((e) => `${e.value.name}@${this.hostName(e.value.host)}`))].join(', ');
      throw forbidden('NL_NETWORK_IN_USE', `network ${net.name} has active endpoints (${where}): disconnect them first`);
    }
    const def = this.mirror.get(ovKey.net(net.id)) as OvNet | undefined;
    await this.kv.txn([], undefineOps(net, def));
    this.mirror.delete(ovKey.net(net.id));
  }

  /** An address of the network's subnet no host holds, taken in one transaction. */
  async allocate(networkId: string, subnet: string, gateway: string, epId: string, wanted?: string): Promise<string> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const taken = new Set((await this.kv.listAt(ovKey.allocs(networkId))).entries.map((e) => e.key.split('/').pop() ?? ''));
      const ip = pickAddress(subnet, gateway, taken, wanted);
      const key = ovKey.alloc(networkId, ip);
      if (await this.leased(() => this.kv.txn([{ key, version: 0 }], [{ op: 'put', key, value: { host: this.host, ep: epId } }], this.lease))) return ip;
      if (wanted !== undefined) throw conflict('NL_IPAM_ADDR_IN_USE', `address ${ip} was just taken by another host`);
    }
    throw unavailable('NL_STORE_CONFLICT', `allocating in ${subnet}: ${MAX_TRIES} concurrent allocations won the race`);
  }

  async release(networkId: string, ip: string): Promise<void> {
    await this.kv.txn([], [{ op: 'del', key: ovKey.alloc(networkId, ip) }]);
  }

  /** Announces a local endpoint to every host (under this host's lease). */
  async publish(ep: LocalEndpoint): Promise<void> {
    const rec = endpointRecord(ep, this.host, this.vtep);
    const alloc = localAllocKey(ep);
    this.mine.set(ep.id, { ep: rec, alloc });
    await this.register(rec);
    this.mirror.set(ovKey.ep(ep.network, ep.id), rec);
  }

  /** (Re)writes an endpoint and its address under the current lease, but never over an address
   *  another endpoint took while this host was away (its lease had expired): that is refused
   *  and logged, not overwritten, so two hosts never share an address. */
  private async register(rec: OvEndpoint): Promise<void> {
    const alloc = ovKey.alloc(rec.network, addressOf(rec.ip));
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = await this.kv.get<{ host?: string; ep?: string }>(alloc);
      if (cur && cur.value?.ep !== rec.id) {
        this.mine.delete(rec.id);
        throw conflict(
          'NL_IPAM_ADDR_IN_USE',
          `address ${rec.ip} of ${rec.name} was taken by ${cur.value?.host ? this.hostName(cur.value.host) : 'another host'} while this host was away: disconnect and reconnect ${rec.name}`,
        );
      }
      const ok = await this.leased(() =>
        this.kv.txn(
          [{ key: alloc, version: cur?.version ?? 0 }],
          [
            { op: 'put', key: alloc, value: { host: this.host, ep: rec.id } },
            { op: 'put', key: ovKey.ep(rec.network, rec.id), value: rec },
          ],
          this.lease,
        ),
      );
      if (ok) return;
    }
    throw unavailable('NL_STORE_CONFLICT', `registering ${rec.name}: ${MAX_TRIES} concurrent changes won the race`);
  }

  /** Drops a record of this host that no local endpoint explains. */
  async forget(e: OvEndpoint): Promise<void> {
    const alloc = ovKey.alloc(e.network, addressOf(e.ip));
    const cur = await this.kv.get<{ ep?: string }>(alloc);
    const ops = [{ op: 'del' as const, key: ovKey.ep(e.network, e.id) }, ...(cur?.value?.ep === e.id ? [{ op: 'del' as const, key: alloc }] : [])];
    await this.kv.txn(cur ? [{ key: alloc, version: cur.version }] : [], ops);
    this.mirror.delete(ovKey.ep(e.network, e.id));
  }

  async withdraw(ep: LocalEndpoint): Promise<void> {
    this.mine.delete(ep.id);
    await this.kv.txn(
      [],
      [
        { op: 'del', key: ovKey.ep(ep.network, ep.id) },
        { op: 'del', key: localAllocKey(ep) },
      ],
    );
    this.mirror.delete(ovKey.ep(ep.network, ep.id));
  }

  /** Local endpoints are announced (again after a restart or an expired lease), and records of
   *  this host that no local endpoint explains (a withdraw that failed) go. Each failure is
   *  logged and retried at the next change or resync. */
  async syncLocal(local: readonly LocalEndpoint[]): Promise<void> {
    for (const ep of local) {
      const m = this.mirror.get(ovKey.ep(ep.network, ep.id)) as { vtep?: string } | undefined;
      if (!m || m.vtep !== this.vtep) await this.attempt(`announce ${ep.sandbox}`, () => this.publish(ep));
    }
    const ids = new Set(local.map((e) => e.id));
    for (const e of this.endpoints()) {
      if (e.host === this.host && !ids.has(e.id)) await this.attempt(`forget stale ${e.name}`, () => this.forget(e));
    }
  }

  private async attempt(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ err: String(err) }, `cluster: ${what} failed (retried at the next change or resync)`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatch?.();
    for (const t of this.timers) clearTimeout(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // The lease is left to run out: a restart within the TTL re-registers this host's endpoints
    // under a new lease before any peer forgets them.
  }
}
