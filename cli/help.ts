// --help texts. Flags follow `docker network` wherever Docker has the same thing.
const GLOBAL = `Global options (before or after the command):
  --socket PATH     netloomd's API socket (env NETLOOM_SOCKET, default /run/netloom/netloom.sock)
  --data-dir DIR    netloomd's state directory (env NETLOOM_DATA_DIR, default /var/lib/netloom)
The CLI starts netloomd in the background when nothing answers on the socket
(unless NETLOOM_NO_AUTOSTART is set).`;

export const HELP: Record<string, string> = {
  main: `Usage: netloom COMMAND

Container networking: networks, sandboxes (network namespaces that play the container) and
the drivers that join them (bridge, host, none, container:<sandbox>).

Commands:
  network    create, ls, inspect, connect, disconnect, rm, prune
  sandbox    create, ls, inspect, exec, rm
  dns        explain how a sandbox's name query is answered
  port       list a sandbox's published ports (like docker port)
  doctor     compare the records with the kernel; --fix repairs (exit 1 while they differ)
  plugin     check a Docker remote network + IPAM plugin (netloomd serves one)
  daemon     run netloomd in the foreground (same as netloomd; see netloom daemon --help)
  store      verify the data dir's records offline (checksums, no missing revision)
  system     reset: stop netloomd and remove everything netloom made on this host
  lab        bring up a topology file, check it against a truth table, draw it (netloom lab --help)

${GLOBAL}
Run 'netloom COMMAND --help' for more.`,

  network: `Usage: netloom network COMMAND

Commands:
  create      Create a network
  ls          List networks
  inspect     Show networks as JSON (like docker network inspect)
  connect     Connect a sandbox to a network
  disconnect  Disconnect a sandbox from a network
  rm          Remove networks
  prune       Remove all networks without endpoints`,

  'network create': `Usage: netloom network create [OPTIONS] NETWORK

Options:
  -d, --driver NAME        driver: bridge (default), or overlay (VXLAN across the hosts that share
                           netloomd --cluster-store; needs --subnet there; one host without it)
      --subnet CIDR        subnet (repeatable: one IPv4 and one IPv6); default: from the pools
                           172.17-31.0.0/16, then 192.168.0.0/16 as /20s, skipping host routes
      --gateway IP         gateway of the subnet that contains it (default: its first address)
      --ip-range CIDR      hand out dynamic addresses only from this part of a subnet
      --aux-address k=IP   reserve an address (repeatable)
      --ipv6               enable IPv6 (a /64 from fd6e:6c6f:6f6d::/48 unless --subnet gives one)
      --internal           no route out, no NAT
      --attachable         accepted for Docker compatibility
  -o, --opt k=v            driver options: com.docker.network.bridge.name, .driver.mtu,
                           .bridge.enable_icc, .bridge.enable_ip_masquerade, .bridge.host_binding_ipv4,
                           .bridge.inhibit_ipv4, .container_iface_prefix (sandbox ifname prefix);
                           an unknown option is kept, ignored and named in a WARNING (as Docker);
                           overlay: .driver.mtu (default: underlay MTU - 50),
                           .driver.overlay.vxlanid_list (the VNI; default: the lowest free from 4096)
      --label k=v          metadata (repeatable)
      --ipam-driver NAME   default
      --ipam-opt k=v       IPAM options (recorded)
      --config-only        record a configuration network: no bridge, no addresses, never pruned
      --config-from NAME   take subnets, options, labels and IPv6 from configuration network NAME
                           (no --subnet/-o/--label/--ipv6 of its own, as Docker)
      --scope local        accepted (global for overlay); swarm is refused: netloom has no swarm
      --dns IP[:PORT]      upstream for names netloom does not own, for this network's sandboxes
                           (repeatable; default: the daemon's, from the host's resolv.conf)

User-defined bridge networks get an embedded DNS server on their gateway address: sandboxes
resolve each other's names and aliases (also as name.network), across the networks they share.`,

  'network ls': `Usage: netloom network ls [--format table|json] [-q] [-f key=value]...

  --format json       print a JSON array (Name, Id, Driver, Scope, IPAM, ...)
  -q, --quiet         print network IDs only
  -f, --filter k=v    as docker network ls: name=<regexp> (unanchored: name=^web), id=<regexp>,
                      driver=bridge, scope=local, label=<key>[=<value>], type=custom|builtin,
                      dangling=true|false; an unknown key is refused (Invalid filter 'lable')`,

  'network inspect': `Usage: netloom network inspect NETWORK [NETWORK...]

Prints a JSON array shaped like docker network inspect: Name, Id, Created, Scope, Driver,
EnableIPv6, IPAM, Internal, Attachable, Containers (by sandbox id: Name, EndpointID, MacAddress,
IPv4Address, IPv6Address), Options, Labels. NETWORK is a name, an ID or a unique ID prefix.`,

  'network connect': `Usage: netloom network connect [OPTIONS] NETWORK SANDBOX

The sandbox gets the next interface (eth0, eth1, ...) and an address from the network.
Options:
  --ip IP        static IPv4 address (network must have been created with --subnet)
  --ip6 IP       static IPv6 address
  --alias NAME   extra name on this network (repeatable)
  --dns IP[:PORT]  upstream for this endpoint's outside names (repeatable)
  -p, --publish [HOSTIP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]
                 publish container ports on the host (repeatable), as docker run -p:
                 8080:80, 127.0.0.1:8080:80, [2001:db8::1]:8080:80, 53:53/udp,
                 8000-8009:8000-8009, 80 (host port picked from ip_local_port_range);
                 reachable from other hosts, from the host's own addresses and 127.0.0.1,
                 and from the sandbox itself; no proxy process; all ports or none`,

  'network disconnect': `Usage: netloom network disconnect [-f] NETWORK SANDBOX

Removes the sandbox's interface on that network and frees its addresses.`,

  'network rm': `Usage: netloom network rm NETWORK [NETWORK...]

Fails for a network that still has endpoints, naming them.`,

  'network prune': `Usage: netloom network prune [-f] [--filter until=T] [--filter label=k[=v]] [--filter label!=k[=v]]

Removes every user-defined network without endpoints and prints their names (never the
predefined ones, nor --config-only ones). Filters, as docker network prune:
  until=T          only networks created before T: a duration back from now (24h, 1h30m),
                   an RFC 3339 time or date (2026-11-30, 2026-11-30T10:00:00Z) or a unix timestamp
  label=k[=v]      only networks with every such label
  label!=k[=v]     not networks that carry every such label
Any other filter is refused (Invalid filter 'lable') and nothing is deleted.`,

  sandbox: `Usage: netloom sandbox COMMAND

A sandbox is a named network namespace (ip netns sees it) that plays the container.
Commands:
  create    Create a sandbox (joins the default "bridge" network unless --network says otherwise)
  ls        List sandboxes
  inspect   Show sandboxes as JSON
  exec      Run a command inside a sandbox
  rm        Remove sandboxes (disconnects them first)`,

  'sandbox create': `Usage: netloom sandbox create [OPTIONS] NAME

Options:
  --network NET   a network to join (default: bridge), or a mode:
                  host (the daemon's namespace), none (lo only),
                  container:<sandbox> (share that sandbox's namespace)
  --ip IP, --ip6 IP, --alias NAME, --dns IP, -p/--publish SPEC   as for network connect
  --dns-search DOMAIN   search domain in the sandbox's resolv.conf (repeatable)
  --dns-option OPT      resolv.conf option, e.g. ndots:2 (repeatable)
  -h, --hostname NAME   its own UTS namespace with this host name (docker run -h); hosts maps
                        its addresses to it; netloom sandbox exec enters it
  --domainname DOMAIN   its domain name (docker run --domainname)
  --link NAME[:ALIAS]   legacy link, default bridge only: NAME (and ALIAS) in this sandbox's
                        hosts, one way; with netloomd --icc=false, the pair may talk on NAME's
                        exposed ports (every port if it exposes none) (repeatable)
  --add-host NAME:IP    a hosts entry; IP host-gateway = the default bridge's gateway (repeatable)
  --mac-address MAC     the MAC of its interface on the network it joins
  --expose PORT[-END][/PROTO]   a port it offers (repeatable)
  -P, --publish-all     publish every exposed port on a free host port
                        (net.ipv4.ip_local_port_range); netloom port lists them
  --help                this help (-h is --hostname here, as in docker run)

The sandbox's /etc/resolv.conf and /etc/hosts live in /etc/netns/NAME/, which both
netloom sandbox exec and ip netns exec use; --dns servers go in its resolv.conf when no
embedded DNS serves it (the default bridge), else the embedded DNS forwards to them.`,

  'sandbox ls': `Usage: netloom sandbox ls [--format table|json]`,
  port: `Usage: netloom port SANDBOX [PORT[/PROTO]]

Lists the sandbox's published ports as docker port does ("80/tcp -> 0.0.0.0:8080"); with PORT,
only the host addresses that port is published on.`,
  doctor: `Usage: netloom doctor [--fix] [--format json]

Compares what netloom's records say with what the kernel has: sandbox namespaces, bridges and
veths (present, up, enslaved), addresses, default routes, netloom's iptables chains and jumps
(IPv4 and IPv6), published ports, and links tagged as netloom's that no record explains.
Objects no record explains are listed as "unexplained" (after netloomd --salvage they are
kept, never removed, until --fix).
Exits 0 when they agree and 1 when they differ. --fix re-applies the records (as a restart
does), removes the unexplained, rebuilds the firewall, looks again, and exits 0 if all is
repaired.
Both are idempotent. Also shows the firewall guard's counts: netloomd checks its rules every
2 s (netloomd --firewall-check) and restores them when they drifted.`,
  'sandbox inspect': `Usage: netloom sandbox inspect SANDBOX [SANDBOX...]`,
  'sandbox exec': `Usage: netloom sandbox exec SANDBOX [--] COMMAND [ARG...]

Runs COMMAND inside the sandbox's namespace (like ip netns exec) and exits with its status.`,
  'sandbox rm': `Usage: netloom sandbox rm SANDBOX [SANDBOX...]`,
  dns: `Usage: netloom dns explain [-t TYPE] SANDBOX NAME

Shows how NAME is answered when SANDBOX asks: which network, alias or upstream produced the
answer, and why (a name on a network the sandbox does not share is never answered).`,
  'dns explain': `Usage: netloom dns explain [-t A|AAAA|PTR|...] SANDBOX NAME`,
  plugin: `Usage: netloom plugin check [--restart-cmd CMD] [--no-link-check] SOCKET

netloomd serves the Docker remote network + IPAM plugin protocol on
/run/docker/plugins/netloom.sock (netloomd --plugin-socket): with dockerd in the same network
namespace, 'docker network create -d netloom --ipam-driver netloom NAME' uses netloom's bridge
driver and IPAM. 'plugin check' drives any such plugin as an engine would and reports.`,
  'plugin check': `Usage: netloom plugin check [OPTIONS] SOCKET

Conformance kit for Docker remote network + IPAM plugins: plays the engine's calls in its order
(pools, gateway, network, addresses, endpoint, join, leave, releases), then repeats, unknown IDs,
malformed and oversized bodies, an unknown method and a leak check. One PASS/FAIL line per check;
exits 1 if any check failed. It creates and removes one network through the plugin.

Options:
  --restart-cmd CMD  shell command that restarts the plugin; run between Join and Leave to check
                     that state survives (skipped without it)
  --no-link-check    do not look for Join's interface here (the plugin runs in another netns)`,
  store: `Usage: netloom store verify [--data-dir DIR]

Checks netloomd's store offline, without a daemon: every log record's checksum, that no revision
is missing, the snapshot's checksum. Exits 0 when sound, 1 with each damaged place listed (file,
byte offset, revision). netloomd refuses to start on a damaged store; 'netloomd --salvage' keeps
every record that verifies and moves the damaged file aside.`,
  'store verify': `Usage: netloom store verify [--data-dir DIR]   (see netloom store --help)`,
  system: `Usage: netloom system reset [-f]

Stops the netloomd answering on --socket (by the PID it reports), removes its sandboxes and this
host's networks through it (overlay endpoints leave the cluster store; cluster-wide networks stay
for the other hosts), then removes everything netloom made on this host even without a daemon:
sandbox namespaces and /etc/netns/<sandbox> entries (from the records), links tagged as this
instance's, the NETLOOM* iptables and ip6tables chains and the jumps to them, the API and plugin
sockets, and the data dir. Nobody else's links or rules are touched. Asks first; -f does not ask
(without a terminal, -f is required). Exits 1 if anything could not be removed (each listed).`,
  'system reset': `Usage: netloom system reset [-f]   (see netloom system --help)`,
};
