// A fresh "host" for a privileged test: its own network namespace with its own netloomd (own
// socket, own data dir), and the sandbox names it will make prefixed so tests never collide.
// Everything it made is removed in cleanup(), and the suite runs inside a private mount and
// network namespace on top of that (test/helpers/run-priv.sh).
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

export const isRoot = process.getuid?.() === 0;
export const skipUnlessRoot = isRoot ? false : 'needs root: privileged tests create namespaces, links and iptables rules';

const ROOT = process.cwd();
const CLI = join(ROOT, 'bin', 'netloom.mjs');
const DAEMON = join(ROOT, 'bin', 'netloomd.mjs');

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function sh(cmd: string, args: readonly string[], opts: { input?: string } = {}): Promise<Run> {
  const r = await execa(cmd, args, { reject: false, input: opts.input, timeout: 60_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export class TestHost {
  readonly id = randomBytes(3).toString('hex');
  readonly ns = `nlt-h${this.id}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'netloom-test-'));
  readonly socket = join(this.dir, 'netloomd.sock');
  readonly dataDir = join(this.dir, 'data');
  readonly resolvConf = join(this.dir, 'resolv.conf');
  /** The Docker plugin socket: per test, never the machine's /run/docker/plugins. */
  pluginSocket = join(this.dir, 'plugin.sock');
  /** More netloomd flags for this host's daemon. */
  daemonArgs: string[] = [];
  private daemon?: ChildProcess;
  /** Every daemon this host started, so cleanup can stop each by PID even after a failed start. */
  private readonly started: ChildProcess[] = [];

  /** Sandbox name unique to this test. */
  sb(name: string): string {
    return `t${this.id}-${name}`;
  }

  static async create(): Promise<TestHost> {
    const h = new TestHost();
    await sh('ip', ['netns', 'add', h.ns]);
    await sh('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    return h;
  }

  /** Starts netloomd inside this host's namespace (nsenter: same mount namespace, so the
   *  sandboxes it makes under /run/netns are visible to the test). */
  async start(env: Record<string, string> = {}): Promise<void> {
    // Never the machine's resolver: the default upstream is whatever this test's resolv.conf says.
    writeFileSync(this.resolvConf, 'nameserver 127.0.0.1\n');
    await this.stop('SIGKILL');
    const child = spawn('nsenter', this.daemonArgv(), { stdio: 'ignore', env: { ...process.env, ...env } });
    this.daemon = child;
    this.started.push(child);
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`netloomd exited with ${child.exitCode}: ${this.log().slice(-2000)}`);
      const r = await this.cli('network', 'ls', '-q');
      if (r.exitCode === 0) return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`netloomd did not answer: ${this.log().slice(-2000)}`);
  }

  /** nsenter's arguments that run this host's netloomd with `extra` flags. */
  daemonArgv(extra: readonly string[] = []): string[] {
    return [
      `--net=/run/netns/${this.ns}`,
      process.execPath,
      DAEMON,
      '--socket',
      this.socket,
      '--data-dir',
      this.dataDir,
      '--log-file',
      join(this.dir, 'netloomd.log'),
      '--resolv-conf',
      this.resolvConf,
      '--plugin-socket',
      this.pluginSocket,
      ...this.daemonArgs,
      ...extra,
    ];
  }

  /** Runs netloomd expecting it to refuse to start: its exit code and stderr. */
  async startRefused(extra: readonly string[] = []): Promise<Run> {
    writeFileSync(this.resolvConf, 'nameserver 127.0.0.1\n');
    return sh('nsenter', this.daemonArgv(extra));
  }

  /** Stops the daemon this test started, by PID (nsenter execs node, so the PID is node's). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const exited = new Promise((res) => d.once('exit', res));
    d.kill(signal);
    await exited;
    this.daemon = undefined;
  }

  /** Waits for a daemon started with a failpoint to kill itself. */
  async waitExit(): Promise<void> {
    const d = this.daemon;
    if (!d) return;
    if (d.exitCode === null && d.signalCode === null) await new Promise((res) => d.once('exit', res));
    this.daemon = undefined;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'netloomd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  cli(...args: string[]): Promise<Run> {
    return execa(process.execPath, [CLI, '--socket', this.socket, '--data-dir', this.dataDir, ...args], {
      reject: false,
      timeout: 60_000,
      env: { NETLOOM_NO_AUTOSTART: '1' },
    }).then((r) => ({ exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }));
  }

  /** Like cli() but fails the test on a non-zero exit. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.exitCode !== 0) throw new Error(`netloom ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.stdout;
  }

  async inspect(net: string): Promise<InspectNetwork> {
    return (JSON.parse(await this.ok('network', 'inspect', net)) as InspectNetwork[])[0];
  }

  /** A command inside this host's namespace. */
  inHost(...argv: string[]): Promise<Run> {
    return sh('ip', ['netns', 'exec', this.ns, ...argv]);
  }

  /** A command inside a sandbox (by its full name). */
  inSandbox(name: string, ...argv: string[]): Promise<Run> {
    return sh('ip', ['netns', 'exec', name, ...argv]);
  }

  /** Reached if any of three echo requests 0.2 s apart is answered (one lone request on a loaded
   *  machine was seen to miss a fresh sandbox's gateway); a denied path costs about 1.4 s. */
  async ping(from: string, to: string): Promise<boolean> {
    return (await this.inSandbox(from, 'ping', '-c3', '-i0.2', '-W1', to)).exitCode === 0;
  }

  /** Waits until the running daemon's reaper has deleted the links that disconnect and rm
   *  retired (POST /settle); the names it deleted. No daemon: nothing to wait for. */
  async settle(): Promise<string[]> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return [];
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: this.socket, path: '/settle', method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`POST /settle: ${res.statusCode} ${text}`))));
      });
      req.on('error', reject);
      req.end();
    });
    return (JSON.parse(body) as { reaped: string[] }).reaped;
  }

  /** What the kernel of this host holds that netloom could have touched: links, addresses,
   *  routes and both iptables tables, plus this test's sandboxes. */
  async kernel(): Promise<{ links: string[]; addrs: string[]; routes: string; iptables: string; netns: string[] }> {
    await this.settle();
    const links = JSON.parse((await sh('ip', ['-n', this.ns, '-j', 'link'])).stdout) as { ifname: string }[];
    const addrs = JSON.parse((await sh('ip', ['-n', this.ns, '-j', 'addr'])).stdout) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
    const routes = (await sh('ip', ['-n', this.ns, 'route'])).stdout;
    const ipt = (await this.inHost('iptables-save')).stdout + (await this.inHost('ip6tables-save')).stdout;
    return {
      links: links.map((l) => l.ifname).sort(),
      // Link-local IPv6 addresses follow the (random) MAC of a recreated link: not state netloom owns.
      addrs: addrs.flatMap((a) => a.addr_info.filter((i) => !i.local.startsWith('fe80:')).map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)).sort(),
      routes,
      iptables: ipt.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]'),
      netns: this.sandboxNamespaces(),
    };
  }

  /** What the daemon reports (networks, these networks' inspect, sandboxes) and what the kernel
   *  holds: two calls must be deep-equal when an operation was meant to change nothing. */
  async everything(...nets: string[]): Promise<unknown> {
    const inspected: Record<string, InspectNetwork> = {};
    for (const n of nets) inspected[n] = await this.inspect(n);
    return {
      networks: JSON.parse(await this.ok('network', 'ls', '--format', 'json')) as unknown,
      inspected,
      sandboxes: JSON.parse(await this.ok('sandbox', 'ls', '--format', 'json')) as unknown,
      kernel: await this.kernel(),
    };
  }

  sandboxNamespaces(): string[] {
    try {
      return readdirSync('/run/netns')
        .filter((n) => n.startsWith(`t${this.id}-`))
        .sort();
    } catch {
      return [];
    }
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL').catch(() => undefined);
    for (const c of this.started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of this.sandboxNamespaces()) await sh('ip', ['netns', 'del', n]);
    await sh('ip', ['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface InspectNetwork {
  Name: string;
  Id: string;
  Driver: string;
  Internal: boolean;
  IPAM: { Config: { Subnet: string; Gateway?: string; IPRange?: string }[] };
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
}

/** Interface name -> addresses inside a sandbox. */
export async function sandboxAddrs(name: string): Promise<Record<string, string[]>> {
  const r = await sh('ip', ['-n', name, '-j', 'addr']);
  const j = JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string; prefixlen: number; scope: string }[] }[];
  return Object.fromEntries(j.map((l) => [l.ifname, l.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`)]));
}
