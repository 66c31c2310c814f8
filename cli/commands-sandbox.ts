// `netloom sandbox ...`: one entry per command (flags, help, handler).
import type { Flags } from '../common/flags.js';
import type { Command } from './command.js';
import { CONNECT_FLAGS } from './commands-network.js';

const sandbox = async () => (await import('./handlers.js')).sandbox;

/** `sandbox create` flags: the network ones plus what `docker run` gives a container. -h is
 *  --hostname here, as in `docker run`; --help stays help. */
export const SANDBOX_CREATE_FLAGS: Flags = {
  network: {
    type: 'string',
    value: 'NET',
    help: "a network to join (default: bridge), or a mode:\nhost (the daemon's namespace), none (lo only),\ncontainer:<sandbox> (share that sandbox's namespace)",
  },
  'dns-search': { type: 'string', multiple: true, value: 'DOMAIN', help: "search domain in the sandbox's resolv.conf (repeatable)" },
  'dns-option': { type: 'string', multiple: true, value: 'OPT', help: 'resolv.conf option, e.g. ndots:2 (repeatable)' },
  ...Object.fromEntries(Object.entries(CONNECT_FLAGS).map(([k, f]) => [k, { ...f, sameAs: 'network connect' }])),
  hostname: {
    type: 'string',
    short: 'h',
    value: 'NAME',
    help: 'its own UTS namespace with this host name (docker run -h); hosts maps\nits addresses to it; netloom sandbox exec enters it',
  },
  domainname: { type: 'string', value: 'DOMAIN', help: 'its domain name (docker run --domainname)' },
  link: {
    type: 'string',
    multiple: true,
    value: 'NAME[:ALIAS]',
    help: [
      "legacy link, default bridge only: NAME (and ALIAS) in this sandbox's",
      "hosts, one way; with netloomd --icc=false, the pair may talk on NAME's",
      'exposed ports (every port if it exposes none) (repeatable)',
    ].join('\n'),
  },
  'add-host': { type: 'string', multiple: true, value: 'NAME:IP', help: "a hosts entry; IP host-gateway = the default bridge's gateway (repeatable)" },
  'mac-address': { type: 'string', value: 'MAC', help: 'the MAC of its interface on the network it joins' },
  expose: { type: 'string', multiple: true, value: 'PORT[-END][/PROTO]', help: 'a port it offers (repeatable)' },
  'publish-all': {
    type: 'boolean',
    short: 'P',
    help: 'publish every exposed port on a free host port\n(net.ipv4.ip_local_port_range); netloom port lists them',
  },
  help: { type: 'boolean', help: 'this help (-h is --hostname here, as in docker run)' },
};

export const SANDBOX_COMMANDS: readonly Command[] = [
  {
    name: 'sandbox create',
    summary: 'Create a sandbox (joins the default "bridge" network unless --network says otherwise)',
    usage: 'sandbox create [OPTIONS] NAME',
    flags: SANDBOX_CREATE_FLAGS,
    layout: { width: 22 },
    notes: [
      "The sandbox's /etc/resolv.conf and /etc/hosts live in /etc/netns/NAME/, which both",
      'netloom sandbox exec and ip netns exec use; --dns servers go in its resolv.conf when no',
      'embedded DNS serves it (the default bridge), else the embedded DNS forwards to them.',
    ].join('\n'),
    kind: 'api',
    handler: async () => (await sandbox()).create,
  },
  {
    name: 'sandbox ls',
    summary: 'List sandboxes',
    usage: 'sandbox ls [--format table|json]',
    flags: { format: { type: 'string', value: 'json', help: 'print a JSON array' } },
    kind: 'api',
    handler: async () => (await sandbox()).ls,
  },
  {
    name: 'sandbox inspect',
    summary: 'Show sandboxes as JSON',
    usage: 'sandbox inspect SANDBOX [SANDBOX...]',
    kind: 'api',
    handler: async () => (await sandbox()).inspect,
  },
  {
    name: 'sandbox exec',
    summary: 'Run a command inside a sandbox',
    usage: 'sandbox exec SANDBOX [--] COMMAND [ARG...]',
    about: "Runs COMMAND inside the sandbox's namespace (like ip netns exec) and exits with its status.",
    kind: 'raw',
    handler: async () => (await sandbox()).exec,
  },
  {
    name: 'sandbox rm',
    summary: 'Remove sandboxes (disconnects them first)',
    usage: 'sandbox rm SANDBOX [SANDBOX...]',
    kind: 'api',
    handler: async () => (await sandbox()).rm,
  },
];
