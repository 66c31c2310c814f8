// `netloom system reset`: removes every kernel object netloom made on this host, found from the
// records (sandbox namespaces and their /etc/netns entries) and from the kernel's own tags (links
// whose IFLA_IFALIAS says netloom's, iptables chains named NETLOOM*). Runs with netloomd stopped;
// the CLI wires it (cli/reset.ts). Like `podman system reset`: nobody else's object is touched.
import type { System, Table } from '../system/types.js';

export interface ResetReport {
  readonly namespaces: string[];
  readonly netnsFiles: string[];
  readonly links: string[];
  readonly chains: string[];
  readonly errors: string[];
}

const TABLES: readonly Table[] = ['filter', 'nat'];

/** The iptables-restore --noflush script that removes netloom's chains from one table of an
 *  iptables-save: first every rule of another chain that jumps to one (as saved, so matches
 *  like `-m addrtype` are kept), then flush all, then delete all (a chain still referenced
 *  cannot be deleted). Empty when the table holds none. Pure. */
export function removeChainsScript(save: string, table: Table): { script: string; chains: string[] } {
  const chains = save
    .split('\n')
    .map((l) => /^:(NETLOOM\S*) /.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
  if (!chains.length) return { script: '', chains };
  const own = new Set(chains);
  const jumps = save.split('\n').filter((l) => {
    const m = /^-A (\S+) .*-j (\S+)/.exec(l);
    return m !== null && !own.has(m[1]) && own.has(m[2]);
  });
  const lines = [...jumps.map((l) => l.replace(/^-A /, '-D ')), ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`)];
  return { script: `*${table}\n${lines.join('\n')}\nCOMMIT\n`, chains };
}

export interface ResetInput {
  /** Sandbox names from the records (their namespaces and /etc/netns entries). */
  readonly sandboxes: readonly string[];
  /** Alias prefix of this instance's links (`netloom:<instance>:`), or `netloom:` when the
   *  records no longer say which instance. */
  readonly tagPrefix: string;
  readonly removeNetnsFiles: (sandbox: string) => void;
  readonly netnsFileExists: (sandbox: string) => boolean;
}

/** Removes everything; collects failures and keeps going (reported together). */
export async function resetHost(sys: System, input: ResetInput): Promise<ResetReport> {
  const report: ResetReport = { namespaces: [], netnsFiles: [], links: [], chains: [], errors: [] };
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      report.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // Namespaces first: their veth ends go with them.
  for (const name of input.sandboxes) {
    await attempt(`namespace ${name}`, async () => {
      if (!(await sys.netns.exists(name))) return;
      await sys.netns.del(name);
      report.namespaces.push(name);
    });
    await attempt(`/etc/netns/${name}`, async () => {
      if (!input.netnsFileExists(name)) return;
      input.removeNetnsFiles(name);
      report.netnsFiles.push(name);
    });
  }
  // Veths before bridges, so a bridge is never deleted under a port that is about to go anyway.
  const tagged = (await sys.host.links()).filter((l) => l.alias?.startsWith(input.tagPrefix));
  tagged.sort((a, b) => Number(a.kind === 'bridge') - Number(b.kind === 'bridge'));
  for (const l of tagged) {
    await attempt(`link ${l.name}`, async () => {
      if (!(await sys.host.link(l.name))) return; // went with its peer
      await sys.host.delLink(l.name);
      report.links.push(l.name);
    });
  }
  for (const family of [4, 6] as const) {
    for (const table of TABLES) {
      await attempt(`${family === 4 ? 'iptables' : 'ip6tables'} -t ${table}`, async () => {
        let save: string;
        try {
          save = await sys.firewall.save(family, table);
        } catch (err) {
          if (family === 6) return; // no ip6tables on this host: netloom made no IPv6 rules
          throw err;
        }
        const { script, chains } = removeChainsScript(save, table);
        if (!script) return;
        await sys.firewall.restore(family, script);
        report.chains.push(...chains.map((c) => `${family === 4 ? 'iptables' : 'ip6tables'} -t ${table} ${c}`));
      });
    }
  }
  return report;
}
