// Tables, in the layout `docker network ls` uses.
type Row = Record<string, unknown>;

function table(out: (s: string) => void, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('');
  out(fmt(header));
  rows.forEach((r) => out(fmt(r)));
}

export function printNetworkTable(out: (s: string) => void, nets: Row[]): void {
  table(
    out,
    ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
    nets.map((n) => [String(n.Id).slice(0, 12), String(n.Name), String(n.Driver), String(n.Scope)]),
  );
}

export function printSandboxTable(out: (s: string) => void, sbs: Row[]): void {
  table(
    out,
    ['NAME', 'SANDBOX ID', 'MODE', 'NETWORKS'],
    sbs.map((s) => {
      const nets = Object.entries((s.Networks ?? {}) as Record<string, { Interface: string; IPv4Address: string }>)
        .map(([name, e]) => `${name}(${e.Interface} ${e.IPv4Address})`)
        .join(', ');
      return [String(s.Name), String(s.Id).slice(0, 12), String(s.NetworkMode), nets || '-'];
    }),
  );
}
