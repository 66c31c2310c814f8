// `netloom plugin check SOCKET` handler (declared in cli/commands.ts): talks to any plugin's
// socket, never to netloomd's API.
import { UsageError } from '../common/errors.js';
import type { LocalHandler } from './command.js';

export const pluginCheck: LocalHandler = async (p, { out }) => {
  const [socket] = p.positionals;
  if (!socket || p.positionals.length > 1) throw new UsageError('plugin check needs exactly one SOCKET');
  const { runChecks } = await import('../plugin/check.js');
  const cmd = p.values['restart-cmd'] as string | undefined;
  const restart = cmd ? () => restartPlugin(cmd, socket) : undefined;
  const mark = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;
  const results = await runChecks({
    socket,
    restart,
    linkCheck: !p.values['no-link-check'],
    onResult: (r) => out(`${mark[r.status]}  ${r.name}${r.detail ? `: ${r.detail}` : ''}`),
  });
  const failed = results.filter((r) => r.status === 'fail').length;
  const passed = results.filter((r) => r.status === 'pass').length;
  out(`${passed} passed, ${failed} failed, ${results.length - passed - failed} skipped`);
  return failed ? 1 : 0;
};

/** Runs the user's restart command, then waits (up to 30 s) for the plugin to answer again. */
async function restartPlugin(cmd: string, socket: string): Promise<void> {
  const { execa } = await import('execa');
  const r = await execa('sh', ['-c', cmd], { reject: false, stdio: 'inherit' });
  if (r.exitCode !== 0) throw new Error(`--restart-cmd exited with ${r.exitCode}`);
  const { post } = await import('../plugin/check.js');
  for (let i = 0; i < 300; i++) {
    if ((await post(socket, 'Plugin.Activate').catch(() => undefined))?.status === 200) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`the plugin did not answer on ${socket} within 30 s of the restart`);
}
