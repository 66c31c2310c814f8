// sysctls of the daemon's own namespace: /proc/sys/net is per network namespace.
import { writeFile, readFile } from 'node:fs/promises';
import { keepMessage, stepOf } from './errors.js';

const path = (key: string): string => `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;

export async function readSysctl(key: string): Promise<string | undefined> {
  return readFile(path(key), 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

export async function setSysctl(key: string, value: string): Promise<void> {
  const current = (await readFile(path(key), 'utf8').catch(() => '')).trim();
  if (current === value) return;
  await writeFile(path(key), value).catch((err: unknown) => {
    throw keepMessage(stepOf('sysctl'), `${key}=${value}`, err);
  });
}
