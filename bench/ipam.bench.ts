// IPAM throughput: fill a /16 through the public plan/allocate pair (as the controller does), then
// release everything and fill it again, which exercises the cursor's wrap-around.
// Run: node build/bench/ipam.bench.js [rounds]   Prints one JSON line per phase.
// Each round uses a fresh Ipam; the line reports the median round, because a shared build machine
// makes single wall-clock timings swing by 2x. The first round includes JIT warm-up.

import { performance } from 'node:perf_hooks';
import { Ipam } from '../ipam/index.js';

const POOL = 'bench:4';
const ROUNDS = Number(process.argv[2] ?? 7);

/** Plans and commits addresses until the pool is exhausted; returns what it handed out. */
function fill(ipam: Ipam): string[] {
  const out: string[] = [];
  for (;;) {
    const owner = `ep${out.length}`;
    let ip: string;
    try {
      ip = ipam.planAddress(POOL, owner);
    } catch {
      return out; // NL_IPAM_EXHAUSTED: the pool is full
    }
    ipam.allocate(POOL, ip, owner);
    out.push(ip);
  }
}

interface Round {
  readonly addresses: number;
  readonly fillMs: number;
  readonly cycleMs: number;
}

function round(): Round {
  const ipam = new Ipam();
  ipam.addPool(ipam.planPool({ id: POOL, owner: 'bench', ownerName: 'bench', family: 4, subnet: '10.200.0.0/16' }));
  let t0 = performance.now();
  const first = fill(ipam);
  const fillMs = performance.now() - t0;

  t0 = performance.now();
  for (const ip of first) ipam.release(POOL, ip);
  const second = fill(ipam);
  const cycleMs = performance.now() - t0;

  if (second.length !== first.length || new Set(second).size !== second.length) {
    throw new Error(`refill handed out ${second.length} addresses (${new Set(second).size} distinct), expected ${first.length}`);
  }
  return { addresses: first.length, fillMs, cycleMs };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 100) / 100;
}

function main(): void {
  const rounds = Array.from({ length: ROUNDS }, round);
  const n = rounds[0]!.addresses;
  console.log(JSON.stringify({ bench: 'ipam-/16', addresses: n, ms: median(rounds.map((r) => r.fillMs)) }));
  console.log(JSON.stringify({ bench: 'ipam-/16-release-reallocate', addresses: 2 * n, ms: median(rounds.map((r) => r.cycleMs)) }));
}

main();
