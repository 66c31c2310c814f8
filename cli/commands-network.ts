// `netloom network ...`: one entry per command (flags, help, handler). Flags follow `docker network`
// wherever Docker has the same thing.
import type { Flags } from '../common/flags.js';
import type { Command } from './command.js';

const network = async () => (await import('./handlers.js')).network;

export const NETWORK_CREATE_FLAGS: Flags = {
  driver: {
    type: 'string',
    short: 'd',
    default: 'bridge',
    value: 'NAME',
    help: 'driver: bridge (default), or overlay (VXLAN across the hosts that share\nnetloomd --cluster-store; needs --subnet there; one host without it)',
  },
  subnet: {
    type: 'string',
    multiple: true,
    value: 'CIDR',
    help: 'subnet (repeatable: one IPv4 and one IPv6); default: from the pools\n172.17-31.0.0/16, then 192.168.0.0/16 as /20s, skipping host routes',
  },
  gateway: { type: 'string', multiple: true, value: 'IP', help: 'gateway of the subnet that contains it (default: its first address)' },
  'ip-range': { type: 'string', multiple: true, value: 'CIDR', help: 'hand out dynamic addresses only from this part of a subnet' },
  'aux-address': { type: 'string', multiple: true, value: 'k=IP', help: 'reserve an address (repeatable)' },
  ipv6: { type: 'boolean', help: 'enable IPv6 (a /64 from fd6e:6c6f:6f6d::/48 unless --subnet gives one)' },
  internal: { type: 'boolean', help: 'no route out, no NAT' },
  attachable: { type: 'boolean', help: 'accepted for Docker compatibility' },
  opt: {
    type: 'string',
    short: 'o',
    multiple: true,
    value: 'k=v',
    help: [
      'driver options: com.docker.network.bridge.name, .driver.mtu,',
      '.bridge.enable_icc, .bridge.enable_ip_masquerade, .bridge.host_binding_ipv4,',
      '.bridge.inhibit_ipv4, .container_iface_prefix (sandbox ifname prefix);',
      'an unknown option is kept, ignored and named in a WARNING (as Docker);',
      'overlay: .driver.mtu (default: underlay MTU - 50),',
      '.driver.overlay.vxlanid_list (the VNI; default: the lowest free from 4096)',
    ].join('\n'),
  },
  label: { type: 'string', multiple: true, value: 'k=v', help: 'metadata (repeatable)' },
  'ipam-driver': { type: 'string', default: 'default', value: 'NAME', help: 'default' },
  'ipam-opt': { type: 'string', multiple: true, value: 'k=v', help: 'IPAM options (recorded)' },
  'config-only': { type: 'boolean', help: 'record a configuration network: no bridge, no addresses, never pruned' },
  'config-from': {
    type: 'string',
    value: 'NAME',
    help: 'take subnets, options, labels and IPv6 from configuration network NAME\n(no --subnet/-o/--label/--ipv6 of its own, as Docker)',
  },
  scope: { type: 'string', value: 'local', help: 'accepted (global for overlay); swarm is refused: netloom has no swarm' },
  dns: {
    type: 'string',
    multiple: true,
    value: 'IP[:PORT]',
    help: "upstream for names netloom does not own, for this network's sandboxes\n(repeatable; default: the daemon's, from the host's resolv.conf)",
  },
};

export const CONNECT_FLAGS: Flags = {
  ip: { type: 'string', value: 'IP', help: 'static IPv4 address (network must have been created with --subnet)' },
  ip6: { type: 'string', value: 'IP', help: 'static IPv6 address' },
  alias: { type: 'string', multiple: true, value: 'NAME', help: 'extra name on this network (repeatable)' },
  dns: { type: 'string', multiple: true, value: 'IP[:PORT]', help: "upstream for this endpoint's outside names (repeatable)" },
  publish: {
    type: 'string',
    multiple: true,
    short: 'p',
    value: '[HOSTIP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]',
    help: [
      'publish container ports on the host (repeatable), as docker run -p:',
      '8080:80, 127.0.0.1:8080:80, [2001:db8::1]:8080:80, 53:53/udp,',
      '8000-8009:8000-8009, 80 (host port picked from ip_local_port_range);',
      "reachable from other hosts, from the host's own addresses and 127.0.0.1,",
      'and from the sandbox itself; no proxy process; all ports or none',
    ].join('\n'),
  },
};

