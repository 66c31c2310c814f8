// The embedded DNS's data: what the controller tells it, and what a query turns into.
// records.ts and answer.ts are pure (unit-tested); server.ts and forward.ts are the thin shell.

/** One endpoint on a DNS-enabled (user-defined) network, as the controller sees it. */
export interface DnsEndpoint {
  readonly endpointId: string;
  readonly sandbox: string; // sandbox name
  readonly networkId: string;
  readonly network: string; // network name: "web.front" answers too
  readonly internal: boolean; // the network is --internal: queries arriving there never go upstream
  readonly ipv4?: string; // plain address, no prefix
  readonly ipv6?: string;
  readonly aliases: readonly string[]; // --alias names, scoped to this network
  /** Upstream servers for this endpoint (--dns at connect), overriding the network's. */
  readonly dns?: readonly string[];
  /** Upstream servers for the network (--dns at network create). */
  readonly networkDns?: readonly string[];
}

export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const QCLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface Question {
  readonly name: string; // as asked, without the trailing dot
  readonly type: number;
  readonly qclass: number;
}

export type Rdata =
  | { readonly type: 1; readonly address: string } // A
  | { readonly type: 28; readonly address: string } // AAAA
  | { readonly type: 12; readonly target: string }; // PTR

export interface Answer {
  readonly name: string;
  readonly ttl: number;
  readonly data: Rdata;
}

/** What to do with a query: answer it here, or send it to these upstream servers. */
export type Decision =
  | { readonly kind: 'answer'; readonly rcode: number; readonly answers: readonly Answer[]; readonly why: string }
  | { readonly kind: 'forward'; readonly upstreams: readonly string[]; readonly why: string }
  | { readonly kind: 'refuse'; readonly why: string };
