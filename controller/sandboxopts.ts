// What `docker run` flags give a sandbox beyond its networks: --hostname, --domainname,
// --add-host, --link, --mac-address, --expose. Pure parsing and checking, each bad value named
// with what would be valid (unit-tested in test/unit/sandboxopts.test.ts).
import { invalid } from '../common/errors.js';
import { formatIp, parseIp } from '../common/cidr.js';
import type { Proto } from '../common/ports.js';

export interface SandboxLink {
  /** The linked sandbox. */
  readonly name: string;
  /** The name the linking sandbox knows it by (defaults to name). */
  readonly alias: string;
}

export interface ExtraHost {
  readonly name: string;
  /** An address, or 'host-gateway' until the controller resolves it. */
  readonly ip: string;
}

/** An exposed port or range (--expose 80, --expose 7000-7010/udp). */
export interface ExposedPort {
  readonly proto: Proto;
  readonly port: number;
  readonly end: number;
}

export const HOST_GATEWAY = 'host-gateway';

// Docker CLI's check (cli/command/container/opts.go): RFC 1123 labels, 64 characters at most
// (HOST_NAME_MAX, the kernel's limit too).
const HOSTNAME = /^(([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;

export function checkHostname(flag: '--hostname' | '--domainname', v: string): void {
  if (v.length > 64 || !HOSTNAME.test(v)) {
    throw invalid('NL_BAD_HOSTNAME', `invalid ${flag} "${v}": expected at most 64 characters of letters, digits and "-" in dot-separated labels`);
  }
}

/** Names for the sandbox's own addresses in /etc/hosts, as Docker writes them: the FQDN, then the
 *  bare host name (libnetwork sandbox_dns_unix.go updateHostsFile). */
export function ownHostNames(hostname: string, domainname?: string): string[] {
  const fqdn = domainname ? `${hostname}.${domainname}` : hostname;
  const short = fqdn.split('.')[0];
  return short === fqdn ? [fqdn] : [fqdn, short];
}

/** --add-host NAME:IP (Docker splits at the first ":", so IPv6 addresses need no brackets). */
export function parseExtraHost(spec: string): ExtraHost {
  const i = spec.indexOf(':');
  const name = i > 0 ? spec.slice(0, i) : '';
  const ip = i > 0 ? spec.slice(i + 1) : '';
  if (!name || !ip) throw invalid('NL_BAD_ADD_HOST', `invalid --add-host "${spec}": expected NAME:IP (an address or host-gateway)`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/.test(name)) {
    throw invalid('NL_BAD_ADD_HOST', `invalid --add-host "${spec}": "${name}" is not a host name`);
  }
  if (ip === HOST_GATEWAY) return { name, ip };
  const addr = parseIp(ip.replace(/^\[(.*)\]$/, '$1'));
  if (!addr) throw invalid('NL_BAD_ADD_HOST', `invalid --add-host "${spec}": "${ip}" is not an IP address or host-gateway`);
  return { name, ip: formatIp(addr) };
}

/** --link NAME[:ALIAS]. */
export function parseLink(spec: string): SandboxLink {
  const [name, alias, ...rest] = spec.split(':');
  const ok = (s: string | undefined): s is string => !!s && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s);
  if (rest.length || !ok(name) || (alias !== undefined && !ok(alias))) {
    throw invalid('NL_BAD_LINK', `invalid --link "${spec}": expected NAME or NAME:ALIAS`);
  }
  return { name, alias: alias ?? name };
}

/** --mac-address: six colon-separated octets, unicast (the kernel refuses a multicast one). */
export function parseMac(v: string): string {
  const mac = v.toLowerCase().replace(/-/g, ':');
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) {
    throw invalid('NL_BAD_MAC', `invalid --mac-address "${v}": expected six hex octets such as 02:42:ac:11:00:02`);
  }
  if (parseInt(mac.slice(0, 2), 16) & 1)
    throw invalid('NL_BAD_MAC', `invalid --mac-address "${v}": a multicast address (first octet odd) cannot be an interface's`);
  return mac;
}

/** --expose PORT[-END][/PROTO]. */
export function parseExpose(spec: string): ExposedPort {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp))?$/i.exec(spec.trim());
  const port = Number(m?.[1]);
  const end = m?.[2] === undefined ? port : Number(m[2]);
  if (!m || port < 1 || end > 65535 || end < port) {
    throw invalid('NL_BAD_EXPOSE', `invalid --expose "${spec}": expected PORT[-END][/tcp|/udp] with ports from 1 to 65535`);
  }
  return { proto: (m[3]?.toLowerCase() ?? 'tcp') as Proto, port, end };
}

export const showExposed = (e: ExposedPort): string => `${e.port === e.end ? e.port : `${e.port}-${e.end}`}/${e.proto}`;

/** -P: a --publish spec (any free host port) for each exposed port that no explicit --publish
 *  already maps (Docker publishes each exposed port once). */
export function publishAllSpecs(
  exposed: readonly ExposedPort[],
  explicit: readonly { proto: Proto; containerPort: number; containerPortEnd: number }[],
): string[] {
  const out: string[] = [];
  for (const e of exposed) {
    for (let p = e.port; p <= e.end; p++) {
      const taken = explicit.some((x) => x.proto === e.proto && x.containerPort <= p && p <= x.containerPortEnd);
      if (!taken) out.push(`${p}/${e.proto}`);
    }
  }
  return out;
}
