// Docker's own clients against netloomd's Engine API, no dockerd involved: the Docker SDK for
// Python (test/priv/sdk-compat.py, with every Python that has it: Debian's python3-docker 5.x and
// any newer one on PATH) and both docker CLIs (20.10 and 28.x): exit codes, output, and what
// the kernel ends up with for the options that reach it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { api } from '../../cli/client.js';
import { TestHost, sh, skipUnlessRoot, type Run } from '../helpers/host.js';

const SDK_SCRIPT = fileURLToPath(new URL('../../../test/priv/sdk-compat.py', import.meta.url));
const CLIS = ['/usr/bin/docker', '/usr/local/bin/docker'].filter((p) => existsSync(p));

/** Pythons that can import the Docker SDK, one per SDK version. */
async function sdkPythons(): Promise<{ python: string; version: string }[]> {
  const out = new Map<string, string>();
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = await execa(python, ['-c', 'import docker; print(docker.__version__)'], { reject: false });
    if (r.exitCode === 0 && !out.has(String(r.stdout).trim())) out.set(String(r.stdout).trim(), python);
  }
  return [...out].map(([version, python]) => ({ python, version }));
}

describe('Docker clients against netloomd (root, fresh namespaces)', { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  let env: Record<string, string>;
  before(async () => {
    h = await TestHost.create();
    await h.start();
    // DOCKER_CONFIG: a fresh client config, never the machine's contexts or credentials.
    env = { DOCKER_HOST: `unix://${h.socket}`, DOCKER_CONFIG: `${h.dir}/docker-config`, PATH: process.env.PATH ?? '' };
  });
  after(async () => h?.cleanup());

  const docker = (bin: string, ...args: string[]): Promise<Run> =>
    execa(bin, args, { reject: false, timeout: 60_000, env, extendEnv: false }).then((r) => ({
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout).trim(),
      stderr: String(r.stderr).trim(),
    }));
  const netNames = async (): Promise<string[]> => (JSON.parse(await h.ok('network', 'ls', '--format', 'json')) as { Name: string }[]).map((n) => n.Name).sort();

  it("the Docker SDK for Python: every list filter, create option, get, reload, remove, prune filter, events; Docker's exception classes", async (t) => {
    const pythons = await sdkPythons();
    if (!pythons.length) return t.skip('no Python with the docker SDK (apt-get install python3-docker)');
    for (const { python, version } of pythons) {
      const sb = h.sb(`py${version.replace(/\W/g, '')}`);
      await h.ok('sandbox', 'create', sb);
      const r = await execa(python, [SDK_SCRIPT], { reject: false, timeout: 120_000, env: { ...env, NL_SANDBOX: sb }, extendEnv: false });
      assert.equal(r.exitCode, 0, `docker SDK ${version} (${python}):\n${r.stdout}\n${r.stderr}`);
      assert.match(String(r.stdout), /ok swarm leave 503, containers 404$/);
      await h.ok('sandbox', 'rm', sb);
      t.diagnostic(`docker SDK ${version}: ${String(r.stdout).split('\n').length} checks passed`);
    }
  });

  for (const bin of CLIS) {
    describe(`docker CLI ${bin}`, () => {
      let old: boolean;
      before(async () => {
        old = /^Docker version 20\./.test((await docker(bin, '--version')).stdout);
      });

      it("create with a name Docker accepts, ls with filters, Docker's errors for bad filters and exit codes", async () => {
        const id = await docker(bin, 'network', 'create', '--label', 'team=x', 'test 01');
        assert.equal(id.exitCode, 0, id.stderr);
        assert.match(id.stdout, /^[0-9a-f]{64}$/);
        const ls = async (...f: string[]) =>
          (await docker(bin, 'network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['--filter', x]))).stdout.split('\n').filter(Boolean).sort();
        assert.deepEqual(await ls('name=^test'), ['test 01']);
        assert.deepEqual(await ls('type=builtin'), ['bridge', 'host', 'none']);
        assert.deepEqual(await ls('type=custom'), ['test 01']);
        assert.deepEqual(await ls('dangling=true'), ['test 01']);
        assert.deepEqual(await ls('label=team=x', 'driver=bridge', 'scope=local'), ['test 01']);
        assert.deepEqual(await ls(`id=${id.stdout.slice(0, 8)}`), ['test 01']);
        const bad = await docker(bin, 'network', 'ls', '--filter', 'lable=x');
        assert.deepEqual([bad.exitCode, bad.stderr], [1, "Error response from daemon: Invalid filter 'lable'"]);
        const rm = await docker(bin, 'network', 'rm', 'test 01');
        assert.deepEqual([rm.exitCode, rm.stdout], [0, 'test 01']);
      });

      it('prune: a misspelt filter exits 1 and deletes nothing; until=24h keeps fresh networks; label deletes only matches', async () => {
        for (const n of ['p1', 'p2']) assert.equal((await docker(bin, 'network', 'create', '--label', `name=${n}`, n)).exitCode, 0);
        const before = await netNames();
        const bad = await docker(bin, 'network', 'prune', '-f', '--filter', 'lable=x');
        assert.deepEqual([bad.exitCode, bad.stderr], [1, "Error response from daemon: Invalid filter 'lable'"]);
        const until = await docker(bin, 'network', 'prune', '-f', '--filter', 'until=24h');
        assert.deepEqual([until.exitCode, until.stdout], [0, '']);
        const badUntil = await docker(bin, 'network', 'prune', '-f', '--filter', 'until=1d');
        assert.equal(badUntil.exitCode, 1);
        assert.match(badUntil.stderr, /failed to parse value as time or duration: "1d"/);
        assert.deepEqual(await netNames(), before);
        const one = await docker(bin, 'network', 'prune', '-f', '--filter', 'label=name=p1');
        assert.deepEqual([one.exitCode, one.stdout], [0, 'Deleted Networks:\np1']);
        const rest = await docker(bin, 'network', 'prune', '-f', '--filter', 'label!=name=p1');
        assert.deepEqual([rest.exitCode, rest.stdout], [0, 'Deleted Networks:\np2']);
      });

      it("statuses reach the CLI as Docker's: rm bridge, inspect unknown, ps (not networks), --scope swarm", async () => {
        const rmBridge = await docker(bin, 'network', 'rm', 'bridge');
        assert.equal(rmBridge.exitCode, 1);
        assert.match(rmBridge.stderr, /^Error response from daemon: bridge is a pre-defined network and cannot be removed/);
        const missing = await docker(bin, 'network', 'inspect', 'nosuch');
        assert.equal(missing.exitCode, 1);
        assert.equal(missing.stdout, '[]');
        // The old client words a 404 itself (docs/engine-api.md §5.2): proof the status is 404.
        assert.equal(missing.stderr, old ? 'Error: No such network: nosuch' : 'Error response from daemon: network nosuch not found');
        const ps = await docker(bin, 'ps');
        assert.equal(ps.exitCode, 1);
        assert.match(ps.stderr, /netloom serves Docker's network API only/);
        const swarm = await docker(bin, 'network', 'create', '--scope', 'swarm', 'sw');
        assert.equal(swarm.exitCode, 1);
        assert.match(swarm.stderr, /swarm/);
        assert.ok(!(await netNames()).includes('sw'));
      });

      it('docker info and docker version print without an error', async () => {
        const info = await docker(bin, 'info');
        assert.equal(info.exitCode, 0, info.stderr);
        assert.match(info.stdout, /Network: bridge host null overlay/);
        assert.match(info.stdout, /Server Version: 0\.1\.0/);
        assert.match(info.stdout, /Swarm: inactive/);
        const version = await docker(bin, 'version');
        assert.equal(version.exitCode, 0, version.stderr);
        assert.match(version.stdout, /API version:\s+1\.41/);
      });

      it('--config-only, --config-from as Docker', async () => {
        const cfg = await docker(bin, 'network', 'create', '--config-only', '--subnet', '10.73.0.0/24', '--gateway', '10.73.0.1', 'cfg');
        assert.equal(cfg.exitCode, 0, cfg.stderr);
        const from = await docker(bin, 'network', 'create', '--config-from', 'cfg', 'fromcfg');
        assert.equal(from.exitCode, 0, from.stderr);
        const view = JSON.parse((await docker(bin, 'network', 'inspect', 'fromcfg')).stdout) as {
          ConfigFrom: { Network: string };
          IPAM: { Config: object[] };
        }[];
        assert.deepEqual([view[0].ConfigFrom, view[0].IPAM.Config], [{ Network: 'cfg' }, [{ Subnet: '10.73.0.0/24', Gateway: '10.73.0.1' }]]);
        const mixed = await docker(bin, 'network', 'create', '--config-from', 'cfg', '--label', 'a=b', 'x');
        assert.equal(mixed.exitCode, 1);
        assert.match(mixed.stderr, /user specified configurations are not supported/);
        assert.equal((await docker(bin, 'network', 'rm', 'cfg')).exitCode, 1);
        assert.deepEqual((await docker(bin, 'network', 'prune', '-f')).stdout, 'Deleted Networks:\nfromcfg');
        assert.equal((await docker(bin, 'network', 'rm', 'cfg')).exitCode, 0);
      });

      it('docker events --filter type=network shows network events live', async () => {
        const child = spawn(bin, ['events', '--filter', 'type=network', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let seen = '';
        const got = new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            seen += d.toString();
            if (seen.includes('network destroy evnet')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`docker events exited (${code}): ${seen}`)));
        });
        try {
          // The stream is open once the engine has a listener (docker info's "Events listeners" is not printed by every client).
          for (let i = 0; i < 100 && !(await api<{ NEventsListener: number }>(h.socket, 'GET', '/info')).NEventsListener; i++)
            await new Promise((r) => setTimeout(r, 50));
          await docker(bin, 'network', 'create', 'evnet');
          await docker(bin, 'network', 'rm', 'evnet');
          await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error(`no events in 30 s: ${seen}`)), 30_000))]);
          assert.match(seen, /^network create evnet\nnetwork destroy evnet\n/);
        } finally {
          child.kill();
        }
      });
    });
  }

  it('-o com.docker.network.container_iface_prefix and inhibit_ipv4 reach the kernel; an unknown -o is kept', async () => {
    const bin = CLIS[0];
    if (!bin) return;
    const r = await docker(
      bin,
      'network',
      'create',
      '--subnet',
      '10.74.0.0/24',
      '-o',
      'com.docker.network.container_iface_prefix=cx',
      '-o',
      'com.docker.network.bridge.inhibit_ipv4=true',
      '-o',
      'com.docker.network.bridge.name=nltinh0',
      '-o',
      'foo=bar',
      'opts',
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const sb = h.sb('opt');
    await h.ok('sandbox', 'create', '--network', 'opts', sb);
    const links = JSON.parse((await sh('ip', ['-n', sb, '-j', 'link'])).stdout) as { ifname: string }[];
    assert.ok(
      links.some((l) => l.ifname === 'cx0'),
      JSON.stringify(links),
    );
    const br = JSON.parse((await sh('ip', ['-n', h.ns, '-j', 'addr', 'show', 'nltinh0'])).stdout) as { addr_info: { family: string }[] }[];
    assert.deepEqual(
      br[0].addr_info.filter((a) => a.family === 'inet'),
      [],
    );
    assert.equal((await h.inspect('opts')).Options.foo, 'bar');
    // netloom's CLI prints the Warning the docker CLIs do not.
    const warned = await h.cli('network', 'create', '-o', 'colour=red', 'warned');
    assert.equal(warned.exitCode, 0);
    assert.match(warned.stderr, /^WARNING: driver bridge does not know option "colour"/);
    await h.ok('network', 'rm', 'warned');
    await h.ok('sandbox', 'rm', sb);
    await h.ok('network', 'rm', 'opts');
  });
});
