// A command's flags, declared once: the parser's options and the --help lines both come from
// here (the CLI's table is cli/commands.ts, the daemon's daemon/flags.ts, the lab's lab/commands.ts).
// Pure: unit-tested in test/unit/commands.test.ts.
import type { ParseArgsConfig } from 'node:util';

export interface Flag {
  readonly type: 'string' | 'boolean';
  /** One-letter alias: -d for --driver. */
  readonly short?: string;
  readonly multiple?: boolean;
  /** Given to the parser: the value when the flag is absent. */
  readonly default?: string | boolean;
  /** The value's name in --help (`--subnet CIDR`); one starting with "=" is attached (`--icc=false`). */
  readonly value?: string;
  /** Help text; a "\n" starts a continuation line, indented under the first. */
  readonly help: string;
  /** Listed in --help on one line with its neighbours of the same value, "as for <sameAs>". */
  readonly sameAs?: string;
}

export type Flags = Readonly<Record<string, Flag>>;

type ValueOf<F> = F extends { type: 'boolean' } ? boolean : F extends { multiple: true } ? string[] : string;
/** What the parser gives for a table declared `as const`. */
export type ValuesOf<T> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

export type ParseOptions = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs options for a flag table. */
export function parseOptions(flags: Flags): ParseOptions {
  const out: ParseOptions = {};
  for (const [name, f] of Object.entries(flags)) {
    out[name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
      ...(f.default !== undefined ? { default: f.default } : {}),
    } as ParseOptions[string];
  }
  return out;
}

/** How a command's options are laid out: the label column's width (after two spaces), and whether
 *  long-only flags are indented under the short ones (`-d, --driver` / `    --subnet`). */
export interface Layout {
  readonly width: number;
  readonly indentLong?: boolean;
  /** A label longer than this puts its help on the next line (default 48). */
  readonly wrapAt?: number;
}

export function flagLabel(name: string, f: Flag, indentLong = false): string {
  const value = !f.value ? '' : f.value.startsWith('=') ? f.value : ` ${f.value}`;
  return `${f.short ? `-${f.short}, ` : indentLong ? '    ' : ''}--${name}${value}`;
}

/** One option's lines: the label, then its help at the column (two spaces after a long label). */
export function optionLines(label: string, help: string, { width, wrapAt = 48 }: Layout): string[] {
  const [first, ...rest] = help.split('\n');
  const pad = ' '.repeat(width + 2);
  const more = rest.map((l) => pad + l);
  if (label.length > wrapAt) return [`  ${label}`, pad + first, ...more];
  return [`  ${label.length < width ? label.padEnd(width) : `${label}  `}${first}`, ...more];
}

/** The --help lines of a flag table; neighbours with the same `sameAs` share one line. */
export function renderFlags(flags: Flags, layout: Layout): string {
  const lines: string[] = [];
  const entries = Object.entries(flags);
  for (let i = 0; i < entries.length; i++) {
    const [name, f] = entries[i];
    if (!f.sameAs) {
      lines.push(...optionLines(flagLabel(name, f, layout.indentLong), f.help, layout));
      continue;
    }
    const group = [name];
    while (entries[i + 1]?.[1].sameAs === f.sameAs) group.push(entries[++i][0]);
    const label = group.map((n) => (flags[n].short ? `-${flags[n].short}/--${n}` : `--${n}`)).join(', ');
    lines.push(...optionLines(label, `as for ${f.sameAs}`, layout));
  }
  return lines.join('\n');
}

/** A list of names and what they do (`  create      Create a network`), aligned at the column. */
export function renderList(items: readonly (readonly [string, string])[], layout: Layout): string {
  return items.map(([name, text]) => optionLines(name, text, layout).join('\n')).join('\n');
}
