// A tiny TCP/UDP server and client for the publishing tests (run with node, inside namespaces):
//   node build/test/helpers/portcheck.js serve PORT TAG   TCP and UDP on PORT (all addresses, v4+v6):
//                                                         answers "TAG <client address>"
//   node build/test/helpers/portcheck.js ask tcp|udp HOST PORT   prints the answer; exit 1 after 2 s
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
const plain = (a: string | undefined): string => (a ?? '?').replace(/^::ffff:/, '');

if (mode === 'serve') {
  const port = Number(args[0]);
  const tag = args[1] ?? 'srv';
  createServer((s) => s.end(`${tag} ${plain(s.remoteAddress)}\n`)).listen({ port, host: '::', ipv6Only: false });
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (_m, r) => udp.send(`${tag} ${plain(r.address)}\n`, r.port, r.address));
  udp.bind(port, '::');
} else if (mode === 'ask') {
  const [proto, host, portText] = args;
  const port = Number(portText);
  const done = (text: string, code: number) => {
    process.stdout.write(text);
    process.exit(code);
  };
  setTimeout(() => done('timeout\n', 1), 2000).unref();
  if (proto === 'tcp') {
    let got = '';
    const s = connect({ host, port });
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => done(got, got ? 0 : 1));
    s.on('error', (e) => done(`${e.message}\n`, 1));
  } else {
    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    u.on('message', (m) => done(m.toString(), 0));
    u.send('?', port, host);
  }
} else {
  process.stderr.write('usage: portcheck serve PORT TAG | ask tcp|udp HOST PORT\n');
  process.exit(2);
}
