// The controller's records in memory, kept equal to the store: every change is written to the
// store first (one transaction) and only then applied to these maps.
import { conflict, notFound } from '../common/errors.js';
import { put, type Compare, type Store, type TxnOp, type TxnOptions } from '../store/types.js';
import { RECORD_FORMAT, migrateEndpoint, type EndpointRecordV1 } from './migrate.js';
import { key, type EndpointRecord, type NetworkRecord, type SandboxRecord } from './records.js';

export class State {
  readonly networks = new Map<string, NetworkRecord>();
  private readonly epMap = new Map<string, EndpointRecord>();
  /** Read-only outside: setEndpoint/deleteEndpoint keep the indexes below with it. */
  readonly endpoints: ReadonlyMap<string, EndpointRecord> = this.epMap;
  /** by name, as they are stored */
  readonly sandboxes = new Map<string, SandboxRecord>();
  /** the same records by id, as endpoints refer to them */
  readonly sandboxesById = new Map<string, SandboxRecord>();
  /** Endpoint ids by network id and by sandbox id, so endpointsOf costs what it returns, not
   *  every endpoint of the host (a connect asks several times: flat cost from the 1st endpoint
   *  to the 1000th). Kept by setEndpoint/deleteEndpoint, the only writers of `endpoints`. */
  private readonly epsByNetwork = new Map<string, Set<string>>();
  private readonly epsBySandbox = new Map<string, Set<string>>();

  constructor(readonly store: Store) {}

  /** Reads the records; older records are migrated (migrate.ts) and written back in one transaction. */
  async load(): Promise<void> {
    for (const e of await this.store.list<NetworkRecord>('net/')) this.networks.set(e.value.id, e.value);
    for (const e of await this.store.list<SandboxRecord>('sb/')) this.setSandbox(e.value);
    const stored = await this.store.list<EndpointRecordV1 | EndpointRecord>('ep/');
    const format = (await this.store.get<number>(key.recordFormat))?.value ?? 1;
    if (format >= RECORD_FORMAT) {
      for (const e of stored) this.setEndpoint(e.value as EndpointRecord);
      return;
    }
    const eps = stored.map((e) => migrateEndpoint(e.value, this.sandboxes));
    await this.commit([...eps.map((ep) => put(key.ep(ep.id), ep)), put(key.recordFormat, RECORD_FORMAT)]);
  }

  /** The sandbox an endpoint is in; none for a Docker endpoint (the engine's container). */
  sandboxOf(ep: EndpointRecord): SandboxRecord | undefined {
    return this.sandboxesById.get(ep.sandbox);
  }

  /** What messages and DNS call an endpoint's sandbox: its name (a Docker endpoint's docker-<id>). */
  sandboxName(ep: EndpointRecord): string {
    return this.sandboxOf(ep)?.name ?? ep.sandbox;
  }

  private setEndpoint(ep: EndpointRecord): void {
    this.deleteEndpoint(ep.id);
    this.epMap.set(ep.id, ep);
    addTo(this.epsByNetwork, ep.network, ep.id);
    addTo(this.epsBySandbox, ep.sandbox, ep.id);
  }

  private deleteEndpoint(id: string): void {
    const old = this.endpoints.get(id);
    if (!old) return;
    this.epMap.delete(id);
    removeFrom(this.epsByNetwork, old.network, id);
    removeFrom(this.epsBySandbox, old.sandbox, id);
  }

  private setSandbox(sb: SandboxRecord): void {
    this.sandboxes.set(sb.name, sb);
    this.sandboxesById.set(sb.id, sb);
  }

  /** Writes ops atomically (if compares hold), then mirrors net/ ep/ sb/ keys in memory.
   *  `opts.sync: false` for a "creating" mark only (store/types.ts TxnOptions). */
  async commit(ops: readonly TxnOp[], compares: readonly Compare[] = [], opts?: TxnOptions): Promise<void> {
    const ok = await this.store.txn(compares, ops, opts);
    if (!ok) throw conflict('NL_STORE_CONFLICT', `a concurrent change won the race for ${compares.map((c) => c.key).join(', ')}`);
    for (const o of ops) {
      const [kind, ...rest] = o.key.split('/');
      const id = rest.join('/');
      if (kind === 'sb') {
        const old = this.sandboxes.get(id);
        if (old) this.sandboxesById.delete(old.id);
        if (o.op === 'del') this.sandboxes.delete(id);
        else this.setSandbox(structuredClone(o.value) as SandboxRecord);
        continue;
      }
      if (kind === 'ep') {
        if (o.op === 'del') this.deleteEndpoint(id);
        else this.setEndpoint(structuredClone(o.value) as EndpointRecord);
      } else if (kind === 'net') {
        if (o.op === 'del') this.networks.delete(id);
        else this.networks.set(id, structuredClone(o.value) as NetworkRecord);
      }
    }
  }

  /** Docker accepts a full ID, a name or a unique ID prefix; so do we. */
  findNetwork(ref: string): NetworkRecord | undefined {
    const byId = this.networks.get(ref);
    if (byId) return byId;
    for (const n of this.networks.values()) if (n.name === ref) return n;
    const prefixed = [...this.networks.values()].filter((n) => n.id.startsWith(ref));
    return prefixed.length === 1 && ref.length > 0 ? prefixed[0] : undefined;
  }

  network(ref: string): NetworkRecord {
    const n = this.findNetwork(ref);
    if (!n || n.state === 'deleting') throw notFound('NL_NETWORK_NOT_FOUND', `network ${ref} not found`);
    return n;
  }

  findSandbox(ref: string): SandboxRecord | undefined {
    const byName = this.sandboxes.get(ref);
    if (byName) return byName;
    const prefixed = [...this.sandboxes.values()].filter((s) => s.id.startsWith(ref));
    return prefixed.length === 1 && ref.length > 0 ? prefixed[0] : undefined;
  }

  sandbox(ref: string): SandboxRecord {
    const s = this.findSandbox(ref);
    if (!s || s.state === 'deleting') throw notFound('NL_SANDBOX_NOT_FOUND', `no such sandbox: ${ref}`);
    return s;
  }

  /** Endpoints of a network id and/or a sandbox id, in interface order. */
  endpointsOf(filter: { network?: string; sandbox?: string }): EndpointRecord[] {
    const byNet = filter.network === undefined ? undefined : (this.epsByNetwork.get(filter.network) ?? NONE);
    const bySb = filter.sandbox === undefined ? undefined : (this.epsBySandbox.get(filter.sandbox) ?? NONE);
    const ids = byNet && bySb ? (byNet.size <= bySb.size ? byNet : bySb) : (byNet ?? bySb);
    const eps = ids ? [...ids].map((id) => this.endpoints.get(id)!) : [...this.endpoints.values()];
    return eps
      .filter((e) => (filter.network === undefined || e.network === filter.network) && (filter.sandbox === undefined || e.sandbox === filter.sandbox))
      .sort((a, b) => IFNAME_ORDER.compare(a.ifname, b.ifname));
  }
}

const NONE: ReadonlySet<string> = new Set();
/** Interface order (eth2 before eth10): the collator `localeCompare(b, 'en', {numeric: true})`
 *  would build on every comparison, made once. */
const IFNAME_ORDER = new Intl.Collator('en', { numeric: true });

function addTo(index: Map<string, Set<string>>, k: string, id: string): void {
  const set = index.get(k);
  if (set) set.add(id);
  else index.set(k, new Set([id]));
}

function removeFrom(index: Map<string, Set<string>>, k: string, id: string): void {
  const set = index.get(k);
  if (!set) return;
  set.delete(id);
  if (!set.size) index.delete(k);
}
