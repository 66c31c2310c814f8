// Every netloom command, declared once: name, usage, flags (type, default, help), prose and a lazily
// imported handler. cli/main.ts dispatches on this table and every --help is made from it; the
// README's command list is checked against it (test/unit/commands.test.ts).
import { DAEMON_V8_FLAGS } from '../common/config.js';
import type { Command, Group } from './command.js';
import { CONNECT_FLAGS, NETWORK_COMMANDS, NETWORK_CREATE_FLAGS } from './commands-network.js';
import { SANDBOX_COMMANDS, SANDBOX_CREATE_FLAGS } from './commands-sandbox.js';

const diagnose = async () => (await import('./handlers.js')).diagnose;

export const GLOBAL_HELP = `Global options (before or after the command):
  --socket PATH     netloomd's API socket (env NETLOOM_SOCKET, default /run/netloom/netloom.sock)
  --data-dir DIR    netloomd's state directory (env NETLOOM_DATA_DIR, default /var/lib/netloom)
The CLI starts netloomd in the background when nothing answers on the socket
(unless NETLOOM_NO_AUTOSTART is set).`;

export const ABOUT = `Container networking: networks, sandboxes (network namespaces that play the container) and
the drivers that join them (bridge, host, none, container:<sandbox>).`;

export const GROUPS: readonly Group[] = [
  { name: 'network' },
  { name: 'sandbox', about: 'A sandbox is a named network namespace (ip netns sees it) that plays the container.' },
  { name: 'dns', summary: "explain how a sandbox's name query is answered" },
  { name: 'plugin', summary: 'check a Docker remote network + IPAM plugin (netloomd serves one)' },
  { name: 'store', summary: "verify the data dir's records offline (checksums, no missing revision)" },
  { name: 'system', summary: 'reset: stop netloomd and remove everything netloom made on this host' },
];

