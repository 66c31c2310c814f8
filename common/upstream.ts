// The one parser of an upstream DNS server as users write it: 10.0.0.53, 10.0.0.53:5353,
// fd00::53, [fd00::53]:5353. A bare IPv6 address never has a port (its last group may be digits).
import { parseIp } from './cidr.js';

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export function parseUpstream(s: string): Upstream | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s);
  const m = bracketed ?? v4 ?? (s.includes(':') ? [s, s, undefined] : undefined);
  if (!m) return undefined;
  const port = m[2] === undefined ? 53 : Number(m[2]);
  if (!parseIp(m[1]) || port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/** Whether an upstream is usable in a resolv.conf line (which has no port syntax). */
export const plainAddress = (s: string): boolean => parseUpstream(s)?.port === 53 && !s.startsWith('[');
