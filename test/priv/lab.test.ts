// netloom lab for real: every runnable example lab goes up, passes its checks and comes down
// leaving nothing; a broken expectation exits 1 with the right cell marked; a lab needing a
// setting netloomd does not apply exits 3; the picture renders (rsvg-convert) to a non-blank PNG.
// Each lab runs in its own host namespace with its own netloomd (the lab's isolation); the suite
// checks this namespace's links, routes, iptables and /run/netns are as before.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { execa } from 'execa';
import { sh, skipUnlessRoot, type Run } from '../helpers/host.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'bin', 'netloom.mjs');
const EXAMPLES = join(ROOT, 'examples');

function lab(...args: string[]): Promise<Run> {
  return execa(process.execPath, [CLI, 'lab', ...args], { reject: false, timeout: 120_000, env: { NETLOOM_NO_AUTOSTART: '1' } }).then((r) => ({
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  }));
}

/** Examples that need nothing netloomd lacks today (no `requires:`). */
function runnableExamples(): string[] {
  return readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.loom.yaml') && !/^requires:/m.test(readFileSync(join(EXAMPLES, f), 'utf8')))
    .sort();
}

async function machine(): Promise<string> {
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

/** Decodes an 8-bit RGBA/RGB PNG just enough to count pixels that differ from the first one. */
function nonBackgroundPixels(png: Buffer): number {
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.subarray(pos + 4, pos + 8).toString();
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      channels = data[9] === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  let first: string | undefined;
  let differing = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const add = [0, a, b, (a + b) >> 1, pr][filter];
      row[i] = (line[i] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const px = row.subarray(x * channels, x * channels + channels).toString('hex');
      first ??= px;
      if (px !== first) differing++;
    }
    row.copy(prev);
  }
  return differing;
}

describe('netloom lab', { skip: skipUnlessRoot }, () => {
  let dir: string;
  let before0: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netloom-lab-test-'));
    before0 = await machine();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const f of runnableExamples()) {
    test(`example ${f}: up, every expectation as expected (exit 0), down leaves nothing`, async () => {
      const r = await lab('run', join(EXAMPLES, f), '--junit', join(dir, `${f}.xml`));
      assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /: down, nothing of it left/);
      assert.doesNotMatch(r.stdout, /^ {2}[X?] /m);
      const junit = readFileSync(join(dir, `${f}.xml`), 'utf8');
      assert.match(junit, /<testsuites name="netloom lab [a-z0-9-]+" tests="[1-9]\d*" failures="0" errors="0">/);
      assert.equal(await machine(), before0);
    });
  }

  test('a broken expectation exits 1, marks the right cell and explains it; up is idempotent; down leaves nothing', async () => {
    // 03: n1 and n2 share mynet; here the file says they must not reach each other.
    const text = readFileSync(join(EXAMPLES, '03-user-defined.loom.yaml'), 'utf8').replace('allow: ["n1<->n2"]', 'allow: ["n2->n1"]');
    assert.notEqual(text, readFileSync(join(EXAMPLES, '03-user-defined.loom.yaml'), 'utf8'));
    const file = join(dir, 'broken.loom.yaml');
    writeFileSync(file, text);
    const up = await lab('up', file);
    assert.equal(up.exitCode, 0, up.stderr);
    const again = await lab('up', file);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /\[3\/7\] nodes +0 made, 3 already there/);
    const r = await lab('check', file, '--json', join(dir, 'broken.json'), '--tap');
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^not ok 1 - reach icmp: n1 -> n2 \(expected denied\)$/m);
    const text2 = await lab('check', file);
    assert.equal(text2.exitCode, 1);
    // Row n1, column n2 is the only X.
    const rows = text2.stdout.split('\n');
    const header = rows.findIndex((l) => /^ +n1 +n2 +c1$/.test(l));
    assert.deepEqual(rows.slice(header + 1, header + 4).map((l) => l.trim().split(/\s+/)), [['n1', '-', 'X', '.'], ['n2', '.', '-', '.'], ['c1', '.', '.', '-']]);
    assert.match(text2.stdout, /^ {2}X n1 -> n2: reached \(192\.168\.0\.10\) but should be denied: n1 and n2 share network mynet/m);
    assert.match(text2.stdout, /reach icmp: 5 correct, 1 wrong/);
    const json = JSON.parse(readFileSync(join(dir, 'broken.json'), 'utf8')) as { summary: { fail: number; exitCode: number } };
    assert.deepEqual([json.summary.fail, json.summary.exitCode], [1, 1]);
    const svg = join(dir, 'broken.svg');
    const g = await lab('graph', file, '--svg', svg);
    assert.equal(g.exitCode, 0, g.stderr);
    assert.match(readFileSync(svg, 'utf8'), /fill="#f8d0d0"/); // n1 and n2 red
    const png = join(dir, 'broken.png');
    const conv = await sh('rsvg-convert', ['-o', png, svg]);
    assert.equal(conv.exitCode, 0, conv.stderr);
    assert.ok(nonBackgroundPixels(readFileSync(png)) > 2000, 'the PNG is blank');
    const ls = await lab('ls');
    assert.match(ls.stdout, /^usernet +namespace nllab-usernet/m);
    const down = await lab('down', file);
    assert.equal(down.exitCode, 0, down.stderr);
    assert.equal(await machine(), before0);
  });

  test('a lab needing a setting this netloomd drops fails up with exit 3 naming it, and down cleans up', async () => {
    const file = join(dir, 'needs.loom.yaml');
    writeFileSync(file, 'name: needs\nnodes:\n  a: {hostname: a.example}\n  b: {links: [a]}\nexpect:\n  files:\n    - {node: b, path: /etc/hosts, contains: a}\n');
    const r = await lab('run', file);
    if (r.exitCode === 0) return; // netloomd applies hostname and links now: nothing to refuse
    assert.equal(r.exitCode, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /this netloomd does not apply hostname a\.example \(node a\); links \(a:a on node b\)/);
    assert.equal(await machine(), before0);
  });

  test('an invalid file exits 2 with FILE:LINE:COL and changes nothing; an empty expect exits 4', async () => {
    const bad = join(dir, 'bad.loom.yaml');
    writeFileSync(bad, 'name: bad\nnodes:\n  a: {networks: [nosuch]}\n');
    const r = await lab('up', bad);
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr.trim(), `${bad}:3:18: node a: no network "nosuch" (defined: bridge)`);
    const empty = join(dir, 'empty.loom.yaml');
    writeFileSync(empty, 'name: empty\nnodes:\n  a: {}\n');
    const e = await lab('run', empty);
    assert.equal(e.exitCode, 4, e.stdout + e.stderr);
    assert.match(e.stdout, /no expectations, nothing checked/);
    assert.equal(await machine(), before0);
  });
});
