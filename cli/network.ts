// `netloom network ...` handlers (declared in cli/commands-network.ts).
import { UsageError, endpointConfig, networkCreateBody, type Parsed } from './args.js';
import { api, ApiError } from './client.js';
import type { ApiHandler } from './command.js';
import { enc, json, out } from './out.js';
import { naturalCompare, printNetworkTable } from './print.js';

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

/** Each NETWORK in turn; one that fails is named on stderr and the rest still go (exit 1). */
async function eachRef(refs: string[], fn: (ref: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      process.stderr.write(`Error: ${err.message}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

export const create: ApiHandler = async (p, { socket }) => {
  const r = await api<{ Id: string; Warning?: string }>(socket, 'POST', '/networks/create', networkCreateBody(p));
  if (r.Warning) process.stderr.write(`WARNING: ${r.Warning}\n`);
  out(r.Id);
};

export const ls: ApiHandler = async (p, { socket }) => {
  const nets = await api<Record<string, unknown>[]>(socket, 'GET', `/networks${filterQuery(p)}`);
  nets.sort((a, b) => naturalCompare(String(a.Name), String(b.Name)));
  if (p.values.quiet) nets.forEach((n) => out(String(n.Id).slice(0, 12)));
  else if (p.values.format === 'json') json(nets);
  else if (p.values.format && p.values.format !== 'table') throw new UsageError(`unknown --format "${p.values.format}": expected table or json`);
  else printNetworkTable(out, nets);
};

export const inspect: ApiHandler = async (p, { socket }) => {
  if (!p.positionals.length) throw new UsageError('network inspect needs at least one NETWORK');
  const found: unknown[] = [];
  const code = await eachRef(p.positionals, async (ref) => void found.push(await api(socket, 'GET', `/networks/${enc(ref)}`)));
  json(found);
  return code;
};

export const connect: ApiHandler = async (p, { socket }) => {
  if (p.positionals.length !== 2) throw new UsageError('network connect needs NETWORK SANDBOX');
  const [net, sb] = p.positionals;
  await api(socket, 'POST', `/networks/${enc(net)}/connect`, { Container: sb, EndpointConfig: endpointConfig(p.values) });
};

export const disconnect: ApiHandler = async (p, { socket }) => {
  if (p.positionals.length !== 2) throw new UsageError('network disconnect needs NETWORK SANDBOX');
  const [net, sb] = p.positionals;
  await api(socket, 'POST', `/networks/${enc(net)}/disconnect`, { Container: sb, Force: Boolean(p.values.force) });
};

export const rm: ApiHandler = async (p, { socket }) => {
  if (!p.positionals.length) throw new UsageError('network rm needs at least one NETWORK');
  return eachRef(p.positionals, async (ref) => {
    await api(socket, 'DELETE', `/networks/${enc(ref)}`);
    out(ref);
  });
};

export const prune: ApiHandler = async (p, { socket }) => {
  const r = await api<{ NetworksDeleted: string[] | null }>(socket, 'POST', `/networks/prune${filterQuery(p)}`);
  if (r.NetworksDeleted?.length) out(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}`);
};
