// Per-sandbox files under /etc/netns/<name>/ (what `ip netns exec` bind-mounts over /etc).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ETC_NETNS = '/etc/netns';

/** Writes atomically (temp file + rename), so a reader never sees half a resolv.conf. */
export function writeNetnsFile(sandbox: string, file: 'resolv.conf' | 'hosts' | 'hostname', content: string): void {
  const dir = join(ETC_NETNS, sandbox);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${file}.tmp`);
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, join(dir, file));
}

export function removeNetnsFiles(sandbox: string): void {
  rmSync(join(ETC_NETNS, sandbox), { recursive: true, force: true });
}
