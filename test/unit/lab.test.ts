// The lab's pure core: the topology file (YAML + the shipped JSON Schema + references, errors at
// FILE:LINE:COL), the truth table, the reports (JUnit, TAP, JSON), exit codes, the request plan,
// explanations and the picture.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { explainReach } from '../../lab/explain.js';
import type { Facts } from '../../lab/facts.js';
import { renderMermaid, renderSvg, nodeColours } from '../../lab/graph.js';
import { checkCount, requirementsOf } from '../../lab/model.js';
import { connectBodies, creationLevels, creationOrder, networkBody, sandboxBody } from '../../lab/plan.js';
import { exitCode, reachSuite, renderJUnit, renderJson, renderTap, renderText, type CheckReport } from '../../lab/report.js';
import { LabFileError, parseLab } from '../../lab/topology.js';
import { allowed, expectedPairs, renderTable, summaryLine, type ReachResult } from '../../lab/truth.js';

const FULL = `name: usernet
daemon: {icc: true}
networks:
  mynet: {driver: bridge, subnet: 192.168.0.0/16, gateway: 192.168.0.1, internal: false, icc: true, options: {}}
nodes:
  n01:
    networks: {mynet: {ip: 192.168.0.10, aliases: [www]}}
    ports: ["8080:80", "127.0.0.1::6000/udp"]
    serve: [tcp/80, udp/6000]
    exec: ["ip link set lo mtu 1500"]
  n02: {networks: [mynet, bridge]}
  t01: {network_mode: "container:n01"}
  t02: {network_mode: none, hostname: t02.example, dns: [10.0.0.53], dns_search: [example], links: [n01], add_hosts: ["db:10.0.0.9"]}
links:
  - {a: "n02:p0", b: "t02:p0", a_ip: 10.1.1.1/30, b_ip: 10.1.1.2/30}
expect:
  reach:
    - {probe: icmp, nodes: [n01, n02, t01, t02], allow: ["n01<->n02", "t01->*"]}
  dns:
    - {from: n02, name: n01, type: A, answer: [192.168.0.10]}
  ports:
    - {from: host, to: "n01:6000/udp", open: true}
  files:
    - {node: t02, path: /etc/hosts, contains: n01}
  commands:
    - {node: n01, run: hostname, stdout: n01}
`;

function fails(text: string): LabFileError {
  try {
    parseLab(text, 'lab.loom.yaml');
  } catch (err) {
    assert.ok(err instanceof LabFileError, `expected a LabFileError, got ${String(err)}`);
    return err;
  }
  assert.fail('the file was accepted');
}

