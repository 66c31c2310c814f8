// `netloom lab ...`: each lab command (usage, what it does) and the lab's flags, declared once;
// lab/main.ts parses with them and `netloom lab --help` (LAB_HELP) is made from them.
import { parseOptions, renderList, type ValuesOf } from '../common/flags.js';

export interface LabCommand {
  readonly name: string;
  /** After `netloom lab `. */
  readonly usage: string;
  readonly summary: string;
}

export const LAB_COMMANDS: readonly LabCommand[] = [
  { name: 'validate', usage: 'validate FILE', summary: 'check the file only (errors name FILE:LINE:COL)' },
  { name: 'up', usage: 'up FILE [--host]', summary: 'bring the lab up; idempotent; progress per phase' },
  {
    name: 'check',
    usage: 'check FILE [--junit F] [--json F] [--tap] [-v] [--retry N] [--capture-failures DIR]',
    summary: [
      "run the expectations: a truth table per reach block ('.' as expected,",
      "'X' not; -v shows ✓ reached / ✗ not), one line per other problem and",
      'why; F may be - for stdout; then the steps. --retry N tries what was',
      'not as expected up to N more times: as expected only on a retry is',
      "flaky ('~', JUnit <flakyFailure>), never a plain pass.",
      '--capture-failures DIR keeps a pcap per failed reach cell (tcpdump in',
      'the source node while its probe is sent again)',
    ].join('\n'),
  },
  { name: 'down', usage: 'down FILE [--host]', summary: 'remove everything of the lab; exits 1 naming anything left' },
  { name: 'run', usage: 'run FILE [--host] [--keep] [check options]', summary: "up, check, down; exits with check's status" },
  { name: 'ls', usage: 'ls', summary: 'list the labs that are up' },
  { name: 'inspect', usage: 'inspect FILE', summary: "each node's interfaces, addresses, names and published ports" },
  { name: 'exec', usage: 'exec FILE NODE -- CMD', summary: 'run CMD inside a node' },
  {
    name: 'capture',
    usage: 'capture FILE NODE[:IFACE] [-w F.pcap] [--for DURATION]',
    summary: 'tcpdump inside a node (every interface unless one is named), to F or\nto stdout, for DURATION (20s, 500ms) or until interrupted',
  },
  { name: 'graph', usage: 'graph FILE --svg OUT | --mermaid [--results F]', summary: 'draw the lab (coloured by the last check, or by F from check --json)' },
];

/** The flags every lab command accepts (each uses its own; the usages above say which). */
export const LAB_FLAGS = {
  help: { type: 'boolean', short: 'h', help: 'this help' },
  host: { type: 'boolean', help: "use the machine's netloomd instead of a host namespace of the lab's own" },
  socket: { type: 'string', value: 'PATH', help: "with --host: that netloomd's API socket" },
  junit: { type: 'string', value: 'F', help: 'check: write a JUnit report to F (- = stdout)' },
  json: { type: 'string', value: 'F', help: 'check: write the report as JSON to F (- = stdout)' },
  tap: { type: 'boolean', help: 'check: print TAP instead of the truth tables' },
  verbose: { type: 'boolean', short: 'v', help: 'check: show ✓ reached / ✗ not in the truth tables' },
  svg: { type: 'string', value: 'OUT', help: 'graph: write an SVG picture to OUT' },
  mermaid: { type: 'boolean', help: 'graph: print a Mermaid diagram' },
  results: { type: 'string', value: 'F', help: 'graph: colour by F (from check --json) instead of the last check' },
  keep: { type: 'boolean', help: 'run: leave the lab up after the check' },
  retry: { type: 'string', value: 'N', help: 'check: try what was not as expected up to N (0 to 10) more times' },
  'capture-failures': { type: 'string', value: 'DIR', help: 'check: keep a pcap per failed reach cell in DIR' },
} as const;
export type LabValues = ValuesOf<typeof LAB_FLAGS>;
export const LAB_OPTIONS = parseOptions(LAB_FLAGS);

/** `lab capture`'s own flags. */
export const CAPTURE_FLAGS = {
  w: { type: 'string', short: 'w', value: 'F.pcap', help: 'write the packets to this file (default: stdout)' },
  for: { type: 'string', value: 'DURATION', help: 'stop after DURATION (20s, 500ms)' },
} as const;
export type CaptureValues = ValuesOf<typeof CAPTURE_FLAGS>;
export const CAPTURE_OPTIONS = parseOptions(CAPTURE_FLAGS);

export const LAB_HELP = `Usage: netloom lab COMMAND FILE [OPTIONS]

A network lab: a topology file (*.loom.yaml, schema in lab/lab.schema.json) brought up as netloom
sandboxes and networks, checked against a truth table of what should and should not work, and drawn.
By default a lab runs in a host namespace of its own (nllab-NAME) with its own netloomd, so it never
touches this machine's links, routes or iptables; --host uses the machine's netloomd instead.

Commands:
${renderList(
  LAB_COMMANDS.map((c) => [c.usage, c.summary] as const),
  { width: 25, wrapAt: 24 },
)}

A file may declare impairments (netem: on an attachment or a link; one-way per direction, both =
each way, so delay 20ms both is a 40 ms round trip) measured by expect rtt/loss, and steps: a
timeline that check runs after the top-level expectations, each step's actions (link, netem,
connect/disconnect, node stop/start, daemon kill/stop/start/restart, iptables flush, exec, wait)
followed by expectations polled until they hold within its deadline (within:, default 5s); the
time to heal is reported per step (a JUnit testsuite each). hosts: makes a multi-host lab (each
host a namespace with its own netloomd, an underlay with a real etcd, overlay networks across
them; steps partition, heal, etcd stop/start, daemon ... host). See README, Labs.

Exit codes: 0 all as expected; 1 something was not (or down left something); 2 invalid file or
usage; 3 the lab could not be brought up or probed; 4 no check ran (an empty expect never passes).
`;
