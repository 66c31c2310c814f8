// `netloom lab --help`.
export const LAB_HELP = `Usage: netloom lab COMMAND FILE [OPTIONS]

A network lab: a topology file (*.loom.yaml, schema in lab/lab.schema.json) brought up as netloom
sandboxes and networks, checked against a truth table of what should and should not work, and drawn.
By default a lab runs in a host namespace of its own (nllab-NAME) with its own netloomd, so it never
touches this machine's links, routes or iptables; --host uses the machine's netloomd instead.

Commands:
  validate FILE            check the file only (errors name FILE:LINE:COL)
  up FILE [--host]         bring the lab up; idempotent; progress per phase
  check FILE [--junit F] [--json F] [--tap] [-v] [--retry N] [--capture-failures DIR]
                           run the expectations: a truth table per reach block ('.' as expected,
                           'X' not; -v shows ✓ reached / ✗ not), one line per other problem and
                           why; F may be - for stdout; then the steps. --retry N tries what was
                           not as expected up to N more times: as expected only on a retry is
                           flaky ('~', JUnit <flakyFailure>), never a plain pass.
                           --capture-failures DIR keeps a pcap per failed reach cell (tcpdump in
                           the source node while its probe is sent again)
  down FILE [--host]       remove everything of the lab; exits 1 naming anything left
  run FILE [--host] [--keep] [check options]
                           up, check, down; exits with check's status
  ls                       list the labs that are up
  inspect FILE             each node's interfaces, addresses, names and published ports
  exec FILE NODE -- CMD    run CMD inside a node
  capture FILE NODE[:IFACE] [-w F.pcap] [--for DURATION]
                           tcpdump inside a node (every interface unless one is named), to F or
                           to stdout, for DURATION (20s, 500ms) or until interrupted
  graph FILE --svg OUT | --mermaid [--results F]
                           draw the lab (coloured by the last check, or by F from check --json)

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
