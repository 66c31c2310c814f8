// Crash storm: random create / connect (with and without published ports) / disconnect / rm over
// 3 networks and 30 sandboxes, netloomd killed with SIGKILL at a random moment of each round,
// restarted, and checked: no address twice, no leaked veth or namespace, the kernel's addresses
// as the records say, and `netloom doctor` (links, rules, ports, namespaces) exits 0.
// STORM_ROUNDS (default 4, for make test) sets the rounds; STORM_SEED replays a run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, sandboxAddrs, skipUnlessRoot } from '../helpers/host.js';

const ROUNDS = Number(process.env.STORM_ROUNDS ?? 4);
const SEED = Number(process.env.STORM_SEED ?? Date.now() % 1_000_000);
const SANDBOXES = 30;
const NETS = ['st0', 'st1', 'st2'];

/** mulberry32: a small seeded PRNG, so a failing storm can be replayed with STORM_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface View {
  Name: string;
  Networks: Record<string, { EndpointID: string; IPv4Address: string }>;
}

describe(`crash storm: ${ROUNDS} round(s), seed ${SEED} (root, fresh namespaces)`, { skip: skipUnlessRoot }, () => {
  let h: TestHost;
  const rnd = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  let kills = 0;
  let opsDone = 0;

  before(async () => {
    h = await TestHost.create();
    await h.start();
    for (const [i, n] of NETS.entries()) await h.ok('network', 'create', '--subnet', `10.${110 + i}.0.0/24`, n);
  });
  after(async () => h?.cleanup());

  const views = async (): Promise<View[]> => JSON.parse(await h.ok('sandbox', 'ls', '--format', 'json')) as View[];

  /** One random operation chosen from what this worker believes exists; `existing` follows the
   *  operations that succeeded. Failures (a race with another worker, the daemon killed) are fine. */
  async function randomOp(existing: Map<string, Set<string>>): Promise<void> {
    const names = [...Array(SANDBOXES).keys()].map((i) => h.sb(`s${i}`));
    const free = names.filter((n) => !existing.has(n));
    const have = [...existing.keys()];
    const kind = pick(['create', 'create', 'connect', 'publish', 'disconnect', 'rm'] as const);
    const port = (): string => `${20000 + Math.floor(rnd() * 20000)}:80`;
    const sb = have.length ? pick(have) : undefined;
    const on = sb ? [...(existing.get(sb) ?? [])] : [];
    const off = NETS.filter((n) => !on.includes(n));
    let args: string[] | undefined;
    let done = (): void => undefined;
    if (kind === 'create' && free.length) {
      const [name, net] = [pick(free), pick(NETS)];
      args = ['sandbox', 'create', '--network', net, ...(rnd() < 0.3 ? ['-p', port()] : []), name];
      done = () => void existing.set(name, new Set([net]));
    } else if ((kind === 'connect' || kind === 'publish') && sb && off.length) {
      const net = pick(off);
      args = ['network', 'connect', ...(kind === 'publish' ? ['-p', port()] : []), net, sb];
      done = () => void existing.get(sb)?.add(net);
    } else if (kind === 'disconnect' && sb && on.length) {
      const net = pick(on);
      args = ['network', 'disconnect', net, sb];
      done = () => void existing.get(sb)?.delete(net);
    } else if (kind === 'rm' && sb) {
      args = ['sandbox', 'rm', sb];
      done = () => void existing.delete(sb);
    }
    if (!args) return;
    const r = await h.cli(...args);
    if (r.exitCode !== 0) return;
    opsDone++;
    done();
  }

  async function check(round: number): Promise<void> {
    const vs = await views();
    const where = `round ${round} (seed ${SEED})`;
    // No address twice on a network, in the records...
    for (const n of NETS) {
      const ips = vs.flatMap((v) => (v.Networks[n] ? [v.Networks[n].IPv4Address] : []));
      assert.equal(new Set(ips).size, ips.length, `${where}: duplicate address on ${n}: ${ips.join(' ')}`);
    }
    // ...and in the kernel: each sandbox holds exactly the addresses its records say.
    const kernelIps: string[] = [];
    for (const v of vs) {
      const addrs = Object.entries(await sandboxAddrs(v.Name))
        .filter(([i]) => i !== 'lo')
        .flatMap(([, a]) => a.filter((x) => x.startsWith('10.11')));
      assert.deepEqual(
        addrs.sort(),
        Object.values(v.Networks)
          .map((e) => e.IPv4Address)
          .sort(),
        `${where}: ${v.Name}'s addresses`,
      );
      kernelIps.push(...addrs);
    }
    assert.equal(new Set(kernelIps).size, kernelIps.length, `${where}: an address held twice in the kernel`);
    // No namespace without a sandbox, no sandbox without one.
    assert.deepEqual(h.sandboxNamespaces(), vs.map((v) => v.Name).sort(), `${where}: namespaces`);
    // No veth without an endpoint (and none missing).
    const veths = (await h.kernel()).links.filter((l) => l.startsWith('nlv'));
    const want = vs.flatMap((v) => Object.values(v.Networks).map((e) => `nlv${e.EndpointID.slice(0, 10)}`));
    assert.deepEqual(veths, want.sort(), `${where}: veths`);
    const d = await h.cli('doctor');
    assert.equal(d.exitCode, 0, `${where}: doctor\n${d.stdout}${d.stderr}`);
  }

  // A long hand run (STORM_ROUNDS=1000) outlives the suite's per-test default of 180 s.
  it(
    'every restart after a kill -9 at a random moment finds no duplicate address, no leak, and doctor clean',
    { timeout: Math.max(180_000, ROUNDS * 60_000) },
    async (t) => {
      for (let round = 1; round <= ROUNDS; round++) {
        const existing = new Map((await views()).map((v) => [v.Name, new Set(Object.keys(v.Networks))]));
        let dead = false;
        const killAt = 500 + Math.floor(rnd() * 4500);
        const killer = new Promise<void>((resolve) => {
          setTimeout(() => {
            dead = true;
            void h.stop('SIGKILL').then(() => resolve());
          }, killAt);
        });
        // Three clients at once: the kill lands with several requests queued in the daemon.
        await Promise.all(
          [0, 1, 2].map(async () => {
            for (let i = 0; i < 20 && !dead; i++) await randomOp(existing);
          }),
        );
        await killer;
        kills++;
        await h.start();
        await check(round);
      }
      t.diagnostic(`storm: ${ROUNDS} rounds, ${kills} kill -9 survived, ${opsDone} operations acknowledged, seed ${SEED}`);
    },
  );
});
