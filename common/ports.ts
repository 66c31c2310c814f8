// Published ports: `--publish [hostIP:][hostPort[-end]:]containerPort[-end][/tcp|/udp]`, as
// `docker run -p` reads it. Pure: parsing, and the bindings' overlap rules.
import { invalid } from './errors.js';
import { formatIp, parseIp } from './cidr.js';

export type Proto = 'tcp' | 'udp';

/** What the user asked for; host ports absent = pick free ones (`-P`, or hostPort 0). */
export interface PortSpec {
  readonly proto: Proto;
  /** '' = every address of the host (0.0.0.0 and ::) */
  readonly hostIP: string;
  readonly hostPort?: number;
  readonly hostPortEnd?: number;
  readonly containerPort: number;
  readonly containerPortEnd: number;
}

/** What is persisted: `count` consecutive host ports mapped onto `count` consecutive container ports. */
export interface PortBinding {
  readonly proto: Proto;
  readonly hostIP: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly count: number;
}

const bad = (spec: string, why: string) => invalid('NL_BAD_PUBLISH', `invalid --publish "${spec}": ${why}`);

function port(spec: string, text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw bad(spec, `${what} "${text}" is not a number from 1 to 65535`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw bad(spec, `${what} ${n} is out of range 1-65535`);
  return n;
}

function range(spec: string, text: string, what: string): [number, number] {
  const [a, b, ...rest] = text.split('-');
  if (rest.length) throw bad(spec, `${what} "${text}" is not a port or a range such as 8000-8010`);
  const lo = port(spec, a, what);
  const hi = b === undefined ? lo : port(spec, b, what);
  if (hi < lo) throw bad(spec, `${what} range ${text} is reversed`);
  return [lo, hi];
}

export function parsePublish(spec: string): PortSpec {
  let rest = spec.trim();
  let proto: Proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw bad(spec, `unknown protocol "${rest.slice(slash + 1)}": expected tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  let hostIP = '';
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw bad(spec, 'an IPv6 host address is written [address]:hostPort:containerPort');
    hostIP = rest.slice(1, end);
    rest = rest.slice(end + 2);
    if (parseIp(hostIP)?.family !== 6) throw bad(spec, `"${hostIP}" is not an IPv6 address`);
  } else {
    const parts = rest.split(':');
    if (parts.length > 3) throw bad(spec, 'expected [hostIP:][hostPort:]containerPort (an IPv6 host address goes in brackets)');
    if (parts.length === 3) {
      hostIP = parts[0];
      rest = `${parts[1]}:${parts[2]}`;
      if (parseIp(hostIP)?.family !== 4) throw bad(spec, `host address "${hostIP}" is not an IPv4 address`);
    }
  }
  if (hostIP) {
    const ip = parseIp(hostIP);
    hostIP = ip ? formatIp(ip) : hostIP;
    if (hostIP === '0.0.0.0' || hostIP === '::') hostIP = hostIP === '::' ? '::' : '0.0.0.0';
  }
  const fields = rest.split(':');
  if (fields.length > 2 || !fields[fields.length - 1]) throw bad(spec, 'expected [hostIP:][hostPort:]containerPort');
  const [cLo, cHi] = range(spec, fields[fields.length - 1], 'container port');
  const hostText = fields.length === 2 ? fields[0] : '';
  if (!hostText || hostText === '0') {
    return { proto, hostIP, containerPort: cLo, containerPortEnd: cHi };
  }
  const [hLo, hHi] = range(spec, hostText, 'host port');
  // Docker's two forms: equal lengths map one to one; a host range for one container port
  // means "any free port of that range".
  if (hHi - hLo !== cHi - cLo && cHi !== cLo) {
    throw bad(spec, `host ports ${hostText} (${hHi - hLo + 1}) and container ports ${fields[1]} (${cHi - cLo + 1}) differ in length`);
  }
  return { proto, hostIP, hostPort: hLo, hostPortEnd: hHi, containerPort: cLo, containerPortEnd: cHi };
}

/** The family a host address publishes on (undefined: both). */
export const hostFamily = (hostIP: string): 4 | 6 | undefined => (hostIP === '' ? undefined : hostIP.includes(':') ? 6 : 4);

/** Whether two bindings would claim one host port: same protocol, overlapping ports, and host
 *  addresses that can receive the same packet (equal, or one of them a wildcard of that family). */
export function bindingsClash(a: PortBinding, b: PortBinding): boolean {
  if (a.proto !== b.proto) return false;
  if (a.hostPort + a.count <= b.hostPort || b.hostPort + b.count <= a.hostPort) return false;
  return addressesClash(a.hostIP, b.hostIP);
}

export function addressesClash(a: string, b: string): boolean {
  const fa = hostFamily(a);
  const fb = hostFamily(b);
  if (fa === undefined || fb === undefined) return true;
  if (fa !== fb) return false;
  const wild = (x: string) => x === '0.0.0.0' || x === '::';
  return a === b || wild(a) || wild(b);
}

/** `0.0.0.0:8080->80/tcp`, as `docker port` prints a binding (one line per port). */
export function describeBinding(b: PortBinding): string[] {
  const out: string[] = [];
  const host = b.hostIP === '' ? ['0.0.0.0', '[::]'] : [b.hostIP.includes(':') ? `[${b.hostIP}]` : b.hostIP];
  for (let i = 0; i < b.count; i++) for (const h of host) out.push(`${b.containerPort + i}/${b.proto} -> ${h}:${b.hostPort + i}`);
  return out;
}

/** `0.0.0.0:8080->80/tcp`, as `docker ps` shows a binding (a range stays one entry). */
export function bindingSummary(b: PortBinding): string {
  const range = (p: number): string => (b.count === 1 ? `${p}` : `${p}-${p + b.count - 1}`);
  const host = b.hostIP === '' ? '*' : b.hostIP.includes(':') ? `[${b.hostIP}]` : b.hostIP;
  return `${host}:${range(b.hostPort)}->${range(b.containerPort)}/${b.proto}`;
}
