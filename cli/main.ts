// netloom: the command line. A thin client of netloomd's API; starts the daemon if none answers.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { resolvePaths, type InstancePaths } from '../common/config.js';
import { UsageError } from '../common/errors.js';
import { parse } from './parse.js';
import { call } from './client.js';
import type { Command, Context, Globals } from './command.js';
import { ABOUT, COMMANDS, GLOBAL_HELP, GROUPS, commandNamed, groupNamed } from './commands.js';
// Only the command table and the parser are imported statically: each command's handler (and the
// store reader, system reset, process spawning, the help renderer, the lab, the daemon) is imported
// when that command runs, so a start evaluates nothing else (bench/cli-startup.sh measures it).
const help = () => import('./help.js');
const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const TABLE = { commands: COMMANDS, groups: GROUPS, about: ABOUT, globals: GLOBAL_HELP };

async function daemonAnswers(socket: string): Promise<boolean> {
  try {
    return (await call(socket, 'GET', '/_ping')).status === 200;
  } catch {
    return false;
  }
}

function daemonScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'netloomd.mjs');
  return existsSync(bundled) ? bundled : join(here, '..', 'daemon', 'entry.js');
}

function cliScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'netloom.mjs');
  return existsSync(bundled) ? bundled : join(here, 'entry.js');
}

/** Docker's CLI needs a running dockerd; ours starts netloomd when nobody answers. */
async function ensureDaemon(paths: InstancePaths): Promise<void> {
  if (await daemonAnswers(paths.socket)) return;
  // Tests (and careful scripts) run their own daemon in their own namespace and must never get
  // a second one started in whatever namespace the CLI happens to run in.
  if (process.env.NETLOOM_NO_AUTOSTART) throw new Error(`no netloomd answers on ${paths.socket} (NETLOOM_NO_AUTOSTART is set)`);
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o700 });
  const { spawnDetached } = await import('../system/process.js');
  const logFile = join(paths.dataDir, 'netloomd.log');
  spawnDetached(daemonScript(), ['--socket', paths.socket, '--data-dir', paths.dataDir, '--log-file', logFile], logFile);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (await daemonAnswers(paths.socket)) return;
  }
  throw new Error(`netloomd did not start within 10 s on ${paths.socket}: see ${logFile}`);
}

/** Leading --socket/--data-dir (before the command words) apply to every command. */
function splitGlobals(argv: string[]): { flags: Globals; rest: string[] } {
  const flags: Globals = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const eq = argv[i].indexOf('=');
    const k = eq < 0 ? argv[i] : argv[i].slice(0, eq);
    const inline = eq < 0 ? undefined : argv[i].slice(eq + 1);
    if (k !== '--socket' && k !== '--data-dir') break;
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(`${k} needs a value`);
    if (k === '--socket') flags.socket = v;
    else flags.dataDir = v;
  }
  return { flags, rest: argv.slice(i) };
}

export async function main(argv: string[]): Promise<number> {
  const { flags, rest } = splitGlobals(argv);
  const [group, verb, ...args] = rest;
  if (!group || group === '-h' || group === '--help' || group === 'help') return (out((await help()).mainHelp(TABLE)), 0);
  // One-word commands (netloom port, netloom doctor, netloom lab): everything after the word is arguments.
  const single = commandNamed(group);
  if (single) return runCommand(single, rest.slice(1), flags);
  if (!verb || verb === '-h' || verb === '--help') {
    const g = groupNamed(group);
    if (!g) throw new UsageError(`unknown command "${group}": see netloom --help`);
    return (out((await help()).groupHelp(g, COMMANDS)), verb ? 0 : 2);
  }
  const name = `${group} ${verb}`;
  const cmd = commandNamed(name);
  if (!cmd) throw new UsageError(`unknown command "${name}": see netloom ${group} --help`);
  return runCommand(cmd, args, flags);
}

const asksHelp = (args: readonly string[]): boolean => args.includes('-h') || args.includes('--help');

async function runCommand(cmd: Command, args: string[], globals: Globals): Promise<number> {
  const ctx: Context = { globals, out, ensureDaemon, daemonScript, cliScript };
  const showHelp = async (): Promise<number> => (out((await help()).commandHelp(cmd)), 0);
  if (cmd.kind === 'raw') {
    // The daemon and the lab answer --help themselves; sandbox exec's arguments after SANDBOX are the command's.
    if (cmd.about && (args[0] === '-h' || args[0] === '--help')) return showHelp();
    return (await cmd.handler())(args, ctx);
  }
  // A local command shows its help whatever else is given; an API command's flags are checked first.
  if (cmd.kind === 'local' && asksHelp(args)) return showHelp();
  const p = parse(args, cmd.flags ?? {});
  if (p.values.help) return showHelp();
  if (cmd.kind === 'local') return (await cmd.handler())(p, ctx);
  const paths = resolvePaths({
    socket: (p.values.socket as string | undefined) ?? globals.socket,
    dataDir: (p.values['data-dir'] as string | undefined) ?? globals.dataDir,
  });
  const handler = await cmd.handler();
  try {
    return (await handler(p, paths)) ?? 0;
  } catch (err) {
    // No daemon (no socket, or nobody listening): nothing was sent, so start one and retry once.
    // Trying first saves the CLI a round trip on every ordinary call.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
    await ensureDaemon(paths);
    return (await handler(p, paths)) ?? 0;
  }
}
