// netloom: the command line. A thin client of netloomd's API; starts the daemon if none answers.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { DAEMON_V8_FLAGS, resolvePaths, type InstancePaths } from '../common/config.js';
import { CONNECT_OPTIONS, NETWORK_CREATE_OPTIONS, UsageError, endpointConfig, networkCreateBody, parse, sandboxCreateBody, SANDBOX_CREATE_OPTIONS, type Parsed } from './args.js';
import { api, ApiError, call } from './client.js';
import type { PortBinding } from '../common/ports.js';
import { naturalCompare, printNetworkTable, printSandboxTable } from './print.js';
// Only what network ls/create/connect/disconnect/rm need is imported statically: the rest (the
// store reader, system reset, process spawning, the help texts, the lab, the
// daemon) is imported by the command that uses it, so a start evaluates nothing else
// (bench/cli-startup.sh measures the cost of a start).
const help = async (): Promise<Record<string, string>> => (await import('./help.js')).HELP;

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const json = (v: unknown): void => out(JSON.stringify(v, null, 4));

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

type Handler = (p: Parsed, paths: InstancePaths) => Promise<number | void>;

const enc = encodeURIComponent;

/** --filter k=v (repeatable) as Docker's `filters` query: {"k":{"v":true}}. */
function filterQuery(p: Parsed): string {
  const items = (p.values.filter as string[] | undefined) ?? [];
  if (!items.length) return '';
  const f: Record<string, Record<string, boolean>> = {};
  for (const it of items) {
    const i = it.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid --filter "${it}": expected key=value (see --help for the keys)`);
    (f[it.slice(0, i)] ??= {})[it.slice(i + 1)] = true;
  }
  return `?filters=${enc(JSON.stringify(f))}`;
}

const commands: Record<string, Handler> = {
  async 'network create'(p, { socket }) {
    const r = await api<{ Id: string; Warning?: string }>(socket, 'POST', '/networks/create', networkCreateBody(p));
    if (r.Warning) process.stderr.write(`WARNING: ${r.Warning}\n`);
    out(r.Id);
  },
  async 'network ls'(p, { socket }) {
    const nets = await api<Record<string, unknown>[]>(socket, 'GET', `/networks${filterQuery(p)}`);
    nets.sort((a, b) => naturalCompare(String(a.Name), String(b.Name)));
    if (p.values.quiet) nets.forEach((n) => out(String(n.Id).slice(0, 12)));
    else if (p.values.format === 'json') json(nets);
    else if (p.values.format && p.values.format !== 'table') throw new UsageError(`unknown --format "${p.values.format}": expected table or json`);
    else printNetworkTable(out, nets);
  },
  async 'network inspect'(p, { socket }) {
    if (!p.positionals.length) throw new UsageError('network inspect needs at least one NETWORK');
    const found: unknown[] = [];
    let failed = 0;
    for (const ref of p.positionals) {
      try {
        found.push(await api(socket, 'GET', `/networks/${enc(ref)}`));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        process.stderr.write(`Error: ${err.message}\n`);
        failed++;
      }
    }
    json(found);
    return failed ? 1 : 0;
  },
  async 'network connect'(p, { socket }) {
    if (p.positionals.length !== 2) throw new UsageError('network connect needs NETWORK SANDBOX');
    const [net, sb] = p.positionals;
    await api(socket, 'POST', `/networks/${enc(net)}/connect`, { Container: sb, EndpointConfig: endpointConfig(p.values) });
  },
  async 'network disconnect'(p, { socket }) {
    if (p.positionals.length !== 2) throw new UsageError('network disconnect needs NETWORK SANDBOX');
    const [net, sb] = p.positionals;
    await api(socket, 'POST', `/networks/${enc(net)}/disconnect`, { Container: sb, Force: Boolean(p.values.force) });
  },
  async 'network rm'(p, { socket }) {
    if (!p.positionals.length) throw new UsageError('network rm needs at least one NETWORK');
    let failed = 0;
    for (const ref of p.positionals) {
      try {
        await api(socket, 'DELETE', `/networks/${enc(ref)}`);
        out(ref);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        process.stderr.write(`Error: ${err.message}\n`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
  async 'network prune'(_p, { socket }) {
    const r = await api<{ NetworksDeleted: string[] | null }>(socket, 'POST', `/networks/prune${filterQuery(_p)}`);
    if (r.NetworksDeleted?.length) out(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}`);
  },
  async 'sandbox create'(p, { socket }) {
    const r = await api<{ Id: string }>(socket, 'POST', '/sandboxes/create', sandboxCreateBody(p));
    out(r.Id);
  },
  async 'sandbox ls'(p, { socket }) {
    const sbs = await api<Record<string, unknown>[]>(socket, 'GET', '/sandboxes');
    sbs.sort((a, b) => naturalCompare(String(a.Name), String(b.Name)));
    if (p.values.format === 'json') json(sbs);
    else printSandboxTable(out, sbs);
  },
  async 'sandbox inspect'(p, { socket }) {
    if (!p.positionals.length) throw new UsageError('sandbox inspect needs at least one SANDBOX');
    const found: unknown[] = [];
    for (const ref of p.positionals) found.push(await api(socket, 'GET', `/sandboxes/${enc(ref)}`));
    json(found);
  },
  async 'dns explain'(p, { socket }) {
    if (p.positionals.length !== 2) throw new UsageError('dns explain needs SANDBOX NAME');
    const [sb, name] = p.positionals;
    const q = `name=${enc(name)}&type=${enc(String(p.values.type ?? 'A'))}`;
    const r = await api<{ answeredBy: string; rcode?: number; answers?: string[]; why: string; via?: string; upstreamsTried?: string[] }>(
      socket, 'GET', `/sandboxes/${enc(sb)}/dns?${q}`);
    const rcodes = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
    out(`${name} ${String(p.values.type ?? 'A').toUpperCase()} from ${sb}${r.via ? ` (asking the server on network ${r.via})` : ''}`);
    out(`  answered by: ${r.answeredBy}`);
    if (r.rcode !== undefined) out(`  status:      ${rcodes[r.rcode] ?? r.rcode}${r.answers ? ` (${r.answers.length ? r.answers.join(', ') : 'no records'})` : ''}`);
    if (r.upstreamsTried?.length) out(`  tried:       ${r.upstreamsTried.join(', ')}`);
    out(`  why:         ${r.why}`);
  },
  async doctor(p, { socket }) {
    if (p.positionals.length) throw new UsageError('doctor takes no arguments');
    type F = { kind: string; object: string; problem: string };
    const show = (fs: F[]) => fs.forEach((f) => out(`${f.kind.padEnd(9)} ${f.object}: ${f.problem}`));
    if (p.values.fix) {
      const r = await api<{ before: F[]; after: F[] }>(socket, 'POST', '/doctor/fix');
      if (p.values.format === 'json') return json(r), r.after.length ? 1 : 0;
      if (!r.before.length) return out('doctor: the kernel matches the records; nothing to fix'), 0;
      out(`doctor: repaired ${r.before.length - r.after.length} of ${r.before.length} difference(s):`);
      show(r.before);
      if (r.after.length) {
        out('still different:');
        show(r.after);
      }
      return r.after.length ? 1 : 0;
    }
    const r = await api<{ findings: F[]; firewallGuard: { checks: number; heals: number; lastHeal?: string }; salvage?: { at: string }; iptables?: boolean }>(socket, 'GET', '/doctor');
    if (p.values.format === 'json') return json(r), r.findings.length ? 1 : 0;
    if (r.salvage) out(`store salvaged at ${r.salvage.at}: unexplained objects are kept until netloom doctor --fix removes them`);
    if (!r.findings.length) out('doctor: the kernel matches the records (namespaces, links, addresses, routes, rules, published ports)');
    else {
      out(`doctor: ${r.findings.length} difference(s) between the records and the kernel (netloom doctor --fix repairs them):`);
      show(r.findings);
    }
    const g = r.firewallGuard;
    if (r.iptables === false) out('iptables: off (netloomd --iptables=false): netloom writes no rules, so none were compared');
    else out(`firewall guard: ${g.checks} check(s), ${g.heals} restore(s)${g.lastHeal ? `, last at ${g.lastHeal}` : ''}`);
    return r.findings.length ? 1 : 0;
  },
  async 'port'(p, { socket }) {
    if (p.positionals.length < 1 || p.positionals.length > 2) throw new UsageError('port needs SANDBOX [PORT[/PROTO]]');
    const [ref, filter] = p.positionals;
    const sb = await api<{ Networks: Record<string, { Ports?: PortBinding[] }> }>(socket, 'GET', `/sandboxes/${enc(ref)}`);
    const want = filter && (filter.includes('/') ? filter : `${filter}/tcp`);
    const { describeBinding } = await import('../common/ports.js');
    const lines = Object.values(sb.Networks).flatMap((n) => (n.Ports ?? []).flatMap(describeBinding));
    const shown = want ? lines.filter((l) => l.startsWith(`${want} `)).map((l) => l.split(' -> ')[1]) : lines;
    if (want && !shown.length) throw new UsageError(`no public port '${want}' published for ${ref}`);
    for (const l of shown) out(l);
  },
  async 'sandbox rm'(p, { socket }) {
    if (!p.positionals.length) throw new UsageError('sandbox rm needs at least one SANDBOX');
    for (const ref of p.positionals) {
      await api(socket, 'DELETE', `/sandboxes/${enc(ref)}`);
      out(ref);
    }
  },
};

