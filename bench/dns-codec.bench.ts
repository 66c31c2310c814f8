// May the DNS server use dns2's Packet on its hot path? Decode a typical A query (glibc's: RD, no
// EDNS) and encode its one-record answer N times with dns2 and with dns/wire.ts, and print the ratio.
// Run: node build/bench/dns-codec.bench.js [N] [rounds]   One JSON line per codec and phase, then ratios,
// then the whole pure path (respond: decode, decide, encode) for scale.
// Each line is the median of `rounds` rounds (the first includes JIT warm-up): a shared machine makes
// single timings swing. Pure CPU: no socket is opened.

import { performance } from 'node:perf_hooks';
import dns2 from 'dns2';
import { QTYPE, RCODE, type Answer } from '../dns/types.js';
import { Records } from '../dns/records.js';
import { respond } from '../dns/respond.js';
import { decodeQuery, encodeAnswer, encodeQuery } from '../dns/wire.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const QUERY = encodeQuery(0x4e4c, { name: 'web.front', type: QTYPE.A, qclass: 1 });
const ANSWER: Answer = { name: 'web.front', ttl: 600, data: { type: QTYPE.A, address: '10.1.0.3' } };
const { Packet } = dns2;

type Phase = 'decode' | 'encode' | 'decode+encode';

// Each returns a byte count so the work cannot be optimised away.
const ours: Record<Phase, () => number> = {
  decode: () => {
    const q = decodeQuery(QUERY);
    return q.ok ? q.question.name.length : 0;
  },
  encode: () => encodeAnswer({ id: 0x4e4c, rd: true, question: QUESTION, rcode: RCODE.NOERROR, answers: [ANSWER], aa: true }).length,
  'decode+encode': () => {
    const q = decodeQuery(QUERY);
    if (!q.ok) return 0;
    return encodeAnswer({ id: q.id, rd: q.rd, question: q.question, rcode: RCODE.NOERROR, answers: [ANSWER], aa: true, edns: q.edns }).length;
  },
};
const QUESTION = { name: 'web.front', type: QTYPE.A, qclass: 1 };

const PARSED = Packet.parse(QUERY);
/** What a dns2 server handler does for a local name: a response from the request, one A record. */
function dns2Answer(request: dns2.Packet): Buffer {
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  response.header.ra = 1;
  response.answers.push({ name: 'web.front', type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 600, address: '10.1.0.3' } as dns2.Packet.Resource);
  return response.toBuffer();
}
const theirs: Record<Phase, () => number> = {
  decode: () => Packet.parse(QUERY).questions.length,
  encode: () => dns2Answer(PARSED).length,
  'decode+encode': () => dns2Answer(Packet.parse(QUERY)).length,
};

function opsPerSec(fn: () => number): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let sink = 0;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) sink += fn();
    const ms = performance.now() - t0;
    if (sink === 0) throw new Error('the benchmark did no work');
    rates.push((N / ms) * 1000);
  }
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const phases: Phase[] = ['decode', 'encode', 'decode+encode'];
const results = phases.map((phase) => {
  const dns2Ops = opsPerSec(theirs[phase]);
  const wireOps = opsPerSec(ours[phase]);
  for (const [impl, ops] of [
    ['dns2', dns2Ops],
    ['dns/wire', wireOps],
  ] as const) {
    console.log(JSON.stringify({ bench: 'dns-codec', impl, phase, n: N, rounds: ROUNDS, opsPerSec: Math.round(ops) }));
  }
  return { phase, ratio: Math.round((wireOps / dns2Ops) * 10) / 10 };
});
for (const r of results) console.log(JSON.stringify({ bench: 'dns-codec', phase: r.phase, ratio: r.ratio, meaning: 'dns/wire ops/s over dns2 ops/s' }));

// The whole pure path a UDP query takes in the server, among 2,000 endpoints: the ceiling sockets add to.
const records = new Records();
for (let i = 0; i < 2000; i++) {
  records.add({
    endpointId: `e${i}`,
    sandbox: i === 3 ? 'web' : `s${i}`,
    networkId: 'n-front',
    network: 'front',
    internal: false,
    ipv4: `10.1.${i >> 8}.${i & 255}`,
    aliases: [],
  });
}
const client = { ip: '10.1.0.2', via: 'n-front' };
const respondOps = opsPerSec(() => {
  const r = respond(records, client, QUERY, { defaultUpstreams: [], ttl: 600 });
  return 'reply' in r ? r.reply.length : 0;
});
console.log(
  JSON.stringify({
    bench: 'dns-codec',
    impl: 'dns/respond',
    phase: 'decode+decide+encode',
    endpoints: records.size,
    n: N,
    rounds: ROUNDS,
    opsPerSec: Math.round(respondOps),
  }),
);
