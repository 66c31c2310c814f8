// Applying impairments: finds each impaired direction's interface (a node's, or the host-side veth
// of a node's attachment, in the lab's host namespace) and runs one `tc -batch` per namespace.
import { run } from '../system/exec.js';
import type { Facts } from './facts.js';
import { nsOwner, type Lab } from './model.js';
import { tcBatches, type Direction, type Netem, type NetemSides } from './netem.js';
import { LabFailure, type LabState } from './runtime.js';

/** An impairable place: a point-to-point link (by either end) or a node's attachment to a network. */
export type Target = { readonly kind: 'link'; readonly index: number } | { readonly kind: 'attachment'; readonly node: string; readonly network: string };

export const targetKey = (t: Target): string => (t.kind === 'link' ? `link ${t.index + 1}` : `${t.node} on ${t.network}`);

/** Every impairment the file declares, with its target. */
export function declared(lab: Lab): { target: Target; netem: Netem }[] {
  const out: { target: Target; netem: Netem }[] = [];
  lab.links.forEach((l, index) => l.netem && out.push({ target: { kind: 'link', index }, netem: l.netem }));
  for (const n of lab.nodes) {
    if (n.mode.kind !== 'networks') continue;
    for (const a of n.mode.attach) if (a.netem) out.push({ target: { kind: 'attachment', node: n.key, network: a.network }, netem: a.netem });
  }
  return out;
}

/** The namespace and interface carrying each direction of a target. */
export async function sidesOf(lab: Lab, state: LabState, facts: Facts, t: Target): Promise<NetemSides> {
  if (t.kind === 'link') {
    const l = lab.links[t.index];
    return { aToB: { ns: nsOwner(lab, l.a.node).sandbox, dev: l.a.ifname }, bToA: { ns: nsOwner(lab, l.b.node).sandbox, dev: l.b.ifname } };
  }
  const sb = nsOwner(lab, t.node).sandbox;
  const dev = facts.nodes[t.node]?.ifaces.find((i) => i.network === t.network)?.ifname;
  if (!dev) throw new LabFailure(`netem: node ${t.node} has no interface on network ${t.network}`);
  // The veth's peer: its ifindex is the node side's link_index, in the lab host's namespace.
  const me = JSON.parse((await run('ip', ['-n', sb, '-j', 'link', 'show', 'dev', dev])).stdout) as { link_index?: number }[];
  const peer = me[0]?.link_index;
  // The host side lives where the node's netloomd runs: its host's namespace in a multi-host lab.
  const where = (lab.nodes.find((n) => n.key === nsOwner(lab, t.node).key)?.host && state.hosts?.[nsOwner(lab, t.node).host!]?.ns) || state.hostNs;
  const hostArgs = where ? ['-n', where] : [];
  const all = JSON.parse((await run('ip', [...hostArgs, '-j', 'link', 'show'])).stdout) as { ifindex: number; ifname: string }[];
  const host = all.find((l) => l.ifindex === peer);
  if (!host) throw new LabFailure(`netem: cannot find the host side of ${t.node}'s ${dev} (peer index ${peer ?? 'unknown'})`);
  return { aToB: { ns: sb, dev }, bToA: { ns: where, dev: host.ifname } };
}

/** Sets (or with no netem, clears) impairments: one `tc -batch` per namespace. */
export async function applyNetem(
  lab: Lab,
  state: LabState,
  facts: Facts,
  items: readonly { target: Target; netem?: Partial<Netem>; direction?: Direction }[],
): Promise<number> {
  const resolved = await Promise.all(items.map(async (it) => ({ ...it, sides: await sidesOf(lab, state, facts, it.target) })));
  const batches = tcBatches(resolved);
  for (const [ns, lines] of batches) {
    const nsArgs = ns ? ['-n', ns] : [];
    // -force: a `qdisc del` where no netem is set must not stop the rest of the batch.
    const r = await run('tc', [...nsArgs, '-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true });
    const errors = r.stderr
      .split('\n')
      .filter((l) => l.trim() && !/Cannot delete qdisc with handle of zero|No such file or directory|Command failed -:\d+$/.test(l));
    if (errors.some((l) => /qdisc kind is unknown/.test(l))) {
      throw new LabFailure(`this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem): impairments cannot be applied`);
    }
    if (r.exitCode !== 0 && errors.length) throw new LabFailure(`tc in ${ns || 'the lab host'} failed: ${errors[0].trim()} (batch: ${lines.join('; ')})`);
  }
  return [...batches.values()].reduce((s, l) => s + l.length, 0);
}
