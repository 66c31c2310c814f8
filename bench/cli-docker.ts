// Docker's CLI beside netloom's, for bench/cli-startup.ts --docker URL: each round, Docker's client
// alone (`docker --version`: the Go runtime and the command tree, no API), `docker network
// connect` and `disconnect` as whole processes, and the calls that CLI makes (HEAD /_ping, then
// the POST) on a kept-alive connection, so a process's time splits into client and engine.
import { dockerTarget, request, socketPath, stats, type Stats } from './engine-api.js';

export const DOCKER_ROWS = [
  'docker --version',
  'docker network connect',
  'docker network disconnect',
  'HEAD /_ping',
  'POST connect',
  'POST disconnect',
] as const;
type Row = (typeof DOCKER_ROWS)[number];

export interface DockerBeside {
  /** One round; `keep` false for the warm-up round. */
  round(keep: boolean): Promise<void>;
  stats(): Record<Row, Stats>;
  cleanup(): Promise<void>;
}

/** `proc(file, args)` times one whole process (cli-startup.ts's). */
export async function dockerBeside(url: string, id: string, proc: (file: string, args: string[]) => number): Promise<DockerBeside> {
  const t = dockerTarget(url);
  const sock = socketPath(url);
  const ctr = `${id}-dk`;
  const net = `${id}-dknet`;
  const samples = Object.fromEntries(DOCKER_ROWS.map((r) => [r, [] as number[]])) as Record<Row, number[]>;
  const ok = async (method: string, path: string, body?: unknown): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const r = await request(sock, method, path, body);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status >= 300) throw new Error(`docker ${method} ${path}: status ${r.status}: ${r.body.slice(0, 300)}`);
    return ms;
  };
  await t.makeContainer(ctr);
  await ok('POST', '/networks/create', { Name: net, IPAM: { Config: [{ Subnet: '10.237.0.0/24' }] } });
  const docker = (...args: string[]): number => proc('docker', ['-H', url, ...args]);
  return {
    async round(keep) {
      const got: Array<[Row, number]> = [
        ['docker --version', proc('docker', ['--version'])],
        ['docker network connect', docker('network', 'connect', net, ctr)],
        ['docker network disconnect', docker('network', 'disconnect', net, ctr)],
        ['HEAD /_ping', await ok('HEAD', '/_ping')],
        ['POST connect', await ok('POST', `/networks/${net}/connect`, { Container: ctr })],
        ['HEAD /_ping', await ok('HEAD', '/_ping')],
        ['POST disconnect', await ok('POST', `/networks/${net}/disconnect`, { Container: ctr })],
      ];
      if (keep) for (const [row, ms] of got) samples[row].push(ms);
    },
    stats: () => Object.fromEntries(DOCKER_ROWS.map((r) => [r, stats(samples[r])])) as Record<Row, Stats>,
    async cleanup() {
      await t.removeContainer(ctr).catch(() => undefined);
      await request(sock, 'DELETE', `/networks/${net}`).catch(() => undefined);
    },
  };
}
