// The lab CLI as the privileged lab tests run it (never autostarting a netloomd), and a snapshot
// of this namespace's links, routes, iptables, netns and labs to prove a lab left nothing.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { sh, type Run } from './host.js';

export const ROOT = process.cwd();
export const CLI = join(ROOT, 'bin', 'netloom.mjs');
export const EXAMPLES = join(ROOT, 'examples');

export function lab(...args: string[]): Promise<Run> {
  return labWith({}, ...args);
}

export function labWith(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return execa(process.execPath, [CLI, 'lab', ...args], { reject: false, timeout: 120_000, env: { NETLOOM_NO_AUTOSTART: '1', ...env } }).then((r) => ({
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  }));
}

export async function machine(): Promise<string> {
  const links = (await sh('ip', ['-o', 'link'])).stdout.replace(/link\/ether \S+/g, '');
  const routes = (await sh('ip', ['route'])).stdout;
  const ipt = (await sh('iptables-save', [])).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');
  let netns: string[] = [];
  try {
    netns = readdirSync('/run/netns').sort();
  } catch {
    /* none */
  }
  let labs: string[] = [];
  try {
    labs = readdirSync('/run/netloom-lab');
  } catch {
    /* none */
  }
  return JSON.stringify({ links, routes, ipt, netns, labs }, null, 1);
}