const OPTIONS: Record<string, Parameters<typeof parse>[1]> = {
  'network create': NETWORK_CREATE_OPTIONS,
  'network ls': { format: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, filter: { type: 'string', short: 'f', multiple: true } },
  'network connect': CONNECT_OPTIONS,
  'network disconnect': { force: { type: 'boolean', short: 'f' } },
  'network prune': { force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true } },
  'sandbox create': SANDBOX_CREATE_OPTIONS,
  'dns explain': { type: { type: 'string', short: 't' } },
  doctor: { fix: { type: 'boolean' }, format: { type: 'string' } },
  'sandbox ls': { format: { type: 'string' } },
};

/** `sandbox exec NAME [--] CMD ...`: everything after NAME belongs to the command. */
async function sandboxExec(rest: string[], paths: InstancePaths): Promise<number> {
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  const [name, ...cmd] = args;
  const argv = cmd[0] === '--' ? cmd.slice(1) : cmd;
  if (!name || !argv.length) throw new UsageError('sandbox exec needs SANDBOX -- COMMAND [ARG...]');
  // The API resolves an ID prefix too; the namespace is named after the sandbox's full name.
  const sb = await api<{ Name: string; NetworkMode?: string }>(paths.socket, 'GET', `/sandboxes/${enc(name)}`);
  // A container:<x> sandbox shares x's host name too, as in Docker.
  const shared = sb.NetworkMode?.startsWith('container:') ? sb.NetworkMode.slice('container:'.length) : undefined;
  const { execInNetns } = await import('../system/process.js');
  return execInNetns(sb.Name, argv, shared ?? sb.Name);
}

