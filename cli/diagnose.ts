// `netloom dns explain` and `netloom doctor` handlers (declared in cli/commands.ts).
import { UsageError } from './args.js';
import { api } from './client.js';
import type { ApiHandler } from './command.js';
import { enc, json, out } from './out.js';

export const dnsExplain: ApiHandler = async (p, { socket }) => {
  if (p.positionals.length !== 2) throw new UsageError('dns explain needs SANDBOX NAME');
  const [sb, name] = p.positionals;
  const q = `name=${enc(name)}&type=${enc(String(p.values.type ?? 'A'))}`;
  const r = await api<{ answeredBy: string; rcode?: number; answers?: string[]; why: string; via?: string; upstreamsTried?: string[] }>(
    socket,
    'GET',
    `/sandboxes/${enc(sb)}/dns?${q}`,
  );
  const rcodes = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
  out(`${name} ${String(p.values.type ?? 'A').toUpperCase()} from ${sb}${r.via ? ` (asking the server on network ${r.via})` : ''}`);
  out(`  answered by: ${r.answeredBy}`);
  if (r.rcode !== undefined)
    out(`  status:      ${rcodes[r.rcode] ?? r.rcode}${r.answers ? ` (${r.answers.length ? r.answers.join(', ') : 'no records'})` : ''}`);
  if (r.upstreamsTried?.length) out(`  tried:       ${r.upstreamsTried.join(', ')}`);
  out(`  why:         ${r.why}`);
};

type Finding = { kind: string; object: string; problem: string };
const show = (fs: Finding[]): void => fs.forEach((f) => out(`${f.kind.padEnd(9)} ${f.object}: ${f.problem}`));

export const doctor: ApiHandler = async (p, { socket }) => {
  if (p.positionals.length) throw new UsageError('doctor takes no arguments');
  if (p.values.fix) {
    const r = await api<{ before: Finding[]; after: Finding[] }>(socket, 'POST', '/doctor/fix');
    if (p.values.format === 'json') return (json(r), r.after.length ? 1 : 0);
    if (!r.before.length) return (out('doctor: the kernel matches the records; nothing to fix'), 0);
    out(`doctor: repaired ${r.before.length - r.after.length} of ${r.before.length} difference(s):`);
    show(r.before);
    if (r.after.length) {
      out('still different:');
      show(r.after);
    }
    return r.after.length ? 1 : 0;
  }
  const r = await api<{
    findings: Finding[];
    firewallGuard: { checks: number; heals: number; lastHeal?: string };
    salvage?: { at: string };
    iptables?: boolean;
  }>(socket, 'GET', '/doctor');
  if (p.values.format === 'json') return (json(r), r.findings.length ? 1 : 0);
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
};
