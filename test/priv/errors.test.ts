// Bad input: a non-zero exit, one line naming the bad value, and nothing changed, in the
// store (what the API reports) and in the kernel.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, skipUnlessRoot } from '../helpers/host.js';

describe('bad input changes nothing (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let web: string;
  before(async () => {
    h = await TestHost.create();
    await h.start();
    web = h.sb('web');
    await h.ok('network', 'create', '--subnet', '10.50.0.0/24', 'front');
    await h.ok('network', 'create', '--subnet', '10.51.0.0/30', 'tiny');
    await h.ok('sandbox', 'create', '--network', 'front', '--ip', '10.50.0.10', web);
    await h.ok('sandbox', 'create', '--network', 'tiny', h.sb('fill'));
    await h.ok('network', 'create', '--subnet', '10.52.0.0/24', 'other');
    await h.ok('sandbox', 'create', '--network', 'other', h.sb('spare'));
  });
  after(async () => h?.cleanup());

  const state = (): Promise<unknown> => h.everything('front', 'tiny');

  const cases: [string, string[], RegExp][] = [
    ['invalid CIDR', ['network', 'create', '--subnet', '10.94.999.0/24', 'bad'], /10\.94\.999\.0\/24/],
    ['gateway outside the subnet', ['network', 'create', '--subnet', '10.60.0.0/24', '--gateway', '10.61.0.1', 'bad'], /10\.61\.0\.1/],
    ['overlapping subnet', ['network', 'create', '--subnet', '10.50.0.128/25', 'bad'], /overlaps network "front"/],
    ['duplicate network name', ['network', 'create', '--subnet', '10.62.0.0/24', 'front'], /front already exists/],
    ['unknown driver', ['network', 'create', '-d', 'warp', 'bad'], /unknown driver "warp"/],
    ['bad inhibit_ipv4', ['network', 'create', '-o', 'com.docker.network.bridge.inhibit_ipv4=maybe', 'bad'], /"maybe"/],
    ['bad container_iface_prefix', ['network', 'create', '-o', 'com.docker.network.container_iface_prefix=a/b', 'bad'], /"a\/b"/],
    ['bad MTU', ['network', 'create', '-o', 'com.docker.network.driver.mtu=abc', 'bad'], /invalid MTU "abc"/],
    ['duplicate sandbox name', ['sandbox', 'create', '--network', 'none', 'PLACEHOLDER_WEB'], /already exists/],
    ['unknown network on connect', ['network', 'connect', 'nosuch', 'PLACEHOLDER_SPARE'], /network nosuch not found/],
    ['unknown sandbox on connect', ['network', 'connect', 'front', 'ghost'], /no such sandbox: ghost/],
    ['address in use', ['network', 'connect', '--ip', '10.50.0.10', 'front', 'PLACEHOLDER_SPARE'], /10\.50\.0\.10/],
    ['address outside the subnet', ['network', 'connect', '--ip', '10.99.0.5', 'front', 'PLACEHOLDER_SPARE'], /10\.99\.0\.5/],
    ['exhausted pool', ['sandbox', 'create', '--network', 'tiny', 'PLACEHOLDER_NEW'], /no free address/],
    ['rm of a network with live endpoints', ['network', 'rm', 'front'], /active endpoints \(PLACEHOLDER_WEB\)/],
    ['rm of a predefined network', ['network', 'rm', 'bridge'], /pre-defined/],
    ['unknown flag', ['network', 'create', '--colour', 'red', 'bad'], /--colour/],
  ];

  for (const [what, args, msg] of cases) {
    it(`${what}: exit non-zero, one line naming the value, nothing changed`, async () => {
      const fill = (s: string): string => s.replace('PLACEHOLDER_WEB', web).replace('PLACEHOLDER_SPARE', h.sb('spare')).replace('PLACEHOLDER_NEW', h.sb('new'));
      const before = await state();
      const r = await h.cli(...args.map(fill));
      assert.notEqual(r.exitCode, 0, `expected failure, got: ${r.stdout}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
      assert.match(lines[0], new RegExp(fill(msg.source)));
      assert.deepEqual(await state(), before);
    });
  }
});
