// A fake upstream DNS server for forwarding tests, run by a test inside its own host namespace
// on loopback: answers every A query with 192.0.2.<n> (a documentation address: data only, it
// is never contacted). Built on dns2, independently of netloom's own codec.
//   node fake-upstream.js --port 5353 [--delay MS] [--truncate] [--answer 192.0.2.10]
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import dns2 from 'dns2';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5353' },
    delay: { type: 'string', default: '0' },
    truncate: { type: 'boolean', default: false },
    answer: { type: 'string', default: '192.0.2.10' },
  },
});
const { Packet } = dns2;
const delay = Number(values.delay);

function reply(query: Buffer, truncated: boolean): Buffer {
  const req = Packet.parse(query);
  const res = Packet.createResponseFromRequest(req);
  const q = req.questions[0];
  if (truncated) {
    res.header.tc = 1;
  } else if (q && q.type === Packet.TYPE.A) {
    res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: values.answer } as unknown as (typeof res.answers)[number]);
  }
  return res.toBuffer();
}

const udp = createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  setTimeout(() => udp.send(reply(msg, values.truncate), rinfo.port, rinfo.address), delay);
});
udp.bind(Number(values.port), '127.0.0.1');

const tcp = createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
    const r = reply(buf.subarray(2, 2 + buf.readUInt16BE(0)), false);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(r.length);
    setTimeout(() => c.end(Buffer.concat([len, r])), delay);
  });
  c.on('error', () => c.destroy());
});
tcp.listen(Number(values.port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
