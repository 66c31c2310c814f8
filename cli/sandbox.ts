// `netloom sandbox ...` and `netloom port` handlers (declared in cli/commands-sandbox.ts, cli/commands.ts).
import type { PortBinding } from '../common/ports.js';
import { resolvePaths } from '../common/config.js';
import { UsageError, sandboxCreateBody } from './args.js';
import { api } from './client.js';
import type { ApiHandler, RawHandler } from './command.js';
import { enc, json, out } from './out.js';
import { naturalCompare, printSandboxTable } from './print.js';

export const create: ApiHandler = async (p, { socket }) => {
  const r = await api<{ Id: string }>(socket, 'POST', '/sandboxes/create', sandboxCreateBody(p));
  out(r.Id);
};

export const ls: ApiHandler = async (p, { socket }) => {
  const sbs = await api<Record<string, unknown>[]>(socket, 'GET', '/sandboxes');
  sbs.sort((a, b) => naturalCompare(String(a.Name), String(b.Name)));
  if (p.values.format === 'json') json(sbs);
  else printSandboxTable(out, sbs);
};

export const inspect: ApiHandler = async (p, { socket }) => {
  if (!p.positionals.length) throw new UsageError('sandbox inspect needs at least one SANDBOX');
  const found: unknown[] = [];
  for (const ref of p.positionals) found.push(await api(socket, 'GET', `/sandboxes/${enc(ref)}`));
  json(found);
};

export const rm: ApiHandler = async (p, { socket }) => {
  if (!p.positionals.length) throw new UsageError('sandbox rm needs at least one SANDBOX');
  for (const ref of p.positionals) {
    await api(socket, 'DELETE', `/sandboxes/${enc(ref)}`);
    out(ref);
  }
};

export const port: ApiHandler = async (p, { socket }) => {
  if (p.positionals.length < 1 || p.positionals.length > 2) throw new UsageError('port needs SANDBOX [PORT[/PROTO]]');
  const [ref, filter] = p.positionals;
  const sb = await api<{ Networks: Record<string, { Ports?: PortBinding[] }> }>(socket, 'GET', `/sandboxes/${enc(ref)}`);
  const want = filter && (filter.includes('/') ? filter : `${filter}/tcp`);
  const { describeBinding } = await import('../common/ports.js');
  const lines = Object.values(sb.Networks).flatMap((n) => (n.Ports ?? []).flatMap(describeBinding));
  const shown = want ? lines.filter((l) => l.startsWith(`${want} `)).map((l) => l.split(' -> ')[1]) : lines;
  if (want && !shown.length) throw new UsageError(`no public port '${want}' published for ${ref}`);
  for (const l of shown) out(l);
};

/** `sandbox exec NAME [--] CMD ...`: everything after NAME belongs to the command. */
export const exec: RawHandler = async (rest, ctx) => {
  const paths = resolvePaths(ctx.globals);
  await ctx.ensureDaemon(paths);
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
};
