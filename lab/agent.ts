// The lab's probe and responder, run by the netloom CLI itself inside a node's namespace
// (`ip netns exec SANDBOX netloom lab _serve ...`), so a lab needs nothing installed in its nodes:
//   _serve TAG tcp/80 udp/6000 ...   answers every TCP connection and UDP datagram with "TAG\n"
//   _ask tcp|udp PORT ADDR...        prints {"ADDR": "answer" | null} after at most ~1 s
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const ASK_TIMEOUT_MS = 1000;

export function serve(tag: string, specs: readonly string[]): void {
  for (const spec of specs) {
    const [proto, portText] = spec.split('/');
    const port = Number(portText);
    if (proto === 'tcp') {
      createServer((s) => s.end(`${tag}\n`)).listen({ port, host: '::', ipv6Only: false });
    } else {
      const udp = createSocket({ type: 'udp6', ipv6Only: false });
      udp.on('message', (_m, r) => udp.send(`${tag}\n`, r.port, r.address));
      udp.bind(port, '::');
    }
  }
}

function askOne(proto: string, port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: string | null, close: () => void): void => {
      if (done) return;
      done = true;
      close();
      resolve(v);
    };
    if (proto === 'tcp') {
      let got = '';
      const s = connect({ host, port });
      const t = setTimeout(() => finish(null, () => s.destroy()), ASK_TIMEOUT_MS);
      s.on('data', (d) => (got += d.toString()));
      s.on('end', () => (clearTimeout(t), finish(got.trim() || null, () => s.destroy())));
      s.on('error', () => (clearTimeout(t), finish(null, () => s.destroy())));
    } else {
      const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const t = setTimeout(() => finish(null, () => u.close()), ASK_TIMEOUT_MS);
      u.on('message', (m) => (clearTimeout(t), finish(m.toString().trim(), () => u.close())));
      u.on('error', () => (clearTimeout(t), finish(null, () => u.close())));
      u.send('?', port, host);
    }
  });
}

export async function ask(proto: string, port: number, hosts: readonly string[]): Promise<Record<string, string | null>> {
  const answers = await Promise.all(hosts.map((h) => askOne(proto, port, h)));
  return Object.fromEntries(hosts.map((h, i) => [h, answers[i]]));
}
