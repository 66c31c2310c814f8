// `netloom lab ...`: the lab's commands. cli/main.ts hands over everything after `lab`.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execInNetns } from '../system/process.js';
import { ask, serve } from './agent.js';
import { labCheck } from './check.js';
import { labDown } from './down.js';
import { labFacts, type Facts } from './facts.js';
import { renderMermaid, renderSvg } from './graph.js';
import { attachmentsOf, checkCount, nodeByKey, nsOwner, requirementsOf, type Lab } from './model.js';
import { EXIT, exitCode, renderJson, renderJUnit, renderTap, renderText, type CheckReport } from './report.js';
import { daemonAnswers, lastCheckFile, LabFailure, listStates, alive, readState, type LabState, type Programs } from './runtime.js';
import { LabFileError, parseLab } from './topology.js';
import { labUp } from './up.js';
import { runSteps } from './steps.js';
import { mergeRetry, needsRetry } from './retry.js';
import { captureArgv, captureFailures } from './capture.js';
import { CAPTURE_OPTIONS, LAB_COMMANDS, LAB_HELP, LAB_OPTIONS, type CaptureValues, type LabValues } from './commands.js';

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string): void => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

class LabUsage extends Error {}

export function loadLab(file: string): Lab {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LabFileError(file, 1, 1, `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseLab(text, file);
}

export async function labMain(argv: string[], progs: Programs, globalSocket?: string): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '_serve') return (serve(rest[0], rest.slice(1)), -1);
  if (verb === '_ask') return (out(JSON.stringify(await ask(rest[0], Number(rest[1]), rest.slice(2)))), 0);
  if (!verb || verb === '-h' || verb === '--help' || verb === 'help') return (out(LAB_HELP), verb ? 0 : 2);
  try {
    if (verb === 'exec') return await labExec(rest);
    if (verb === 'capture') return await labCapture(rest);
    let p;
    try {
      p = parseArgs({ args: rest, options: LAB_OPTIONS, allowPositionals: true, strict: true });
    } catch (e) {
      throw new LabUsage((e as Error).message.replace(/^Unknown option '([^']*)'.*/s, 'unknown flag: $1'));
    }
    if (p.values.help) return (out(LAB_HELP), 0);
    const v = p.values as LabValues;
    if (!LAB_COMMANDS.some((c) => c.name === verb)) throw new LabUsage(`unknown command "lab ${verb}": see netloom lab --help`);
    const socket = v.socket ?? globalSocket;
    if (verb === 'ls') return labLs();
    const file = p.positionals[0];
    if (!file || p.positionals.length > 1) throw new LabUsage(`lab ${verb} needs exactly one FILE (a *.loom.yaml)`);
    const lab = loadLab(resolve(file));
    switch (verb) {
      case 'validate': {
        const req = requirementsOf(lab);
        out(
          `${file}: lab ${lab.name}, ${lab.nodes.length} node(s), ${lab.networks.length - 1} network(s), ${lab.links.length} link(s), ${checkCount(lab.expect)} check(s)${lab.steps.length ? `, ${lab.steps.length} step(s)` : ''}${req.length ? `; needs ${req.join(', ')}` : ''}`,
        );
        return 0;
      }
      case 'up':
        await labUp(lab, progs, { host: Boolean(v.host), socket }, out);
        out(`lab ${lab.name} is up: netloom lab check ${file}`);
        return 0;
      case 'check':
        return await check(lab, progs, v);
      case 'down':
        return (await labDown(lab, out, progs, v.host ? (socket ?? (await hostSocket())) : undefined)).map((l) => err(`left: ${l}`)).length ? 1 : 0;
      case 'run': {
        let code: number;
        try {
          await labUp(lab, progs, { host: Boolean(v.host), socket }, out);
          code = await check(lab, progs, v);
        } catch (e) {
          err(`Error: ${e instanceof Error ? e.message : String(e)}`);
          code = EXIT.broken;
        }
        if (v.keep) return code;
        const left = await labDown(lab, out, progs, v.host ? (socket ?? (await hostSocket())) : undefined);
        for (const l of left) err(`left: ${l}`);
        return left.length && code === 0 ? EXIT.broken : code;
      }
      case 'inspect':
        return await labInspect(lab);
      case 'graph':
        return await labGraph(lab, v);
      default:
        throw new LabUsage(`unknown command "lab ${verb}": see netloom lab --help`);
    }
  } catch (e) {
    if (e instanceof LabFileError) return (err(e.message), EXIT.invalid);
    if (e instanceof LabUsage) return (err(`Error: ${e.message}`), EXIT.invalid);
    err(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.broken;
  }
}

async function hostSocket(): Promise<string> {
  const { resolvePaths } = await import('../common/config.js');
  return resolvePaths({}).socket;
}

function upState(lab: Lab): LabState {
  const s = readState(lab.name);
  if (!s) throw new LabFailure(`lab ${lab.name} is not up: netloom lab up ${lab.file}`);
  return s;
}

async function check(
  lab: Lab,
  progs: Programs,
  v: { junit?: string; json?: string; tap?: boolean; verbose?: boolean; retry?: string; 'capture-failures'?: string },
): Promise<number> {
  const retries = v.retry === undefined ? 0 : Number(v.retry);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new LabUsage(`invalid --retry "${v.retry}": expected a whole number from 0 to 10`);
  const state = upState(lab);
  if (!(await daemonAnswers(state.socket))) throw new LabFailure(`lab ${lab.name}: its netloomd does not answer on ${state.socket}`);
  const facts = await labFacts(lab, state);
  let top = await labCheck(lab, state, progs, facts);
  // Cases not as expected are tried again; one as expected on a retry is flaky, never a plain pass.
  for (let attempt = 2; attempt <= retries + 1 && needsRetry(top); attempt++) top = mergeRetry(top, await labCheck(lab, state, progs, facts), attempt);
  // The timeline after the top-level expectations; its progress as it goes, the report at the end.
  const steps = lab.steps.length ? await runSteps(lab, state, progs, facts, v.tap ? () => undefined : out) : [];
  const rep = { ...top, suites: [...top.suites, ...steps] };
  if (v['capture-failures']) for (const f of await captureFailures(lab, rep, progs, v['capture-failures'])) (v.tap ? err : out)(`captured ${f}`);
  writeFileSync(lastCheckFile(lab.name), renderJson(rep));
  const write = (f: string, text: string): void => (f === '-' ? out(text) : writeFileSync(f, text));
  if (v.junit) write(v.junit, renderJUnit(rep));
  if (v.json) write(v.json, renderJson(rep));
  out(v.tap ? renderTap(rep) : renderText(rep, Boolean(v.verbose)));
  return exitCode(rep);
}

function labLs(): number {
  const states = listStates();
  if (!states.length) return (out('no lab is up'), 0);
  out(`${'NAME'.padEnd(22)}${'WHERE'.padEnd(26)}${'DAEMON'.padEnd(10)}FILE`);
  for (const s of states) {
    const where = s.isolated ? `namespace ${s.hostNs}` : 'machine (--host)';
    const d = s.isolated ? (alive(s.daemonPid) ? `pid ${s.daemonPid}` : 'stopped') : '-';
    out(`${s.name.padEnd(22)}${where.padEnd(26)}${d.padEnd(10)}${s.file}`);
  }
  return 0;
}

async function labInspect(lab: Lab): Promise<number> {
  const state = upState(lab);
  const facts = await labFacts(lab, state);
  for (const n of lab.nodes) {
    const mode =
      n.mode.kind === 'networks'
        ? ''
        : ` (network_mode ${n.mode.kind === 'container' ? `container:${n.mode.target}: ${nsOwner(lab, n.key).key}'s interfaces and names` : n.mode.kind})`;
    out(`${n.key}  sandbox ${n.sandbox}${mode}`);
    const f = facts.nodes[n.key];
    const aliases = new Map(attachmentsOf(lab, n.key).map((a) => [a.network, a.aliases]));
    if (nsOwner(lab, n.key).mode.kind === 'host') out(`  (the stack of the lab's host${state.hostNs ? `, namespace ${state.hostNs}` : ''})`);
    else if (!f?.ifaces.length) out('  (no interface but lo)');
    for (const i of f?.ifaces ?? []) {
      const names =
        i.network === 'link'
          ? 'point-to-point'
          : `network ${i.network}${aliases.get(i.network)?.length ? `, names ${[nsOwner(lab, n.key).sandbox, ...(aliases.get(i.network) ?? [])].join(' ')}` : ''}`;
      out(`  ${i.ifname.padEnd(6)} ${i.address.padEnd(18)} ${names}`);
    }
    for (const b of f?.ports ?? []) out(`  port   ${b.hostIP || '*'}:${b.hostPort} -> ${b.containerPort}/${b.proto}${b.count > 1 ? ` (+${b.count - 1})` : ''}`);
  }
  return 0;
}

async function labExec(rest: string[]): Promise<number> {
  const dash = rest.indexOf('--');
  const head = dash < 0 ? rest.slice(0, 2) : rest.slice(0, dash);
  const cmd = dash < 0 ? rest.slice(2) : rest.slice(dash + 1);
  const [file, node] = head;
  if (!file || !node || !cmd.length) throw new LabUsage('lab exec needs FILE NODE -- COMMAND [ARG...]');
  const lab = loadLab(resolve(file));
  const n = nodeByKey(lab, node);
  if (!n) throw new LabUsage(`no node "${node}" in lab ${lab.name} (nodes: ${lab.nodes.map((x) => x.key).join(', ')})`);
  upState(lab);
  return execInNetns(n.sandbox, cmd);
}

async function labCapture(rest: string[]): Promise<number> {
  let p;
  try {
    p = parseArgs({ args: rest, options: CAPTURE_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new LabUsage((e as Error).message.replace(/^Unknown option '([^']*)'.*/s, 'unknown flag: $1'));
  }
  const [file, where] = p.positionals;
  if (!file || !where || p.positionals.length > 2) throw new LabUsage('lab capture needs FILE NODE[:IFACE] [-w F.pcap] [--for DURATION]');
  const lab = loadLab(resolve(file));
  const [node, iface] = where.split(':');
  const n = nodeByKey(lab, node);
  if (!n) throw new LabUsage(`no node "${node}" in lab ${lab.name} (nodes: ${lab.nodes.map((x) => x.key).join(', ')})`);
  let argv: string[];
  try {
    const v = p.values as CaptureValues;
    argv = captureArgv(iface, v.w === undefined ? undefined : resolve(v.w), v.for);
  } catch (e) {
    throw new LabUsage(`--for: ${(e as Error).message}`);
  }
  upState(lab);
  const code = await execInNetns(nsOwner(lab, node).sandbox, argv);
  // tcpdump stopped by --for's SIGINT (or ^C) has done what was asked.
  return code === 130 ? 0 : code;
}

async function labGraph(lab: Lab, v: { svg?: string; mermaid?: boolean; results?: string }): Promise<number> {
  if (!v.svg && !v.mermaid) throw new LabUsage('lab graph needs --svg OUT or --mermaid');
  const state = readState(lab.name);
  let facts: Facts | undefined;
  if (state && (await daemonAnswers(state.socket))) facts = await labFacts(lab, state).catch(() => undefined);
  let report: CheckReport | undefined;
  const resultsFile = v.results ?? (state ? lastCheckFile(lab.name) : undefined);
  if (resultsFile) {
    try {
      report = JSON.parse(readFileSync(resultsFile, 'utf8')) as CheckReport;
    } catch (e) {
      if (v.results) throw new LabUsage(`cannot read --results ${v.results}: ${(e as Error).message}`);
    }
  }
  if (v.svg) {
    writeFileSync(v.svg, renderSvg(lab, facts, report));
    out(`wrote ${v.svg}`);
  }
  if (v.mermaid) out(renderMermaid(lab, facts, report));
  return 0;
}