describe('topology file', () => {
  test('the full example of the issue parses into sandboxes <lab>-<node> and networks <lab>-<net>', () => {
    const lab = parseLab(FULL, 'lab.loom.yaml');
    assert.deepEqual(
      lab.nodes.map((n) => n.sandbox),
      ['usernet-n01', 'usernet-n02', 'usernet-t01', 'usernet-t02'],
    );
    assert.deepEqual(
      lab.networks.map((n) => n.name),
      ['bridge', 'usernet-mynet'],
    );
    const n01 = lab.nodes[0];
    assert.equal(n01.mode.kind, 'networks');
    // The node's name is an alias on every user-defined network; none on the default bridge.
    assert.deepEqual(n01.mode.kind === 'networks' && n01.mode.attach, [{ network: 'mynet', ip: '192.168.0.10', aliases: ['n01', 'www'] }]);
    const n02 = lab.nodes[1];
    assert.deepEqual(n02.mode.kind === 'networks' && n02.mode.attach.map((a) => a.aliases), [['n02'], []]);
    assert.deepEqual(lab.nodes[2].mode, { kind: 'container', target: 'n01' });
    assert.deepEqual(lab.nodes[3].links, ['usernet-n01:n01']);
    assert.deepEqual(requirementsOf(lab), ['add_hosts', 'daemon', 'dns', 'hostname', 'links']);
    assert.equal(checkCount(lab.expect), 12 + 4);
  });

  const bad: [string, string, RegExp][] = [
    ['a bad lab name', 'name: Usernet\nnodes: {a: {}}\n', /^lab\.loom\.yaml:1:7: name must be \[a-z0-9-\]/],
    ['a name too long', `name: ${'a'.repeat(21)}\nnodes: {a: {}}\n`, /^lab\.loom\.yaml:1:7: name must be/],
    ['an unknown key, pointing at the key', 'name: x\nnodes:\n  a:\n    netwrks: [foo]\n', /^lab\.loom\.yaml:4:5: unknown key "netwrks" in nodes\.a$/],
    ['an unknown network', 'name: x\nnodes:\n  a: {networks: [foo]}\n', /^lab\.loom\.yaml:3:18: node a: no network "foo" \(defined: bridge\)$/],
    ['a bad network mode', 'name: x\nnodes:\n  a: {network_mode: hst}\n', /:3:21: nodes\.a\.network_mode must be host, none or container:NODE$/],
    ['container: naming no node', 'name: x\nnodes:\n  a: {network_mode: "container:b"}\n', /:3:21: node a: network_mode container:b names no node/],
    ['a container circle', 'name: x\nnodes:\n  a: {network_mode: "container:b"}\n  b: {network_mode: "container:a"}\n', /goes round in a circle/],
    ['networks and network_mode both', 'name: x\nnodes:\n  a: {networks: [bridge], network_mode: none}\n', /takes networks or network_mode, not both/],
    ['an expectation naming no node', 'name: x\nnodes: {a: {}}\nexpect:\n  reach:\n    - {probe: icmp, nodes: [a, b]}\n', /:5:32: no node "b" \(nodes: a\)$/],
    [
      'an allow pattern outside the block',
      'name: x\nnodes: {a: {}, b: {}, c: {}}\nexpect:\n  reach:\n    - {probe: icmp, nodes: [a, b], allow: ["a->c"]}\n',
      /allow "a->c": c is not in this block's nodes/,
    ],
    [
      'a bad probe',
      'name: x\nnodes: {a: {}, b: {}}\nexpect:\n  reach:\n    - {probe: http, nodes: [a, b]}\n',
      /:5:15: expect\.reach\.0\.probe must be icmp, tcp\/PORT or udp\/PORT$/,
    ],
    ['a bad address', 'name: x\nnodes:\n  a: {networks: {bridge: {ip: 1.2.3}}}\n', /:3:31: nodes\.a\.networks\.bridge\.ip must be an IPv4 address/],
    ['aliases on the default bridge', 'name: x\nnodes:\n  a: {networks: {bridge: {aliases: [w]}}}\n', /the default bridge has no DNS/],
    ['a link to itself', 'name: x\nnodes: {a: {}}\nlinks:\n  - {a: "a:p0", b: "a:p1"}\n', /both ends are on node a/],
    ['broken YAML', 'name: x\nnodes: [\n', /^lab\.loom\.yaml:\d+:\d+: invalid YAML: /],
    ['a duplicate key', 'name: x\nname: y\nnodes: {a: {}}\n', /invalid YAML: .*unique/i],
    ['an empty file', '', /^lab\.loom\.yaml:1:1: the file is empty/],
    ['no nodes', 'name: x\n', /the file needs "nodes"/],
  ];
  for (const [what, text, re] of bad) {
    test(`refuses ${what}, naming file, line and column`, () => {
      const e = fails(text);
      assert.match(e.message, re);
      assert.equal(e.message.split('\n').length, 1);
      assert.ok(e.line >= 1 && e.col >= 1);
    });
  }

  test('every example lab in examples/ is valid against the schema', () => {
    const dir = join(process.cwd(), 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.loom.yaml'));
    assert.ok(files.length >= 8, `only ${files.length} examples`);
    for (const f of files) assert.doesNotThrow(() => parseLab(readFileSync(join(dir, f), 'utf8'), f), f);
  });
});

describe('truth table', () => {
  test('allow patterns: a->b one way, a<->b both, * on either side', () => {
    assert.equal(allowed(['a->b'], 'a', 'b'), true);
    assert.equal(allowed(['a->b'], 'b', 'a'), false);
    assert.equal(allowed(['a<->b'], 'b', 'a'), true);
    assert.equal(allowed(['a->*'], 'a', 'z'), true);
    assert.equal(allowed(['*->b'], 'z', 'b'), true);
    assert.equal(allowed(['*->b'], 'b', 'z'), false);
    assert.equal(allowed([], 'a', 'b'), false);
  });

  test('every ordered pair but the diagonal is expected, denied unless allowed (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 2 }),
        fc.array(fc.tuple(fc.constantFrom('*', 'a', 'b', 'c'), fc.constantFrom('->', '<->'), fc.constantFrom('*', 'b', 'c', 'd'))),
        (nodes, pats) => {
          const allow = pats.map(([l, arrow, r]) => `${l}${arrow}${r}`);
          const pairs = expectedPairs({ nodes, allow });
          assert.equal(pairs.length, nodes.length * (nodes.length - 1));
          for (const p of pairs) {
            assert.notEqual(p.from, p.to);
            const direct = pats.some(([l, , r]) => (l === '*' || l === p.from) && (r === '*' || r === p.to));
            const back = pats.some(([l, arrow, r]) => arrow === '<->' && (l === '*' || l === p.to) && (r === '*' || r === p.from));
            assert.equal(p.expected, direct || back);
          }
        },
      ),
    );
  });

  const result: ReachResult = {
    probe: 'icmp',
    nodes: ['a', 'b', 'c'],
    cells: [
      { from: 'a', to: 'b', expected: true, actual: true, answered: ['10.0.0.3'], tried: ['10.0.0.3'] },
      { from: 'a', to: 'c', expected: false, actual: false, answered: [], tried: ['10.1.0.2'] },
      { from: 'b', to: 'a', expected: true, actual: true, answered: ['10.0.0.2'], tried: ['10.0.0.2'] },
      { from: 'b', to: 'c', expected: false, actual: true, answered: ['10.1.0.2'], tried: ['10.1.0.2'], why: 'b and c share network back' },
      { from: 'c', to: 'a', expected: true, actual: false, answered: [], tried: ['10.0.0.2'], why: 'no shared network' },
      { from: 'c', to: 'b', expected: false, actual: undefined, answered: [], tried: [], error: 'ping: exec failed' },
    ],
  };

  test('renders . as expected, X not, ? unprobed, - on the diagonal, and a summary line', () => {
    assert.equal(
      renderTable(result),
      [
        'reach icmp (rows from, columns to; . as expected, X not as expected)',
        '       a   b   c',
        'a      -   .   .',
        'b      .   -   X',
        'c      X   ?   -',
      ].join('\n'),
    );
    assert.equal(summaryLine(result), 'reach icmp: 3 correct, 2 wrong, 1 not probed');
  });

  test('verbose shows the actual outcome with ✓/✗ and marks the wrong cells', () => {
    const rows = renderTable(result, true).split('\n');
    assert.equal(rows[2], 'a      -   ✓   ✗');
    assert.equal(rows[3], 'b      ✓   -  ✓X');
    assert.equal(rows[4], 'c     ✗X   ?   -');
  });

  test('the text report explains each mismatch in one line', () => {
    const text = renderText({ lab: 'x', file: 'x.loom.yaml', suites: [reachSuite(result)] });
    assert.match(text, /^ {2}X b -> c: reached \(10\.1\.0\.2\) but should be denied: b and c share network back$/m);
    assert.match(text, /^ {2}X c -> a: denied but should be reached \(tried 10\.0\.0\.2\): no shared network$/m);
    assert.match(text, /^ {2}\? c -> b: not probed: ping: exec failed$/m);
  });
});