const OTHER_COMMANDS: readonly Command[] = [
  {
    name: 'dns explain',
    summary: "Explain how a sandbox's name query is answered",
    usage: 'dns explain [-t A|AAAA|PTR|...] SANDBOX NAME',
    about: [
      'Shows how NAME is answered when SANDBOX asks: which network, alias or upstream produced the',
      'answer, and why (a name on a network the sandbox does not share is never answered).',
    ].join('\n'),
    flags: { type: { type: 'string', short: 't', default: 'A', value: 'TYPE', help: 'the query type (default A)' } },
    kind: 'api',
    handler: async () => (await diagnose()).dnsExplain,
  },
  {
    name: 'port',
    summary: "list a sandbox's published ports (like docker port)",
    usage: 'port SANDBOX [PORT[/PROTO]]',
    about:
      'Lists the sandbox\'s published ports as docker port does ("80/tcp -> 0.0.0.0:8080"); with PORT,\nonly the host addresses that port is published on.',
    kind: 'api',
    handler: async () => (await import('./handlers.js')).sandbox.port,
  },
  {
    name: 'doctor',
    summary: 'compare the records with the kernel; --fix repairs (exit 1 while they differ)',
    usage: 'doctor [--fix] [--format json]',
    about: [
      "Compares what netloom's records say with what the kernel has: sandbox namespaces, bridges and",
      "veths (present, up, enslaved), addresses, default routes, netloom's iptables chains and jumps",
      "(IPv4 and IPv6), published ports, and links tagged as netloom's that no record explains.",
      'Objects no record explains are listed as "unexplained" (after netloomd --salvage they are',
      'kept, never removed, until --fix).',
      'Exits 0 when they agree and 1 when they differ. --fix re-applies the records (as a restart',
      'does), removes the unexplained, rebuilds the firewall, looks again, and exits 0 if all is',
      'repaired.',
      "Both are idempotent. Also shows the firewall guard's counts: netloomd checks its rules every",
      '2 s (netloomd --firewall-check) and restores them when they drifted.',
    ].join('\n'),
    flags: {
      fix: { type: 'boolean', help: 'repair the differences, then look again' },
      format: { type: 'string', value: 'json', help: 'print the findings as JSON' },
    },
    kind: 'api',
    handler: async () => (await diagnose()).doctor,
  },
  {
    name: 'plugin check',
    summary: 'Check a Docker remote network + IPAM plugin',
    usage: 'plugin check [OPTIONS] SOCKET',
    about: [
      "Conformance kit for Docker remote network + IPAM plugins: plays the engine's calls in its order",
      '(pools, gateway, network, addresses, endpoint, join, leave, releases), then repeats, unknown IDs,',
      'malformed and oversized bodies, an unknown method and a leak check. One PASS/FAIL line per check;',
      'exits 1 if any check failed. It creates and removes one network through the plugin.',
    ].join('\n'),
    flags: {
      'restart-cmd': {
        type: 'string',
        value: 'CMD',
        help: 'shell command that restarts the plugin; run between Join and Leave to check\nthat state survives (skipped without it)',
      },
      'no-link-check': { type: 'boolean', help: "do not look for Join's interface here (the plugin runs in another netns)" },
    },
    layout: { width: 19 },
    notes: [
      'netloomd serves the Docker remote network + IPAM plugin protocol on',
      '/run/docker/plugins/netloom.sock (netloomd --plugin-socket): with dockerd in the same network',
      "namespace, 'docker network create -d netloom --ipam-driver netloom NAME' uses netloom's bridge",
      "driver and IPAM. 'plugin check' drives any such plugin as an engine would and reports.",
    ].join('\n'),
    kind: 'local',
    handler: async () => (await import('./plugin.js')).pluginCheck,
  },
  {
    name: 'daemon',
    summary: 'run netloomd in the foreground (same as netloomd; see netloom daemon --help)',
    usage: 'daemon [OPTIONS]',
    kind: 'raw',
    async handler() {
      // As daemon/entry.ts does for netloomd (set later here: the CLI's few modules are loaded).
      (await import('node:v8')).setFlagsFromString(process.env.NETLOOMD_V8_FLAGS ?? DAEMON_V8_FLAGS);
      const { runDaemon } = await import('../daemon/main.js');
      return async (args, { globals: g }) => {
        await runDaemon([...(g.socket ? ['--socket', g.socket] : []), ...(g.dataDir ? ['--data-dir', g.dataDir] : []), ...args]);
        return -1; // keep running
      };
    },
  },
  {
    name: 'store verify',
    summary: "Verify the data dir's records offline",
    usage: 'store verify [--data-dir DIR]',
    about: [
      "Checks netloomd's store offline, without a daemon: every log record's checksum, that no revision",
      "is missing, the snapshot's checksum. Exits 0 when sound, 1 with each damaged place listed (file,",
      "byte offset, revision). netloomd refuses to start on a damaged store; 'netloomd --salvage' keeps",
      'every record that verifies and moves the damaged file aside.',
    ].join('\n'),
    flags: { 'data-dir': { type: 'string', value: 'DIR', help: "netloomd's state directory (as the global --data-dir)" } },
    kind: 'local',
    handler: async () => (await import('./store.js')).storeVerifyCommand,
  },
  {
    name: 'system reset',
    summary: 'Stop netloomd and remove everything netloom made on this host',
    usage: 'system reset [-f]',
    about: [
      'Stops the netloomd answering on --socket (by the PID it reports), removes its sandboxes and this',
      "host's networks through it (overlay endpoints leave the cluster store; cluster-wide networks stay",
      'for the other hosts), then removes everything netloom made on this host even without a daemon:',
      'sandbox namespaces and /etc/netns/<sandbox> entries (from the records), links tagged as',
      "netloom's, the NETLOOM* iptables and ip6tables chains and the jumps to them, the API and plugin",
      "sockets, and the data dir. Nobody else's links or rules are touched. Asks first; -f does not ask",
      '(without a terminal, -f is required). Exits 1 if anything could not be removed (each listed).',
    ].join('\n'),
    flags: { force: { type: 'boolean', short: 'f', help: 'do not ask' } },
    kind: 'local',
    handler: async () => (await import('./reset.js')).systemResetCommand,
  },
  {
    name: 'lab',
    summary: 'bring up a topology file, check it against a truth table, draw it (netloom lab --help)',
    usage: 'lab COMMAND FILE [OPTIONS]',
    kind: 'raw',
    async handler() {
      const { labMain } = await import('../lab/main.js');
      return (args, ctx) => labMain(args, { daemonScript: ctx.daemonScript(), cliScript: ctx.cliScript() }, ctx.globals.socket);
    },
  },
];

/** In `netloom --help`'s order. */
export const COMMANDS: readonly Command[] = [...NETWORK_COMMANDS, ...SANDBOX_COMMANDS, ...OTHER_COMMANDS];

export const commandNamed = (name: string): Command | undefined => COMMANDS.find((c) => c.name === name);
export const groupNamed = (name: string): Group | undefined => GROUPS.find((g) => g.name === name);

/** The flags of the commands whose flags build request bodies (test/unit/args.test.ts parses with them). */
export { CONNECT_FLAGS as CONNECT_OPTIONS, NETWORK_CREATE_FLAGS as NETWORK_CREATE_OPTIONS, SANDBOX_CREATE_FLAGS as SANDBOX_CREATE_OPTIONS };
