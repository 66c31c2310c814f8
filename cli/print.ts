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

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Docker's CLI order for `network ls` (github.com/fvbommel/sortorder NaturalLess): runs of digits
 *  compare by value (net2 before net10), digits before other characters, the rest by code unit.
 *  Not localeCompare: initialising ICU's collator costs the CLI ~8 ms at every start. */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    const da = isDigit(ca);
    if (da !== isDigit(cb)) return da ? -1 : 1;
    if (!da) {
      if (ca !== cb) return ca < cb ? -1 : 1;
      i++;
      j++;
      continue;
    }
    while (i < a.length && a.charCodeAt(i) === 0x30) i++;
    while (j < b.length && b.charCodeAt(j) === 0x30) j++;
    const na = i;
    const nb = j;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    if (i - na !== j - nb) return i - na < j - nb ? -1 : 1;
    const ra = a.slice(na, i);
    const rb = b.slice(nb, j);
    if (ra !== rb) return ra < rb ? -1 : 1;
    if (na !== nb) return na < nb ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}
