// UTS namespaces (hostname, domainname) of sandboxes that have their own, kept like network
// namespaces: a bind mount of the namespace on a file under /run/netloom/uts, so it outlives the
// process that made it and `netloom sandbox exec` can enter it. util-linux `unshare --uts=FILE`
// makes the namespace and the bind mount in one step; the names are written through /proc/sys,
// which shows the calling process's own UTS namespace.
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { keepMessage, stepOf } from './errors.js';
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
      await run(
        'unshare',
        [
          `--uts=${file}`,
          'sh',
          '-c',
          'printf %s "$1" > /proc/sys/kernel/hostname && printf %s "$2" > /proc/sys/kernel/domainname',
          'sh',
          hostname,
          domainname || '(none)',
        ],
        { step, object: `sandbox ${sandbox}` },
      );
    } catch (err) {
      await run('umount', [file], { allowFail: true });
      rmSync(file, { force: true });
      throw err;
    }
  }

  async del(sandbox: string): Promise<void> {
    const file = utsPath(sandbox);
    if (!existsSync(file)) return;
    // Not mounted (a crash between the file and the mount) is fine: the file goes either way.
    await run('umount', [file], { allowFail: true });
    try {
      rmSync(file, { force: true });
    } catch (err) {
      throw keepMessage(stepOf('uts.del'), `sandbox ${sandbox}`, err);
    }
  }

  async exists(sandbox: string): Promise<boolean> {
    return existsSync(utsPath(sandbox));
  }
}
