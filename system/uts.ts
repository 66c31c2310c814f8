// UTS namespaces (hostname, domainname) of sandboxes that have their own, kept like network
// namespaces: a bind mount of the namespace on a file under /run/netloom/uts, so it outlives the
// thread that made it and `netloom sandbox exec` can enter it. Made in the daemon the way
// util-linux `unshare --uts=FILE` and a write of the names to /proc/sys/kernel would make it
// (native/nsaddon.c utsAdd: unshare, sethostname, setdomainname, bind mount, setns back).
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { keepMessage, stepOf } from './errors.js';
import { loadAddon } from './netns.js';
import type { UtsNamespaces } from './types.js';

export const UTS_DIR = '/run/netloom/uts';

export const utsPath = (sandbox: string): string => join(UTS_DIR, sandbox);

export class UnshareUts implements UtsNamespaces {
  async add(sandbox: string, hostname: string, domainname: string): Promise<void> {
    const step = stepOf('uts.add');
    const file = utsPath(sandbox);
    if (existsSync(file)) await this.del(sandbox);
    try {
      mkdirSync(UTS_DIR, { recursive: true, mode: 0o755 });
      closeSync(openSync(file, 'wx'));
    } catch (err) {
      throw keepMessage(step, `sandbox ${sandbox}`, err);
    }
    try {
      // "(none)" is the kernel's own word for no domain name, what a fresh machine shows.
      loadAddon().utsAdd(file, hostname, domainname || '(none)');
    } catch (err) {
      rmSync(file, { force: true });
      throw keepMessage(step, `sandbox ${sandbox}`, err);
    }
  }

  async del(sandbox: string): Promise<void> {
    const file = utsPath(sandbox);
    if (!existsSync(file)) return;
    try {
      // Not mounted (a crash between the file and the mount) is fine: the file goes either way.
      loadAddon().unmount(file);
      rmSync(file, { force: true });
    } catch (err) {
      throw keepMessage(stepOf('uts.del'), `sandbox ${sandbox}`, err);
    }
  }

  async exists(sandbox: string): Promise<boolean> {
    return existsSync(utsPath(sandbox));
  }
}