const FILTER_HELP = [
  'as docker network ls: name=<regexp> (unanchored: name=^web), id=<regexp>,',
  'driver=bridge, scope=local, label=<key>[=<value>], type=custom|builtin,',
  "dangling=true|false; an unknown key is refused (Invalid filter 'lable')",
].join('\n');

export const NETWORK_COMMANDS: readonly Command[] = [
  {
    name: 'network create',
    summary: 'Create a network',
    usage: 'network create [OPTIONS] NETWORK',
    flags: NETWORK_CREATE_FLAGS,
    layout: { width: 25, indentLong: true },
    notes:
      "User-defined bridge networks get an embedded DNS server on their gateway address: sandboxes\nresolve each other's names and aliases (also as name.network), across the networks they share.",
    kind: 'api',
    handler: async () => (await network()).create,
  },
  {
    name: 'network ls',
    summary: 'List networks',
    usage: 'network ls [--format table|json] [-q] [-f key=value]...',
    flags: {
      format: { type: 'string', value: 'json', help: 'print a JSON array (Name, Id, Driver, Scope, IPAM, ...)' },
      quiet: { type: 'boolean', short: 'q', help: 'print network IDs only' },
      filter: { type: 'string', short: 'f', multiple: true, value: 'k=v', help: FILTER_HELP },
    },
    kind: 'api',
    handler: async () => (await network()).ls,
  },
  {
    name: 'network inspect',
    summary: 'Show networks as JSON (like docker network inspect)',
    usage: 'network inspect NETWORK [NETWORK...]',
    about: [
      'Prints a JSON array shaped like docker network inspect: Name, Id, Created, Scope, Driver,',
      'EnableIPv6, IPAM, Internal, Attachable, Containers (by sandbox id: Name, EndpointID, MacAddress,',
      'IPv4Address, IPv6Address), Options, Labels. NETWORK is a name, an ID or a unique ID prefix.',
    ].join('\n'),
    kind: 'api',
    handler: async () => (await network()).inspect,
  },
  {
    name: 'network connect',
    summary: 'Connect a sandbox to a network',
    usage: 'network connect [OPTIONS] NETWORK SANDBOX',
    about: 'The sandbox gets the next interface (eth0, eth1, ...) and an address from the network.',
    flags: CONNECT_FLAGS,
    layout: { width: 15 },
    kind: 'api',
    handler: async () => (await network()).connect,
  },
  {
    name: 'network disconnect',
    summary: 'Disconnect a sandbox from a network',
    usage: 'network disconnect [-f] NETWORK SANDBOX',
    about: "Removes the sandbox's interface on that network and frees its addresses.",
    flags: { force: { type: 'boolean', short: 'f', help: 'accepted for Docker compatibility' } },
    kind: 'api',
    handler: async () => (await network()).disconnect,
  },
  {
    name: 'network rm',
    summary: 'Remove networks',
    usage: 'network rm NETWORK [NETWORK...]',
    about: 'Fails for a network that still has endpoints, naming them.',
    kind: 'api',
    handler: async () => (await network()).rm,
  },
  {
    name: 'network prune',
    summary: 'Remove all networks without endpoints',
    usage: 'network prune [-f] [--filter until=T] [--filter label=k[=v]] [--filter label!=k[=v]]',
    about: [
      'Removes every user-defined network without endpoints and prints their names (never the',
      'predefined ones, nor --config-only ones). Filters, as docker network prune:',
      '  until=T          only networks created before T: a duration back from now (24h, 1h30m),',
      '                   an RFC 3339 time or date (2026-11-30, 2026-11-30T10:00:00Z) or a unix timestamp',
      '  label=k[=v]      only networks with every such label',
      '  label!=k[=v]     not networks that carry every such label',
      "Any other filter is refused (Invalid filter 'lable') and nothing is deleted.",
    ].join('\n'),
    flags: {
      force: { type: 'boolean', short: 'f', help: 'do not ask (netloom never asks: accepted for Docker compatibility)' },
      filter: { type: 'string', multiple: true, value: 'k=v', help: 'until=, label= or label!= (repeatable; above)' },
    },
    kind: 'api',
    handler: async () => (await network()).prune,
  },
];
