// The name service the controller drives: records + server + the sandboxes' resolver files.
// The controller calls these right after its own state changes and before its API answers, so
// a name resolves when `connect` returns and stops resolving when `disconnect` returns.
import type { Logger } from '../common/log.js';
import { plainAddress } from '../common/upstream.js';
import { decide } from './answer.js';
import { invalid } from '../common/errors.js';
import { isLoopback, renderHosts, renderResolvConf, type HostsEntry } from './files.js';
import { Records } from './records.js';
import { DnsServer } from './server.js';
import { QCLASS_IN, QTYPE, type Decision, type DnsEndpoint } from './types.js';
import { encodeQuery } from './wire.js';

export interface DnsNetwork {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
  readonly gateways: readonly string[]; // v4 first
}

export interface SandboxDnsConfig {
  readonly name: string;
  readonly search: readonly string[];
  readonly options: readonly string[];
  /** Its endpoints on DNS-enabled networks, in connection order, and all its addresses. */
  readonly dnsNetworks: readonly DnsNetwork[];
  readonly addresses: readonly string[];
  /** Its --dns servers: listed in resolv.conf when no embedded DNS serves it (the default bridge). */
  readonly servers?: readonly string[];
  /** Names of its own addresses in hosts (default: the sandbox name). */
  readonly hostNames?: readonly string[];
  /** --hostname: also written to its /etc/hostname, as Docker does. */
  readonly hostname?: string;
  /** --add-host and --link entries. */
  readonly extraHosts?: readonly HostsEntry[];
}

export interface FileWriter {
  write(sandbox: string, file: 'resolv.conf' | 'hosts' | 'hostname', content: string): void;
  remove(sandbox: string): void;
}

export interface NameServiceOptions {
  readonly log: Logger;
  readonly port: number;
  readonly files: FileWriter;
  /** The daemon's upstreams (--dns-upstream, else the host's resolv.conf). */
  readonly upstreams: () => readonly string[];
  /** netloomd --dns-search: for sandboxes without their own. */
  readonly defaultSearch?: readonly string[];
  /** netloomd --dns-opt: for sandboxes without their own. */
  readonly defaultOptions?: readonly string[];
}

export interface Explanation {
  readonly decision: Decision;
  readonly via?: string;
  readonly upstream?: string;
  readonly tried?: readonly string[];
  readonly rcode?: number;
}

export class NameService {
  readonly records = new Records();
  readonly server: DnsServer;
  private readonly networks = new Map<string, DnsNetwork>();

  constructor(private readonly opts: NameServiceOptions) {
    this.server = new DnsServer({ records: this.records, log: opts.log, port: opts.port, defaultUpstreams: opts.upstreams });
  }

  async addNetwork(n: DnsNetwork): Promise<void> {
    this.networks.set(n.id, n);
    await this.server.addNetwork(n.id, n.gateways);
  }

  removeNetwork(id: string): void {
    this.server.removeNetwork(id);
    this.networks.delete(id);
  }

  hasNetwork(id: string): boolean {
    return this.networks.has(id);
  }

  addEndpoint(ep: DnsEndpoint): void {
    this.records.add(ep);
  }

  removeEndpoint(endpointId: string): void {
    this.records.remove(endpointId);
  }

  /** resolv.conf: the gateways of its DNS networks (those that can route out first), else the
   *  host's non-loopback upstreams, as Docker does for its default bridge. */
  writeFiles(sb: SandboxDnsConfig): void {
    const ordered = [...sb.dnsNetworks].sort((a, b) => Number(a.internal) - Number(b.internal));
    const embedded = ordered.flatMap((n) => n.gateways.slice(0, 1));
    const given = sb.servers?.length ? sb.servers : this.opts.upstreams();
    const nameservers = embedded.length ? embedded : given.filter((u) => plainAddress(u) && !isLoopback(u));
    const options = sb.options.length ? sb.options : this.opts.defaultOptions?.length ? this.opts.defaultOptions : embedded.length ? ['ndots:0'] : [];
    const why = embedded.length ? 'netloom embedded DNS (gateway of each user-defined network)' : "netloom: the host's upstream servers";
    const search = sb.search.length ? sb.search : (this.opts.defaultSearch ?? []);
    this.opts.files.write(sb.name, 'resolv.conf', renderResolvConf({ nameservers, search, options }, why));
    this.opts.files.write(sb.name, 'hosts', renderHosts(sb.hostNames ?? sb.name, sb.addresses, sb.extraHosts));
    if (sb.hostname) this.opts.files.write(sb.name, 'hostname', `${sb.hostname}\n`);
  }

  removeFiles(sandbox: string): void {
    this.opts.files.remove(sandbox);
  }

  /** `netloom dns explain`: the decision for a name as the sandbox would ask it, and for a
   *  forwarded name, which upstream answered. */
  async explain(clientIp: string, via: string, name: string, type: keyof typeof QTYPE): Promise<Explanation> {
    const q = { name: name.replace(/\.$/, ''), type: QTYPE[type], qclass: QCLASS_IN };
    if (q.name.length > 253 || q.name.split('.').some((l) => l.length === 0 || l.length > 63)) {
      throw invalid('NL_BAD_DNS', `invalid name "${name}": expected labels of 1 to 63 characters, 253 in all`);
    }
    const decision = decide(this.records, { ip: clientIp, via }, q, { defaultUpstreams: this.opts.upstreams(), ttl: 0 });
    if (decision.kind !== 'forward') return { decision, via };
    const res = await this.server.forwarder.forward(encodeQuery(0x4e4c, q), decision.upstreams);
    return { decision, via, upstream: res.upstream, tried: res.tried, rcode: res.reply ? res.reply[3] & 0x0f : undefined };
  }

  close(): void {
    this.server.close();
  }
}
