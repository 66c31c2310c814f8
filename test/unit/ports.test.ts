// --publish: parsing (common/ports.ts), the clash rules, and the controller's all-or-nothing
// resolution against netloom's own bindings and the host's bound sockets (system/fake).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { bindingsClash, bindingSummary, describeBinding, parsePublish, type PortBinding } from '../../common/ports.js';
import { Controller } from '../../controller/index.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem } from '../../system/fake/index.js';

describe('parsePublish', () => {
  const ok: [string, object][] = [
    ['80', { proto: 'tcp', hostIP: '', containerPort: 80, containerPortEnd: 80 }],
    ['8080:80', { proto: 'tcp', hostIP: '', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80 }],
    ['127.0.0.1:8080:80/udp', { proto: 'udp', hostIP: '127.0.0.1', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80 }],
    ['127.0.0.1::80', { proto: 'tcp', hostIP: '127.0.0.1', containerPort: 80, containerPortEnd: 80 }],
    ['[2001:DB8::1]:8443:443', { proto: 'tcp', hostIP: '2001:db8::1', hostPort: 8443, hostPortEnd: 8443, containerPort: 443, containerPortEnd: 443 }],
    ['8000-8009:9000-9009', { proto: 'tcp', hostIP: '', hostPort: 8000, hostPortEnd: 8009, containerPort: 9000, containerPortEnd: 9009 }],
    ['8000-8009:80', { proto: 'tcp', hostIP: '', hostPort: 8000, hostPortEnd: 8009, containerPort: 80, containerPortEnd: 80 }],
    ['0:80/TCP', { proto: 'tcp', hostIP: '', containerPort: 80, containerPortEnd: 80 }],
  ];
  for (const [spec, want] of ok) test(`"${spec}"`, () => assert.deepEqual(parsePublish(spec), want));

  const bad: [string, RegExp][] = [
    ['0', /container port 0 is out of range 1-65535/],
    ['70000', /container port 70000 is out of range/],
    ['8080:65536', /65536 is out of range/],
    ['90-80', /range 90-80 is reversed/],
    ['8080:80/sctp', /unknown protocol "sctp": expected tcp or udp/],
    ['1.2.3:8080:80', /host address "1.2.3" is not an IPv4 address/],
    ['[fe80::zz]:80:80', /"fe80::zz" is not an IPv6 address/],
    ['8000-8002:80-81', /\(3\) and container ports 80-81 \(2\) differ in length/],
    ['web:80', /host port "web" is not a number/],
    ['', /container port "" is not a number|expected/],
    ['1:2:3:4', /expected \[hostIP:\]\[hostPort:\]containerPort/],
  ];
  for (const [spec, re] of bad) {
    test(`"${spec}" is refused in one line naming it`, () => {
      assert.throws(
        () => parsePublish(spec),
        (e: unknown) => {
          assert.ok(e instanceof NetloomError);
          assert.equal(e.code, 'NL_BAD_PUBLISH');
          assert.ok(e.message.includes(`"${spec}"`), e.message);
          assert.match(e.message, re);
          assert.doesNotMatch(e.message, /\n/);
          return true;
        },
      );
    });
  }

  test('any string: parses or throws NL_BAD_PUBLISH, never anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9.:\[\]a-f\/-]{0,20}$/)), (s) => {
        try {
          const p = parsePublish(s);
          assert.ok(p.containerPort >= 1 && p.containerPortEnd <= 65535 && p.containerPort <= p.containerPortEnd);
        } catch (e) {
          assert.ok(e instanceof NetloomError && e.code === 'NL_BAD_PUBLISH', String(e));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('binding clashes and display', () => {
  const b = (over: Partial<PortBinding>): PortBinding => ({ proto: 'tcp', hostIP: '', hostPort: 8080, containerPort: 80, count: 1, ...over });
  test('same protocol, overlapping ports and addresses that meet', () => {
    assert.ok(bindingsClash(b({}), b({ hostIP: '127.0.0.1' })));
    assert.ok(bindingsClash(b({ hostIP: '0.0.0.0' }), b({ hostIP: '10.0.0.1' })));
    assert.ok(!bindingsClash(b({ hostIP: '0.0.0.0' }), b({ hostIP: '::' })));
    assert.ok(!bindingsClash(b({ hostIP: '127.0.0.1' }), b({ hostIP: '127.0.0.2' })));
    assert.ok(!bindingsClash(b({}), b({ proto: 'udp' })));
    assert.ok(bindingsClash(b({ hostPort: 8000, count: 100 }), b({ hostPort: 8099 })));
    assert.ok(!bindingsClash(b({ hostPort: 8000, count: 100 }), b({ hostPort: 8100 })));
  });
  test('docker port and docker ps spellings', () => {
    assert.deepEqual(describeBinding(b({})), ['80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080']);
    assert.deepEqual(describeBinding(b({ hostIP: '::1', count: 2 })), ['80/tcp -> [::1]:8080', '81/tcp -> [::1]:8081']);
    assert.equal(bindingSummary(b({ hostIP: '127.0.0.1', count: 10 })), '127.0.0.1:8080-8089->80-89/tcp');
  });
});

describe('controller: publishing', () => {
  async function world() {
    const sys = createFakeSystem();
    const store = new MemoryStore();
    const ctl = new Controller({ store, sys, log: silentLogger });
    await ctl.start();
    await ctl.createNetwork({ name: 'web', ipam: [{ subnet: '10.60.0.0/24' }] });
    return { sys, store, ctl };
  }
  const ports = (ctl: Controller, sb: string) => ctl.sandboxView(sb).Networks.web.Ports;

  test('fixed, ranged and picked host ports; DNAT and accept rules appear and go with the endpoint', async () => {
    const { sys, ctl } = await world();
    await ctl.createSandbox({ name: 'a', network: 'web', publish: ['8080:80', '53/udp', '127.0.0.1:9000-9002:7000-7002'] });
    assert.deepEqual(ports(ctl, 'a'), [
      { proto: 'tcp', hostIP: '0.0.0.0', hostPort: 8080, containerPort: 80, count: 1 },
      { proto: 'udp', hostIP: '0.0.0.0', hostPort: 32768, containerPort: 53, count: 1 },
      { proto: 'tcp', hostIP: '127.0.0.1', hostPort: 9000, containerPort: 7000, count: 3 },
    ]);
    const nat = sys.snapshot().firewall.ipv4.nat.NETLOOM.rules;
    assert.ok(nat.includes('-p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.60.0.2:80'), nat.join('\n'));
    assert.ok(nat.includes('-d 127.0.0.1/32 -p tcp -m tcp --dport 9002 -j DNAT --to-destination 10.60.0.2:7002'));
    assert.equal(ctl.inspectNetwork('web').Containers[Object.keys(ctl.inspectNetwork('web').Containers)[0]].Ports?.[0], '0.0.0.0:8080->80/tcp');
    await ctl.disconnect('web', 'a');
    assert.deepEqual(sys.snapshot().firewall.ipv4.nat.NETLOOM.rules, ['-m addrtype ! --dst-type LOCAL -j RETURN']);
    assert.deepEqual(sys.snapshot().firewall.ipv4.filter.NETLOOM.rules, []);
  });

  test('a taken host port is refused naming the holder, and the whole request changes nothing', async () => {
    const { sys, store, ctl } = await world();
    await ctl.createSandbox({ name: 'a', network: 'web', publish: ['8080:80'] });
    sys.bound.push({ proto: 'tcp', family: 4, address: '0.0.0.0', port: 9443, inode: 77 });
    const before = [sys.snapshot(), await store.list('')];
    await ctl.createSandbox({ name: 'b' });
    const b4 = [sys.snapshot(), await store.list('')];
    await assert.rejects(
      ctl.connect('web', 'b', { publish: ['9000:90', '127.0.0.1:8080:80'] }),
      /host port 127\.0\.0\.1:8080\/tcp is already in use: sandbox a \(network web\) publishes 0\.0\.0\.0:8080\/tcp/,
    );
    await assert.rejects(
      ctl.connect('web', 'b', { publish: ['9443:443'] }),
      /host port 0\.0\.0\.0:9443\/tcp is already in use: process fake-server \(pid 4242\) listens on 0\.0\.0\.0:9443/,
    );
    await assert.rejects(
      ctl.connect('web', 'b', { publish: ['9000-9001:80-81', '9001:82'] }),
      /9001\/tcp is already in use: --publish "9000-9001:80-81" of this same request/,
    );
    await assert.rejects(ctl.connect('web', 'b', { publish: ['8080:80/sctp'] }), /unknown protocol "sctp"/);
    assert.deepEqual([sys.snapshot(), await store.list('')], b4);
    assert.ok(before);
    await assert.rejects(
      ctl.connect('web', 'b', { publish: ['127.0.0.2:8080:80'] }),
      /sandbox a \(network web\) publishes 0\.0\.0\.0:8080/,
      '0.0.0.0 covers every IPv4 address',
    );
    await ctl.connect('web', 'b', { publish: ['8080:80/udp', '8081:80'] });
  });

  test('a host range for one container port takes the first free port of the range', async () => {
    const { ctl } = await world();
    await ctl.createSandbox({ name: 'a', network: 'web', publish: ['8000:80'] });
    await ctl.createSandbox({ name: 'b', network: 'web', publish: ['8000-8010:80'] });
    assert.equal(ports(ctl, 'b')?.[0].hostPort, 8001);
  });

  test('internal networks and [::1] cannot publish; bindings survive a restart', async () => {
    const { sys, store, ctl } = await world();
    await ctl.createNetwork({ name: 'vault', internal: true, ipam: [{ subnet: '10.61.0.0/24' }] });
    await assert.rejects(ctl.createSandbox({ name: 'v', network: 'vault', publish: ['80'] }), /vault is internal/);
    await assert.rejects(ctl.createSandbox({ name: 'w', network: 'web', publish: ['[::1]:80:80'] }), /\[::1\] cannot be published without a proxy/);
    await ctl.createSandbox({ name: 'a', network: 'web', publish: ['8080:80'] });
    const fw = sys.snapshot().firewall;
    await ctl.close();
    const again = new Controller({ store, sys, log: silentLogger });
    await again.start();
    assert.deepEqual(sys.snapshot().firewall, fw);
    assert.deepEqual(await again.checkFirewall(), []);
  });

  test('the firewall guard restores a flushed table exactly, and leaves NETLOOM-USER alone', async () => {
    const { sys, ctl } = await world();
    await ctl.createSandbox({ name: 'a', network: 'web', publish: ['8080:80'] });
    await sys.firewall.restore(4, '*filter\n-A NETLOOM-USER -s 203.0.113.0/24 -j DROP\nCOMMIT\n');
    const good = sys.snapshot().firewall;
    await sys.firewall.restore(4, '*nat\n:NETLOOM - [0:0]\n:NETLOOM-POSTROUTING - [0:0]\nCOMMIT\n*filter\n-D FORWARD -j NETLOOM-FORWARD\nCOMMIT\n');
    const drift = await ctl.checkFirewall();
    assert.ok(drift.some((d) => d.table === 'nat' && d.missing.some((l) => l.includes('--dport 8080'))));
    assert.deepEqual(sys.snapshot().firewall, good);
    assert.deepEqual(await ctl.checkFirewall(), []);
    assert.equal(ctl.guard.heals, 1);
  });
});
