// Per-sandbox files under /etc/netns/<name>/ (what `ip netns exec` bind-mounts over /etc).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keepMessage, stepOf } from './errors.js';

export const ETC_NETNS = '/etc/netns';

/** Writes atomically (temp file + rename), so a reader never sees half a resolv.conf. */
export function writeNetnsFile(sandbox: string, file: 'resolv.conf' | 'hosts' | 'hostname', content: string): void {
  const dir = join(ETC_NETNS, sandbox);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const tmp = join(dir, `.${file}.tmp`);
    writeFileSync(tmp, content, { mode: 0o644 });
    renameSync(tmp, join(dir, file));
  } catch (err) {
    throw keepMessage(stepOf('writeFile'), join(dir, file), err);
  }
}

export function removeNetnsFiles(sandbox: string): void {
  const dir = join(ETC_NETNS, sandbox);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw keepMessage(stepOf('removeFiles'), dir, err);
  }
}