/** `plugin check SOCKET`: talks to any plugin's socket, never to netloomd's API. */
async function pluginCheck(p: Parsed): Promise<number> {
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
}

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

/** Leading --socket/--data-dir (before the command words) apply to every command. */
function splitGlobals(argv: string[]): { flags: { socket?: string; dataDir?: string }; rest: string[] } {
  const flags: { socket?: string; dataDir?: string } = {};
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
  if (!group || group === '-h' || group === '--help' || group === 'help') return out((await help()).main), 0;
  if (group === 'daemon') {
    // As daemon/entry.ts does for netloomd (set later here: the CLI's few modules are loaded).
    (await import('node:v8')).setFlagsFromString(process.env.NETLOOMD_V8_FLAGS ?? DAEMON_V8_FLAGS);
    const { runDaemon } = await import('../daemon/main.js');
    const extra = [...(flags.socket ? ['--socket', flags.socket] : []), ...(flags.dataDir ? ['--data-dir', flags.dataDir] : [])];
    await runDaemon([...extra, ...rest.slice(1)]);
    return -1; // keep running
  }
  if (group === 'lab') {
    const { labMain } = await import('../lab/main.js');
    const here = dirname(fileURLToPath(import.meta.url));
    const bundled = join(here, 'netloom.mjs');
    return labMain(rest.slice(1), { daemonScript: daemonScript(), cliScript: existsSync(bundled) ? bundled : join(here, 'entry.js') }, flags.socket);
  }
  // One-word commands (netloom port, netloom doctor): everything after the word is arguments.
  if (ONE_WORD.has(group)) return runCommand(group, rest.slice(1), flags);
  const name = `${group} ${verb ?? ''}`.trim();
  if (!verb || verb === '-h' || verb === '--help') {
    const h = (await help())[group];
    if (!h) throw new UsageError(`unknown command "${group}": see netloom --help`);
    return out(h), verb ? 0 : 2;
  }
  if (name === 'plugin check') {
    if (args.includes('-h') || args.includes('--help')) return out((await help())[name]), 0;
    return pluginCheck(parse(args, { 'restart-cmd': { type: 'string' }, 'no-link-check': { type: 'boolean' } }));
  }
  if (name === 'store verify') {
    if (args[0] === '-h' || args[0] === '--help') return out((await help())[name]), 0;
    const p = parse(args, { 'data-dir': { type: 'string' } });
    if (p.positionals.length) throw new UsageError(`store verify takes no arguments, got "${p.positionals[0]}"`);
    const { storeVerify } = await import('./store.js');
    return storeVerify(resolvePaths({ dataDir: (p.values['data-dir'] as string | undefined) ?? flags.dataDir }).dataDir, out);
  }
  if (name === 'system reset') {
    if (args.includes('-h') || args.includes('--help')) return out((await help())[name]), 0;
    const p = parse(args, { force: { type: 'boolean', short: 'f' } });
    if (p.positionals.length) throw new UsageError(`system reset takes no arguments, got "${p.positionals[0]}"`);
    const paths = resolvePaths({ socket: (p.values.socket as string | undefined) ?? flags.socket, dataDir: (p.values['data-dir'] as string | undefined) ?? flags.dataDir });
    const { systemReset } = await import('./reset.js');
    return systemReset(Boolean(p.values.force), paths, out, (s) => void process.stderr.write(`${s}\n`));
  }
  if (name === 'sandbox exec') {
    if (args[0] === '-h' || args[0] === '--help') return out((await help())[name]), 0;
    const paths = resolvePaths(flags);
    await ensureDaemon(paths);
    return sandboxExec(args, paths);
  }
  return runCommand(name, args, flags, group);
}

const ONE_WORD = new Set(['port', 'doctor']);

async function runCommand(name: string, args: string[], flags: { socket?: string; dataDir?: string }, group = name): Promise<number> {
  const handler = commands[name];
  if (!handler) throw new UsageError(`unknown command "${name}": see netloom ${group} --help`);
  const p = parse(args, OPTIONS[name] ?? {});
  if (p.values.help) {
    const h = await help();
    return out(h[name] ?? h[group]), 0;
  }
  const paths = resolvePaths({
    socket: (p.values.socket as string | undefined) ?? flags.socket,
    dataDir: (p.values['data-dir'] as string | undefined) ?? flags.dataDir,
  });
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
