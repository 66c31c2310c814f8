// What a CLI command is: the shape of one entry of cli/commands.ts (cli/help.ts renders its --help).
import type { InstancePaths } from '../common/config.js';
import type { Flags, Layout } from '../common/flags.js';

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** --socket and --data-dir given before the command words. */
export interface Globals {
  socket?: string;
  dataDir?: string;
}

/** Talks to netloomd: when nothing answers, the CLI starts one and runs the handler again. */
export type ApiHandler = (p: Parsed, paths: InstancePaths) => Promise<number | void>;
/** What the CLI gives a handler that runs without netloomd's API (or reaches it itself). */
export interface Context {
  readonly globals: Globals;
  /** Prints a line on stdout. */
  out(s: string): void;
  /** Starts netloomd when nothing answers on paths.socket. */
  ensureDaemon(paths: InstancePaths): Promise<void>;
  /** The scripts of netloomd and of this CLI (bundled or built), for the commands that start them. */
  daemonScript(): string;
  cliScript(): string;
}
/** Runs without netloomd's API (or asks for it itself). */
export type LocalHandler = (p: Parsed, ctx: Context) => Promise<number>;
/** Gets its arguments as typed (sandbox exec, daemon, lab): it parses and helps itself. A negative
 *  number keeps the process running (the daemon). */
export type RawHandler = (args: string[], ctx: Context) => Promise<number>;

interface Base {
  /** The words that name it: "network create", "doctor". */
  readonly name: string;
  /** Its line in the group's (or netloom's) command list. */
  readonly summary: string;
  /** After "Usage: netloom ". */
  readonly usage: string;
  /** Prose between the usage and the options. */
  readonly about?: string;
  readonly flags?: Flags;
  readonly layout?: Layout;
  /** Prose after the options. */
  readonly notes?: string;
}

/** Handlers are imported when their command runs, never at start (test/unit/cli-graph.test.ts). */
export type Command = Base &
  (
    | { readonly kind: 'api'; readonly handler: () => Promise<ApiHandler> }
    | { readonly kind: 'local'; readonly handler: () => Promise<LocalHandler> }
    | { readonly kind: 'raw'; readonly handler: () => Promise<RawHandler> }
  );

/** A command group (`netloom network ...`): the command list in its --help comes from the entries. */
export interface Group {
  readonly name: string;
  /** Its line in `netloom --help` (default: its commands' last words). */
  readonly summary?: string;
  readonly about?: string;
}
