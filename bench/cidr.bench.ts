// Why IPAM does its own CIDR math instead of calling ip-cidr on its hot path: parse and test
// containment for every address of a /16, both ways, and print the ratio.
//   node build/bench/cidr.bench.js
import IPCIDR from 'ip-cidr';
import { contains, formatIPv4, parseIPv4 } from '../common/cidr.js';

const N = 65_536;
const base = parseIPv4('10.20.0.0') ?? 0;
const addrs = Array.from({ length: N }, (_, i) => formatIPv4(base + i));

function time(label: string, fn: () => number): number {
  fn(); // warm up
  const t0 = process.hrtime.bigint();
  const hits = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ bench: 'cidr', impl: label, addresses: N, hits, ms: Math.round(ms * 100) / 100 }));
  return ms;
}

const ours = time('common/cidr', () => addrs.filter((a) => contains('10.20.0.0/16', a)).length);
const cidr = new IPCIDR('10.20.0.0/16');
const theirs = time('ip-cidr', () => addrs.filter((a) => cidr.contains(a)).length);
console.log(JSON.stringify({ bench: 'cidr', ratio: Math.round((theirs / ours) * 10) / 10 }));
