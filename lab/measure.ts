// RTT and loss expectations, pure: which address to probe, how many probes decide, what ping
// printed, and the verdict with the measured value beside the declared one.
import { addressOf, contains } from '../common/cidr.js';
import type { LossSpec, RttSpec } from './model.js';

const inSubnet = (ip: string, cidr: string): boolean => {
  try {
    return contains(cidr, ip);
  } catch {
    return false;
  }
};

/** The target's address on a subnet the source shares (a network or a link), else its first. */
export function pickAddress(fromAddrs: readonly string[], toAddrs: readonly string[]): string | undefined {
  const shared = toAddrs.find((t) => fromAddrs.some((f) => inSubnet(addressOf(t), f)));
  const a = shared ?? toAddrs[0];
  return a && addressOf(a);
}

/** RTT: enough echoes for a stable median under jitter. */
export const RTT_PROBES = 25;

/** Loss: enough echoes that the allowed maximum is at least ten of them (100 to 1000). */
export function lossProbes(maxFrac: number): number {
  return Math.min(1000, Math.max(100, Math.ceil(10 / Math.max(maxFrac, 0.001))));
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  readonly timesMs: readonly number[];
}

/** iputils ping's output: the per-echo times and the summary line. */
export function parsePing(out: string): PingResult {
  const timesMs = [...out.matchAll(/ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const s = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  return { sent: s ? Number(s[1]) : 0, received: s ? Number(s[2]) : 0, timesMs };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Verdict {
  readonly ok: boolean;
  readonly measured: string;
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const pct = (x: number): string => `${(x * 100).toFixed(x * 100 < 10 ? 2 : 1).replace(/\.?0+$/, '')}%`;

export function rttVerdict(r: RttSpec, p: PingResult): Verdict {
  if (!p.timesMs.length) return { ok: false, measured: `no reply to ${p.sent} echo requests` };
  const p50 = median(p.timesMs);
  const lo = r.p50Ms * (1 - r.toleranceFrac);
  const hi = r.p50Ms * (1 + r.toleranceFrac);
  return {
    ok: p50 >= lo && p50 <= hi,
    measured: `p50 ${ms(p50)} (min ${ms(Math.min(...p.timesMs))}, max ${ms(Math.max(...p.timesMs))}, ${p.timesMs.length} of ${p.sent} echoes); declared ${r.p50} ±${r.tolerance}: ${ms(lo)} to ${ms(hi)}`,
  };
}

export function lossVerdict(l: LossSpec, p: PingResult): Verdict {
  if (!p.sent) return { ok: false, measured: 'no echo request sent' };
  const lost = (p.sent - p.received) / p.sent;
  return { ok: lost <= l.maxFrac, measured: `${pct(lost)} lost (${p.sent - p.received} of ${p.sent}); declared max ${l.max}` };
}
