// The reach probe's own machinery against real namespaces: the in-process ICMP prober
// (system/icmp-probe.ts, native/icmpprobe.c) answers what answers and nothing else (a firewall's
// drop, an address nobody has, another socket's replies in the same namespace, a namespace that
// is gone), its early stop still sees a reply that should not come; the neighbour seeds
// (system/neigh-table.ts) resolve through ARP, survive a flush of learnt entries and go exactly;
// and a lab with a node that has its own hostname (UTS namespace), a container-mode node and a
// node without networks gets the same table from the prober as from fping, a denied cell
// included.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sh, skipUnlessRoot } from '../helpers/host.js';
import { lab, labWith, machine } from '../helpers/lab.js';
import { echoFrom, icmpProberAvailable } from '../../system/icmp-probe.js';
import { flushLearntNeighbours, seedNeighbours, unseedNeighbours } from '../../system/neigh-table.js';

const [A, B, C] = ['nlrp-a', 'nlrp-b', 'nlrp-c'];
const named = (name: string) => ({ kind: 'named' as const, name });

async function must(cmd: string, ...args: string[]): Promise<string> {
  const r = await sh(cmd, args);
  assert.equal(r.exitCode, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** a (10.66.0.1) - b (10.66.0.2, 10.66.0.3) on one veth pair; a (10.67.0.1) - c (10.67.0.2), whose
 *  firewall drops every echo request. */
async function makeNamespaces(): Promise<void> {
  for (const ns of [A, B, C]) {
    await must('ip', 'netns', 'add', ns);
    await must('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  await must('ip', 'link', 'add', 'rpab', 'netns', A, 'type', 'veth', 'peer', 'name', 'rpba', 'netns', B);
  await must('ip', 'link', 'add', 'rpac', 'netns', A, 'type', 'veth', 'peer', 'name', 'rpca', 'netns', C);
  for (const [ns, dev, addrs] of [
    [A, 'rpab', ['10.66.0.1/24']],
    [B, 'rpba', ['10.66.0.2/24', '10.66.0.3/24']],
    [A, 'rpac', ['10.67.0.1/24']],
    [C, 'rpca', ['10.67.0.2/24']],
  ] as const) {
    for (const a of addrs) await must('ip', '-n', ns, 'addr', 'add', a, 'dev', dev);
    await must('ip', '-n', ns, 'link', 'set', dev, 'up');
  }
  await must('ip', 'netns', 'exec', C, 'iptables', '-w', '-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'DROP');
}

const answered = (r: Awaited<ReturnType<typeof echoFrom>>[number]): string[] => ('rtt' in r ? [...r.rtt.keys()].sort() : [`error: ${r.error}`]);

describe('the reach probe against real namespaces', { skip: skipUnlessRoot || (!icmpProberAvailable() && 'native/icmpprobe.node is not built') }, () => {
  let dir: string;
  let before0: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netloom-lab-reach-'));
    before0 = await machine();
    await makeNamespaces();
  });
  after(async () => {
    for (const ns of [A, B, C]) await sh('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(await machine(), before0);
  });

  test('the prober reports exactly what answered: a firewall drop, an address nobody has and a namespace that is gone are not answers', async () => {
    const res = await echoFrom(
      [
        {
          ns: named(A),
          targets: [
            { address: '10.66.0.2', group: 1 },
            { address: '10.67.0.2', group: 0 },
            { address: '10.66.0.9', group: 0 },
          ],
        },
        { ns: named(B), targets: [{ address: '10.66.0.1', group: 2 }] },
        { ns: named('nlrp-gone'), targets: [{ address: '10.66.0.1', group: 3 }] },
      ],
      { timeoutMs: 500 },
    );
    assert.deepEqual(answered(res[0]), ['10.66.0.2']);
    assert.deepEqual(answered(res[1]), ['10.66.0.1']);
    assert.match(answered(res[2])[0], /^error: cannot open an ICMP socket in namespace nlrp-gone: /);
    // The firewall did see the echo: the drop is what denied it, not a lost send.
    assert.match(await must('ip', 'netns', 'exec', C, 'iptables', '-w', '-nvL', 'INPUT'), /^\s*[1-9]\d*\s+\d+\s+DROP/m);
  });

  test('two sockets in one namespace each count only their own replies', async () => {
    const res = await echoFrom(
      [
        { ns: named(A), targets: [{ address: '10.66.0.2', group: 1 }] },
        { ns: named(A), targets: [{ address: '10.66.0.9', group: 0 }] },
      ],
      { timeoutMs: 300 },
    );
    assert.deepEqual(answered(res[0]), ['10.66.0.2']);
    assert.deepEqual(answered(res[1]), []);
  });

  test('stopping early once every expected answer came still catches an address that answers though not expected to', async () => {
    const res = await echoFrom(
      [
        {
          ns: named(A),
          targets: [
            { address: '10.66.0.2', group: 1 },
            { address: '10.66.0.3', group: 0 },
            { address: '10.67.0.2', group: 0 },
          ],
        },
      ],
      {
        timeoutMs: 1000,
        graceMs: 250,
      },
    );
    assert.deepEqual(answered(res[0]), ['10.66.0.2', '10.66.0.3']);
  });

  test('seeds: unresolved entries exempt from the limit, resolved by ARP, kept by a flush of learnt entries, removed exactly', async () => {
    // What the tests above learnt goes first (an entry already there is not one to seed).
    await flushLearntNeighbours(named(A));
    await must('ip', '-n', A, 'neigh', 'replace', '10.66.0.5', 'lladdr', '02:00:00:00:00:05', 'dev', 'rpab', 'nud', 'permanent');
    const seeded = seedNeighbours(named(A), ['10.66.0.2', '10.66.0.9', '10.66.0.5', '10.99.9.9', '10.67.0.2']);
    // Off-link (10.99.9.9) is skipped; one that already has an entry (10.66.0.5) is not ours.
    assert.deepEqual(seeded.map((s) => s.address).sort(), ['10.66.0.2', '10.66.0.9', '10.67.0.2']);
    const shown = await must('ip', '-n', A, 'neigh', 'show');
    for (const a of ['10.66.0.2', '10.66.0.9', '10.67.0.2']) assert.match(shown, new RegExp(`^${a.replace(/\./g, '\\.')} dev \\S+ .*extern_learn`, 'm'));
    // ARP still does the resolving: the seeded entry gets b's MAC from b's reply.
    const bMac = JSON.parse(await must('ip', '-n', B, '-j', 'link', 'show', 'rpba'))[0].address as string;
    await must('ip', 'netns', 'exec', A, 'ping', '-n', '-c1', '-W1', '10.66.0.2');
    assert.match(await must('ip', '-n', A, 'neigh', 'show', '10.66.0.2'), new RegExp(`lladdr ${bMac} extern_learn`));
    await flushLearntNeighbours(named(A));
    assert.match(await must('ip', '-n', A, 'neigh', 'show', '10.66.0.2'), /extern_learn/);
    unseedNeighbours(named(A), seeded);
    const left = await must('ip', '-n', A, 'neigh', 'show');
    assert.doesNotMatch(left, /extern_learn/);
    assert.match(left, /^10\.66\.0\.5 dev rpab lladdr 02:00:00:00:00:05 PERMANENT/m);
    await must('ip', '-n', A, 'neigh', 'del', '10.66.0.5', 'dev', 'rpab');
  });

  test('a lab with a hostname node, a container-mode node and a node without networks: the prober finds the same table as fping, a wrong expectation marked', async (t) => {
    const file = join(dir, 'reachns.loom.yaml');
    writeFileSync(
      file,
      [
        'name: reachns',
        'networks:',
        '  a: {subnet: 10.68.0.0/24}',
        '  b: {subnet: 10.69.0.0/24}',
        'nodes:',
        '  n1: {networks: [a], hostname: n1.example}',
        '  n2: {networks: [a, b]}',
        '  n3: {networks: [b]}',
        '  side: {network_mode: "container:n1"}',
        '  lonely: {network_mode: none}',
        'expect:',
        '  reach:',
        '    - {probe: icmp, nodes: [n1, n2, n3, side, lonely], allow: ["n1<->n2", "n2<->n3", "side<->n2", "n1<->side"]}',
        '    - {probe: icmp, nodes: [n1, n3], allow: ["n1->n3"]}',
        '',
      ].join('\n'),
    );
    const snapshot = await machine();
    try {
      const up = await lab('up', file);
      if (up.exitCode === 3 && /hostname/.test(up.stderr)) return t.skip('this netloomd does not apply hostname');
      assert.equal(up.exitCode, 0, up.stdout + up.stderr);
      // n1 has a UTS namespace of its own; side shares n1's network namespace.
      assert.match((await lab('exec', file, 'n1', '--', 'hostname')).stdout, /^n1(\.example)?$/m);
      const mine = await lab('check', file, '-v');
      const fping = await labWith({ NETLOOM_LAB_NO_ICMP_SOCKET: '1' }, 'check', file, '-v');
      assert.equal(mine.exitCode, 1, mine.stdout + mine.stderr);
      assert.match(mine.stdout, /reach icmp: 20 correct, 0 wrong/);
      assert.match(mine.stdout, /reach icmp: 1 correct, 1 wrong/);
      assert.match(mine.stdout, /X n1 -> n3: denied but should be reached \(tried 10\.69\.0\.\d+\): no shared network: n1 is on a, n3 on b/);
      assert.equal(mine.stdout, fping.stdout);
    } finally {
      const down = await lab('down', file);
      assert.equal(down.exitCode, 0, down.stdout + down.stderr);
    }
    assert.equal(await machine(), snapshot);
  });
});
