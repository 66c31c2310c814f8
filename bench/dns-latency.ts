// Latency at a fixed number of concurrent clients, for bench/dns.bench.sh: N clients, each its own
// UDP socket with exactly one query in flight (the next is sent when the answer arrives), for a
// bounded count and time; every answer's latency is recorded and summarised as nearest-rank
// percentiles. dnsperf 2.10 prints no percentiles, and its -q window stalls at small sizes on this
// VM (-c 10 -q 10 swings between 600 and 60,000 queries/s run to run), so it cannot hold ten
// clients steady; this client is used unchanged for every server, so their figures compare.
//
//   node build/bench/dns-latency.js --server 10.150.0.1 --name nlbench-web [--port 53] [--clients 10]
//     [--count 200000] [--seconds 5] [--warmup-ms 500] [--timeout-ms 1000]
//
// Prints one JSON object. Only --name is ever asked (type A): run it where that name is the
// server's own, never against a resolver that would forward it. A query unanswered after
// --timeout-ms counts as lost, with the timeout as its latency; an answer that is not NOERROR with
// at least one record counts as wrong.

import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';

interface Options {
  readonly server: string;
  readonly port: number;
  readonly name: string;
  readonly clients: number;
  readonly count: number;
  readonly seconds: number;
  readonly warmupMs: number;
  readonly timeoutMs: number;
}

export interface LatencyResult {
  readonly clients: number;
  readonly count: number; // measured queries (after the warm-up), lost ones included
  readonly lost: number;
  readonly wrong: number;
  readonly seconds: number;
  readonly qps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      port: { type: 'string', default: '53' },
      name: { type: 'string' },
      clients: { type: 'string', default: '10' },
      count: { type: 'string', default: '200000' },
      seconds: { type: 'string', default: '5' },
      'warmup-ms': { type: 'string', default: '500' },
      'timeout-ms': { type: 'string', default: '1000' },
    },
  });
  const int = (flag: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`invalid --${flag} "${v}": expected an integer from ${min} to ${max}`);
    return n;
  };
  if (!values.server) throw new Error('--server is required: the address of the DNS server to ask');
  if (!values.name || !/^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$/.test(values.name)) {
    throw new Error(`invalid --name "${values.name ?? ''}": expected a host name such as nlbench-web`);
  }
  return {
    server: values.server,
    port: int('port', values.port, 1, 65535),
    name: values.name,
    clients: int('clients', values.clients, 1, 1000),
    count: int('count', values.count, 1, 10_000_000),
    seconds: int('seconds', values.seconds, 1, 60),
    warmupMs: int('warmup-ms', values['warmup-ms'], 0, 10_000),
    timeoutMs: int('timeout-ms', values['timeout-ms'], 10, 10_000),
  };
}

/** A standard query for NAME, type A, class IN, recursion desired; the id is written per send. */
function query(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const header = Buffer.from([0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

const pct = (sorted: Float64Array, p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

async function measure(o: Options): Promise<LatencyResult> {
  const latencies = new Float64Array(o.count); // ms
  let n = 0;
  let lost = 0;
  let wrong = 0;
  let measuring = false;
  let done = false;
  let measureStart = 0n;
  let measureEnd = 0n;
  const template = query(o.name);

  interface Client {
    readonly sock: Socket;
    readonly packet: Buffer;
    id: number;
    sentAt: bigint;
  }

  const record = (ms: number): void => {
    if (!measuring || done) return;
    latencies[n++] = ms;
    if (n === o.count) finish();
  };

  const send = (c: Client): void => {
    if (done) return;
    c.id = (c.id + 1) & 0xffff;
    c.packet.writeUInt16BE(c.id, 0);
    c.sentAt = process.hrtime.bigint();
    c.sock.send(c.packet);
  };

  const clients: Client[] = [];
  for (let i = 0; i < o.clients; i++) {
    const sock = createSocket('udp4');
    const c: Client = { sock, packet: Buffer.from(template), id: (i * 4099) & 0xffff, sentAt: 0n };
    sock.on('message', (msg) => {
      if (msg.length < 12 || msg.readUInt16BE(0) !== c.id) return; // a late answer to a query already counted lost
      const ms = Number(process.hrtime.bigint() - c.sentAt) / 1e6;
      if ((msg[3]! & 0x0f) !== 0 || msg.readUInt16BE(6) === 0) wrong += measuring ? 1 : 0;
      record(ms);
      send(c);
    });
    sock.on('error', () => undefined); // ICMP unreachable while a server starts: the sweep resends
    await new Promise<void>((resolve) => sock.connect(o.port, o.server, resolve));
    clients.push(c);
  }

  // Lost queries: checked every 20 ms rather than with a timer per query.
  const timeoutNs = BigInt(o.timeoutMs) * 1_000_000n;
  const sweep = setInterval(() => {
    const now = process.hrtime.bigint();
    for (const c of clients) {
      if (now - c.sentAt < timeoutNs) continue;
      if (measuring) lost++;
      record(o.timeoutMs);
      send(c);
    }
  }, 20);

  let resolveDone!: () => void;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  let stopTimer: NodeJS.Timeout | undefined;
  function finish(): void {
    if (done) return;
    done = true;
    measureEnd = process.hrtime.bigint();
    clearInterval(sweep);
    if (stopTimer) clearTimeout(stopTimer);
    for (const c of clients) c.sock.close();
    resolveDone();
  }

  for (const c of clients) send(c);
  setTimeout(() => {
    measuring = true;
    measureStart = process.hrtime.bigint();
    stopTimer = setTimeout(finish, o.seconds * 1000);
  }, o.warmupMs);
  await finished;

  if (n === 0) throw new Error(`no answer from ${o.server}:${o.port} for ${o.name} within ${o.seconds} s`);
  const sorted = latencies.slice(0, n).sort();
  const seconds = Number(measureEnd - measureStart) / 1e9;
  return {
    clients: o.clients,
    count: n,
    lost,
    wrong,
    seconds: Math.round(seconds * 1000) / 1000,
    qps: Math.round(n / seconds),
    p50Ms: round3(pct(sorted, 0.5)),
    p90Ms: round3(pct(sorted, 0.9)),
    p99Ms: round3(pct(sorted, 0.99)),
    p999Ms: round3(pct(sorted, 0.999)),
    maxMs: round3(sorted[n - 1]!),
  };
}

measure(options()).then(
  (r) => console.log(JSON.stringify(r)),
  (err: unknown) => {
    console.error(`dns-latency: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
