// sysctls of the daemon's own namespace: /proc/sys/net is per network namespace.
import { writeFile, readFile } from 'node:fs/promises';

const path = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

export async function setSysctl(key: string, value: string): Promise<void> {
  const current = (await readFile(path(key), 'utf8').catch(() => '')).trim();
  if (current === value) return;
  await writeFile(path(key), value);
}
