// The picture of a lab: nodes are boxes, networks are buses, point-to-point links are lines, each
// attachment labelled with its interface and address; coloured by the last check (green as
// expected, red not, grey unchecked). Laid out by dagre, drawn as SVG or as a Mermaid flowchart.
// Pure: no Graphviz, no files.
import dagre from '@dagrejs/dagre';
import type { Facts } from './facts.js';
import { nsOwner, type Lab } from './model.js';
import type { CheckReport } from './report.js';

export type Colour = 'ok' | 'bad' | 'unchecked';

/** Each node's colour: red if any case involving it failed, green if some passed, else grey. */
export function nodeColours(lab: Lab, report?: CheckReport): Record<string, Colour> {
  const c: Record<string, Colour> = Object.fromEntries(lab.nodes.map((n) => [n.key, 'unchecked' as Colour]));
  for (const s of report?.suites ?? []) {
    for (const k of s.cases) {
      for (const n of k.nodes ?? []) {
        if (!(n in c)) continue;
        if (k.status !== 'pass') c[n] = 'bad';
        else if (c[n] === 'unchecked') c[n] = 'ok';
      }
    }
  }
  return c;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly kind: 'attach' | 'link' | 'shares';
}

const NET = (k: string): string => `net:${k}`;

function edges(lab: Lab, facts?: Facts): { edges: Edge[]; buses: string[] } {
  const out: Edge[] = [];
  const buses = new Set<string>();
  for (const n of lab.nodes) {
    const m = n.mode;
    if (m.kind === 'container') out.push({ from: n.key, to: m.target, label: 'shares netns', kind: 'shares' });
    else if (m.kind === 'host') {
      buses.add('host');
      out.push({ from: n.key, to: NET('host'), label: 'host stack', kind: 'attach' });
    } else if (m.kind === 'networks') {
      m.attach.forEach((a, i) => {
        buses.add(a.network);
        const live = facts?.nodes[n.key]?.ifaces.find((x) => x.network === a.network);
        const label = `${live?.ifname ?? `eth${i}`} ${live?.address ?? a.ip ?? '(dynamic)'}`;
        out.push({ from: n.key, to: NET(a.network), label, kind: 'attach' });
      });
    }
  }
  for (const l of lab.links) {
    out.push({ from: l.a.node, to: l.b.node, label: `${l.a.ifname} ${l.a.ip ?? ''} — ${l.b.ifname} ${l.b.ip ?? ''}`.replace(/\s+/g, ' '), kind: 'link' });
  }
  return { edges: out, buses: [...buses] };
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const textWidth = (s: string, size: number): number => [...s].length * size * 0.6;

const FILL: Record<Colour, string> = { ok: '#d9f2d9', bad: '#f8d0d0', unchecked: '#e6e6e6' };
const STROKE: Record<Colour, string> = { ok: '#2e8b2e', bad: '#c62828', unchecked: '#888888' };

function busLabel(lab: Lab, key: string, facts?: Facts): string {
  if (key === 'host') return 'host (the lab host namespace)';
  const n = lab.networks.find((x) => x.key === key);
  const subnet = facts?.networks[key]?.subnet ?? n?.subnet ?? '';
  const flags = [n?.internal ? 'internal' : '', n && !n.icc ? 'icc off' : ''].filter(Boolean).join(', ');
  return `${n?.name ?? key}${subnet ? ` ${subnet}` : ''}${flags ? ` (${flags})` : ''}`;
}

function subtitle(lab: Lab, key: string): string {
  const node = lab.nodes.find((n) => n.key === key);
  if (!node) return key;
  return node.mode.kind === 'networks'
    ? node.sandbox
    : `${node.sandbox} · ${node.mode.kind === 'container' ? `container:${nsOwner(lab, key).key}` : node.mode.kind}`;
}

export function renderSvg(lab: Lab, facts?: Facts, report?: CheckReport): string {
  const colours = nodeColours(lab, report);
  const { edges: es, buses } = edges(lab, facts);
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 70, edgesep: 20, marginx: 20, marginy: 50 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of lab.nodes) g.setNode(n.key, { width: Math.max(90, textWidth(subtitle(lab, n.key), 9) + 20), height: 44 });
  for (const b of buses) g.setNode(NET(b), { width: Math.max(220, textWidth(busLabel(lab, b, facts), 12) + 24), height: 16 });
  es.forEach((e, i) => g.setEdge(e.from, e.to, { label: e.label, width: textWidth(e.label, 10) + 8, height: 14, labelpos: 'c' }, `e${i}`));
  dagre.layout(g);
  const gg = g.graph();
  // dagre's margins: 50 above (room for the title), 20 at the sides; 15 are enough below.
  const W = Math.ceil(Math.max(gg.width ?? 400, textWidth('green: as expected · red: not · grey: unchecked', 10) + 32));
  const H = Math.ceil((gg.height ?? 300) - 35);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="bold">lab ${esc(lab.name)}${report ? '' : ' (not checked)'}</text>`,
    `<text x="16" y="40" font-size="10" fill="#555">green: as expected · red: not · grey: unchecked</text>`,
  ];
  es.forEach((e, i) => {
    const ed = g.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points: { x: number; y: number }[]; x: number; y: number };
    const pts = ed.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const style =
      e.kind === 'link'
        ? 'stroke="#1f5fbf" stroke-width="2.5"'
        : e.kind === 'shares'
          ? 'stroke="#777" stroke-dasharray="5,4"'
          : 'stroke="#444" stroke-width="1.5"';
    parts.push(`<polyline points="${pts}" fill="none" ${style}/>`);
    const w = textWidth(e.label, 10) + 6;
    parts.push(`<rect x="${(ed.x - w / 2).toFixed(1)}" y="${(ed.y - 8).toFixed(1)}" width="${w.toFixed(1)}" height="14" fill="#ffffff" opacity="0.9"/>`);
    parts.push(`<text x="${ed.x.toFixed(1)}" y="${(ed.y + 3).toFixed(1)}" font-size="10" text-anchor="middle" fill="#222">${esc(e.label)}</text>`);
  });
  for (const b of buses) {
    const n = g.node(NET(b));
    parts.push(
      `<rect x="${(n.x - n.width / 2).toFixed(1)}" y="${(n.y - n.height / 2).toFixed(1)}" width="${n.width.toFixed(1)}" height="${n.height}" rx="3" fill="#37474f"/>`,
    );
    parts.push(
      `<text x="${n.x.toFixed(1)}" y="${(n.y + 4).toFixed(1)}" font-size="11" text-anchor="middle" fill="#ffffff">${esc(busLabel(lab, b, facts))}</text>`,
    );
  }
  for (const node of lab.nodes) {
    const n = g.node(node.key);
    const c = colours[node.key];
    const sub = subtitle(lab, node.key);
    parts.push(
      `<rect x="${(n.x - n.width / 2).toFixed(1)}" y="${(n.y - n.height / 2).toFixed(1)}" width="${n.width.toFixed(1)}" height="${n.height}" rx="6" fill="${FILL[c]}" stroke="${STROKE[c]}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${n.x.toFixed(1)}" y="${(n.y - 3).toFixed(1)}" font-size="13" font-weight="bold" text-anchor="middle">${esc(node.key)}</text>`);
    parts.push(`<text x="${n.x.toFixed(1)}" y="${(n.y + 12).toFixed(1)}" font-size="9" text-anchor="middle" fill="#444">${esc(sub)}</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const mid = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_');

/** The same picture as a Mermaid flowchart, for Markdown. */
export function renderMermaid(lab: Lab, facts?: Facts, report?: CheckReport): string {
  const colours = nodeColours(lab, report);
  const { edges: es, buses } = edges(lab, facts);
  const lines = ['flowchart TB'];
  for (const b of buses) lines.push(`  ${mid(NET(b))}[["${busLabel(lab, b, facts).replace(/"/g, "'")}"]]`);
  for (const n of lab.nodes) lines.push(`  ${mid(n.key)}("${n.key}<br/>${n.sandbox}"):::${colours[n.key]}`);
  for (const e of es) {
    const arrow = e.kind === 'shares' ? '-.->' : e.kind === 'link' ? '===' : '---';
    lines.push(`  ${mid(e.from)} ${arrow}|"${e.label.replace(/"/g, "'")}"| ${mid(e.to)}`);
  }
  lines.push(
    `  classDef ok fill:${FILL.ok},stroke:${STROKE.ok}`,
    `  classDef bad fill:${FILL.bad},stroke:${STROKE.bad}`,
    `  classDef unchecked fill:${FILL.unchecked},stroke:${STROKE.unchecked}`,
  );
  return `${lines.join('\n')}\n`;
}
