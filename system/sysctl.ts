// sysctls of the daemon's own namespace: /proc/sys/net is per network namespace. Written with
// synchronous calls: /proc/sys does no disk I/O, and fs/promises took 7 threadpool round trips
// (open, fstat, read, close, open, write, close) for one sysctl in network create.
import { readFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { keepMessage, stepOf } from './errors.js';

const path = (key: string): string => `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;

export async function readSysctl(key: string): Promise<string | undefined> {
  return readFile(path(key), 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

export async function setSysctl(key: string, value: string): Promise<void> {
  let current = '';
  try {
    current = readFileSync(path(key), 'utf8').trim();
  } catch {
    /* unreadable: the write says why */
  }
  if (current === value) return;
  try {
    writeFileSync(path(key), value);
  } catch (err) {
    throw keepMessage(stepOf('sysctl'), `${key}=${value}`, err);
  }
}