describe('reports and exit codes', () => {
  const rep = (statuses: ('pass' | 'fail' | 'error')[]): CheckReport => ({
    lab: 'x',
    file: 'x.loom.yaml',
    suites: statuses.length
      ? [
          {
            kind: 'files',
            name: 'files',
            cases: statuses.map((status, i) => ({ name: `case <${i}> & "q"`, status, ...(status === 'pass' ? {} : { message: `bad ${i} <here>` }) })),
          },
        ]
      : [],
  });

  test('exit 0 all as expected, 1 a mismatch, 3 a check that could not run, 4 nothing checked', () => {
    assert.equal(exitCode(rep(['pass', 'pass'])), 0);
    assert.equal(exitCode(rep(['pass', 'fail'])), 1);
    assert.equal(exitCode(rep(['fail', 'error'])), 3);
    assert.equal(exitCode(rep([])), 4);
  });

  test('JUnit: one testsuite per block, one testcase per case, failures and errors with messages, escaped', () => {
    const x = renderJUnit(rep(['pass', 'fail', 'error']));
    assert.match(x, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="netloom lab x" tests="3" failures="1" errors="1">/);
    assert.match(x, /<testsuite name="files" tests="3" failures="1" errors="1">/);
    assert.match(x, /<testcase classname="x.files" name="case &lt;0&gt; &amp; &quot;q&quot;"\/>/);
    assert.match(x, /<failure message="bad 1 &lt;here&gt;">bad 1 &lt;here&gt;<\/failure>/);
    assert.match(x, /<error message="bad 2 &lt;here&gt;">/);
    assert.equal((x.match(/<testcase /g) ?? []).length, 3);
    // Well-formed enough: every opened element is closed.
    for (const tag of ['testsuites', 'testsuite'])
      assert.equal((x.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length, (x.match(new RegExp(`</${tag}>`, 'g')) ?? []).length);
  });

  test('JUnit of a reach block has a testcase per cell, the wrong ones failed with the reason', () => {
    const r: ReachResult = {
      probe: 'tcp/80',
      nodes: ['a', 'b'],
      cells: [
        { from: 'a', to: 'b', expected: true, actual: false, answered: [], tried: ['10.0.0.3'], why: 'nothing serves tcp/80 in b' },
        { from: 'b', to: 'a', expected: false, actual: false, answered: [], tried: ['10.0.0.2'] },
      ],
    };
    const x = renderJUnit({ lab: 'l', file: 'f', suites: [reachSuite(r)] });
    assert.match(x, /<testsuite name="reach tcp\/80" tests="2" failures="1" errors="0">/);
    assert.match(x, /name="a -&gt; b \(expected reached\)">\n {6}<failure message="denied \(tried 10\.0\.0\.3\): nothing serves tcp\/80 in b">/);
    assert.match(x, /name="b -&gt; a \(expected denied\)"\/>/);
  });

  test('TAP numbers every case and JSON carries the summary and exit code', () => {
    const t = renderTap(rep(['pass', 'fail']));
    assert.match(t, /^TAP version 13\n1\.\.2\nok 1 - files: case <0> & "q"\nnot ok 2 - files: case <1> & "q"\n {2}---\n {2}status: fail\n/);
    const j = JSON.parse(renderJson(rep(['pass', 'fail']))) as { summary: { exitCode: number; fail: number } };
    assert.deepEqual([j.summary.exitCode, j.summary.fail], [1, 1]);
  });
});

describe('plan, explanations and picture', () => {
  const lab = parseLab(FULL, 'lab.loom.yaml');

  test('requests: the lab network by its prefixed name, a sandbox per node with its first network, connects for the rest', () => {
    assert.deepEqual(networkBody(lab.networks[1]), {
      Name: 'usernet-mynet',
      Driver: 'bridge',
      Internal: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: '192.168.0.0/16', Gateway: '192.168.0.1' }] },
      Options: { 'com.docker.network.bridge.enable_icc': 'true' },
      Labels: { 'netloom.lab': 'usernet' },
    });
    const n01 = sandboxBody(lab, lab.nodes[0]);
    assert.equal(n01.Network, 'usernet-mynet');
    assert.deepEqual(n01.EndpointConfig, { IPAMConfig: { IPv4Address: '192.168.0.10' }, Aliases: ['n01', 'www'], Publish: ['8080:80', '127.0.0.1::6000/udp'] });
    assert.deepEqual(connectBodies(lab, lab.nodes[1]), [
      { network: 'bridge', body: { Container: 'usernet-n02', EndpointConfig: { IPAMConfig: {}, Aliases: [] } } },
    ]);
    assert.equal(sandboxBody(lab, lab.nodes[2]).Network, 'container:usernet-n01');
    const t02 = sandboxBody(lab, lab.nodes[3]);
    assert.deepEqual(
      [t02.Network, t02.Hostname, t02.Links, t02.ExtraHosts, t02.Dns],
      ['none', 't02.example', ['usernet-n01:n01'], ['db:10.0.0.9'], ['10.0.0.53']],
    );
  });

  test('a container-mode node is created after the node it shares', () => {
    const l = parseLab('name: x\nnodes:\n  a: {network_mode: "container:b"}\n  b: {}\n', 'f');
    assert.deepEqual(
      creationOrder(l).map((n) => n.key),
      ['b', 'a'],
    );
  });

  test('creation levels: nodes with their own namespace first (made at once), then each container-mode level after its target', () => {
    const l = parseLab('name: x\nnodes:\n  a: {network_mode: "container:b"}\n  b: {}\n  c: {network_mode: "container:a"}\n  d: {}\n', 'f');
    assert.deepEqual(
      creationLevels(l).map((level) => level.map((n) => n.key)),
      [['b', 'd'], ['a'], ['c']],
    );
    assert.deepEqual(
      creationLevels(l)
        .flat()
        .map((n) => n.key)
        .sort(),
      ['a', 'b', 'c', 'd'],
    );
  });

  const facts: Facts = {
    nodes: {
      a: { key: 'a', ifaces: [{ ifname: 'eth0', network: 'front', address: '10.0.0.2/24' }], ports: [] },
      b: { key: 'b', ifaces: [{ ifname: 'eth0', network: 'back', address: '10.1.0.2/24' }], ports: [] },
      c: { key: 'c', ifaces: [{ ifname: 'eth0', network: 'quiet', address: '10.2.0.2/24' }], ports: [] },
      d: { key: 'd', ifaces: [{ ifname: 'eth0', network: 'quiet', address: '10.2.0.3/24' }], ports: [] },
    },
    networks: {},
  };
  const iso = parseLab(
    'name: x\nnetworks: {front: {}, back: {internal: true}, quiet: {icc: false}}\nnodes:\n  a: {networks: [front]}\n  b: {networks: [back]}\n  c: {networks: [quiet]}\n  d: {networks: [quiet]}\n  e: {network_mode: none}\n',
    'f',
  );

  test('a denied pair is explained: no shared network, ICC off, none mode, nothing served', () => {
    assert.equal(explainReach(iso, facts, { kind: 'icmp' }, 'a', 'b', false, ['10.1.0.2']), 'no shared network: a is on front, b on back (back internal)');
    assert.equal(explainReach(iso, facts, { kind: 'icmp' }, 'c', 'd', false, ['10.2.0.3']), 'network quiet has ICC off: only linked pairs pass');
    assert.equal(explainReach(iso, facts, { kind: 'icmp' }, 'e', 'a', false, ['10.0.0.2']), 'e has network_mode none: only lo');
    assert.equal(
      explainReach(iso, facts, { kind: 'tcp', port: 80 }, 'c', 'd', false, ['10.2.0.3']),
      "nothing serves tcp/80 in d (add it to the node's serve:)",
    );
  });

  test('the SVG has a box per node, a bus per network, labelled attachments, coloured by the report', () => {
    const report: CheckReport = {
      lab: 'usernet',
      file: 'f',
      suites: [
        {
          kind: 'files',
          name: 'files',
          cases: [
            { name: 'x', status: 'pass', nodes: ['n01'] },
            { name: 'y', status: 'fail', nodes: ['n02'] },
          ],
        },
      ],
    };
    assert.deepEqual(nodeColours(lab, report), { n01: 'ok', n02: 'bad', t01: 'unchecked', t02: 'unchecked' });
    const svg = renderSvg(lab, undefined, report);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+"/);
    assert.match(svg, />eth0 192\.168\.0\.10</);
    assert.match(svg, />usernet-mynet 192\.168\.0\.0\/16</);
    assert.match(svg, />p0 10\.1\.1\.1\/30 — p0 10\.1\.1\.2\/30</);
    assert.match(svg, /fill="#d9f2d9" stroke="#2e8b2e"/);
    assert.match(svg, /fill="#f8d0d0" stroke="#c62828"/);
    assert.doesNotMatch(svg, /NaN|undefined/);
    const m = renderMermaid(lab, undefined, report);
    assert.match(m, /^flowchart TB\n/);
    assert.match(m, /n01 ---\|"eth0 192\.168\.0\.10"\| net_mynet/);
    assert.match(m, /t01 -\.->\|"shares netns"\| n01/);
    assert.match(m, /n02\("n02<br\/>usernet-n02"\):::bad/);
  });
});
