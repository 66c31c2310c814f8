// Sockets bound in the daemon's network namespace, from /proc/net/{tcp,tcp6,udp,udp6} (these
// follow the reader's namespace), and the process that holds one (a scan of /proc/*/fd, only
// done to name a holder in an error).
import { readFile, readdir, readlink } from 'node:fs/promises';
import { bytesToIp } from '../common/cidr.js';
import type { Listener } from './types.js';

const TCP_LISTEN = '0A';

/** /proc/net addresses are 32-bit words in host (little-endian here) order. */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => bytes.writeUInt32LE(parseInt(w, 16), i * 4));
  return bytesToIp(bytes);
}

export function parseProcNet(text: string, proto: 'tcp' | 'udp', family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addr, port] = f[1].split(':');
    if (proto === 'tcp' && f[3] !== TCP_LISTEN) continue;
    out.push({ proto, family, address: procAddress(addr), port: parseInt(port, 16), inode: Number(f[9]) });
  }
  return out;
}

export async function listeners(): Promise<Listener[]> {
  const files = [
    ['tcp', 4],
    ['tcp6', 6],
    ['udp', 4],
    ['udp6', 6],
  ] as const;
  const all = await Promise.all(
    files.map(([f, family]) =>
      readFile(`/proc/net/${f}`, 'utf8').then(
        (t) => parseProcNet(t, f.startsWith('tcp') ? 'tcp' : 'udp', family),
        () => [],
      ),
    ),
  );
  return all.flat();
}

export async function socketOwner(inode: number): Promise<{ pid: number; command: string } | undefined> {
  const want = `socket:[${inode}]`;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) !== want) continue;
      const command = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      return { pid: Number(pid), command };
    }
  }
  return undefined;
}
