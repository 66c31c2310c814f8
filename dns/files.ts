// The files a sandbox's resolver reads: resolv.conf and hosts. Pure; system/ writes them under
// /etc/netns/<sandbox>/, which `ip netns exec` (and so `netloom sandbox exec`) bind-mounts over
// /etc/resolv.conf and /etc/hosts.

export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
}

export function renderResolvConf(r: ResolvConf, comment: string): string {
  const lines = [`# ${comment}`];
  for (const ns of r.nameservers.slice(0, 3)) lines.push(`nameserver ${ns}`);
  if (r.search.length) lines.push(`search ${r.search.join(' ')}`);
  if (r.options.length) lines.push(`options ${r.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Nameservers of a resolv.conf text, with an optional :port kept as given. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

export const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

export interface HostsEntry {
  readonly ip: string;
  readonly names: readonly string[];
}

/** /etc/hosts as Docker writes it: localhost, then --add-host and --link entries, then the
 *  sandbox's own addresses with its names (FQDN first, then the bare host name). */
export function renderHosts(names: string | readonly string[], addresses: readonly string[], extra: readonly HostsEntry[] = []): string {
  const own = typeof names === 'string' ? [names] : names;
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const e of extra) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  for (const a of addresses) lines.push(`${a}\t${own.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
