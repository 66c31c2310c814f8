// Reading a command's arguments with its flag table (node:util parseArgs), plus the global flags.
// Imported by the CLI's start only (cli/main.ts); pure, unit-tested in test/unit/args.test.ts.
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import type { Flags, ParseOptions } from '../common/flags.js';
import type { Parsed } from './command.js';

export const GLOBAL_OPTIONS: ParseOptions = {
  socket: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** A flag table is also parseArgs' options: it reads type, short, multiple and default and
 *  ignores the rest (so the CLI's start loads no conversion). */
export function parse(args: readonly string[], options: Flags | ParseOptions): Parsed {
  try {
    // A command may take -h for itself (sandbox create: --hostname, as `docker run`); --help stays.
    const hTaken = Object.values(options).some((o) => o.short === 'h');
    const globals = hTaken ? { ...GLOBAL_OPTIONS, help: { type: 'boolean' as const } } : GLOBAL_OPTIONS;
    const r = parseArgs({ args: [...args], options: { ...globals, ...(options as ParseOptions) }, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^Unknown option '([^']*)'.*/s, 'unknown flag: $1'));
  }
}
