// iptables through iptables-restore batches (one process per change) and, for the few jump
// rules netloom places in built-in chains, single -C/-I/-D calls. Always -w. Every program is
// started with posix_spawn (exec.ts noFork): a fork of the daemon cost 2-4 ms of its main thread.
import { run } from './exec.js';
import { errnoOfRun, obj, runError, stepOf } from './errors.js';
import type { Firewall, Table } from './types.js';

const noFork = true;
const bin = (family: 4 | 6, tool: '' | '-save' | '-restore'): string => `${family === 4 ? 'iptables' : 'ip6tables'}${tool}`;

export class Iptables implements Firewall {
  async restore(family: 4 | 6, text: string): Promise<void> {
    await run(bin(family, '-restore'), ['-w', '--noflush'], { input: text, step: stepOf('restore'), object: obj.fw(family), noFork });
  }

  async save(family: 4 | 6, table: Table): Promise<string> {
    return (await run(bin(family, '-save'), ['-t', table], { step: stepOf('save'), object: obj.fw(family, table), noFork })).stdout;
  }

  async ensureJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void> {
    const check = await run(bin(family, ''), ['-w', '-t', table, '-C', chain, '-j', target], { allowFail: true, noFork });
    if (check.exitCode === 0) return;
    await run(bin(family, ''), ['-w', '-t', table, '-I', chain, '1', '-j', target], {
      step: stepOf('ensureJump'),
      object: obj.fw(family, table, chain),
      noFork,
    });
  }

  async ensureChain(family: 4 | 6, table: Table, chain: string): Promise<void> {
    const args = ['-w', '-t', table, '-N', chain];
    const r = await run(bin(family, ''), args, { allowFail: true, noFork });
    if (r.exitCode !== 0 && errnoOfRun(r) !== 'EEXIST') throw runError(bin(family, ''), args, r, stepOf('ensureChain'), obj.fw(family, table, chain));
  }

  async removeJump(family: 4 | 6, table: Table, chain: string, target: string): Promise<void> {
    await this.deleteRule(family, table, chain, ['-j', target]);
  }

  async deleteRule(family: 4 | 6, table: Table, chain: string, spec: readonly string[]): Promise<void> {
    // Loop: a rule may have been inserted twice by someone else; stop when -D fails (gone).
    for (let i = 0; i < 8; i++) {
      const r = await run(bin(family, ''), ['-w', '-t', table, '-D', chain, ...spec], { allowFail: true, noFork });
      if (r.exitCode !== 0) return;
    }
  }
}
