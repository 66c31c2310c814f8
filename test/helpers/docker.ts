// A real Docker engine (Debian's docker.io) for a privileged test, inside the test host's network
// namespace, with its own data root, exec root, socket and cgroup parent under the test's
// directory; stopped by PID. run-priv.sh gives the suite a private /run, so the engine's plugin
// directory (/run/docker/plugins) and its containerd are the suite's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Run, TestHost } from './host.js';

export const IMAGE = 'nlbusybox:latest';
export const hasDocker = existsSync('/usr/sbin/dockerd') && existsSync('/usr/bin/docker') && existsSync('/bin/busybox');

/** A container that exits at once on SIGTERM (a plain `sleep` would make every stop wait 10 s). */
export const IDLE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];
/** Never the machine's resolver: unknown names go to the container's own loopback, no search list. */
export const NO_OUTSIDE_DNS = ['--dns', '127.0.0.1', '--dns-search', '.'];

export class TestDocker {
  readonly dir: string;
  readonly socket: string;
  private proc?: ChildProcess;
  private readonly cgroupParent: string;

  constructor(private readonly host: TestHost) {
    this.dir = join(host.dir, 'docker');
    this.socket = join(this.dir, 'docker.sock');
    this.cgroupParent = `netloom-test-${host.id}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  dk(...args: string[]): Promise<Run> {
    return execa('docker', ['-H', `unix://${this.socket}`, ...args], { reject: false, timeout: 90_000 }).then((r) => ({
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout).trim(),
      stderr: String(r.stderr).trim(),
    }));
  }

  async ok(...args: string[]): Promise<string> {
    const r = await this.dk(...args);
    if (r.exitCode !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.stdout;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'exec'), { recursive: true });
    writeFileSync(join(this.dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(this.dir, 'key.json') }));
    const child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.host.ns}`,
        'dockerd',
        '--config-file',
        join(this.dir, 'daemon.json'),
        '--data-root',
        join(this.dir, 'data'),
        '--exec-root',
        join(this.dir, 'exec'),
        '--pidfile',
        join(this.dir, 'dockerd.pid'),
        '--cgroup-parent',
        this.cgroupParent,
        '--shutdown-timeout',
        '3',
        '-H',
        `unix://${this.socket}`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-4000);
    });
    this.proc = child;
    for (let i = 0; i < 240; i++) {
      if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}: ${log}`);
      if ((await this.dk('version', '--format', '{{.Server.Version}}')).exitCode === 0) return;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`dockerd did not answer within 60 s: ${log}`);
  }

  /** Imports nlbusybox from Debian's busybox-static (no registry is reachable). */
  async image(): Promise<void> {
    if ((await this.dk('image', 'inspect', IMAGE)).exitCode === 0) return;
    const tar = join(this.dir, 'rootfs.tar');
    const r = await execa('bash', ['scripts/busybox-rootfs.sh', tar], { reject: false });
    if (r.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${String(r.stderr)}`);
    await this.ok('import', '--change', 'CMD ["sh"]', '--change', 'ENV PATH=/bin', tar, IMAGE);
  }

  /** SIGTERM (dockerd stops its containers and its containerd), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    this.proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Removes every container, stops the engine, removes its cgroups (children first). */
  async cleanup(): Promise<void> {
    if (this.proc) {
      const ids = (await this.dk('ps', '-aq')).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.dk('rm', '-f', ...ids);
    }
    await this.stop();
    for (const ctrl of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
      removeCgroupTree(join('/sys/fs/cgroup', ctrl, this.cgroupParent));
    }
    removeCgroupTree(join('/sys/fs/cgroup', this.cgroupParent));
  }
}

function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
    if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '') rmdirSync(dir);
  } catch {
    /* a controller that is not a directory tree, or busy: left to the PID namespace's end */
  }
}
