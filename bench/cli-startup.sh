#!/usr/bin/env bash
# What the netloom CLI adds to `node -e 0` (issue #16's goal: at most 20 ms for network ls -q,
# connect, disconnect, rm), against an idle netloomd in a namespace of its own, nl-bench-clihost;
# bench/cli-startup.ts does the timing (whole processes, interleaved with node -e 0 and with the
# same operations through the API, p50s of ROUNDS rounds).
#
#   make build && sudo bash bench/cli-startup.sh [--docker unix:///DOCKERD.sock]   ROUNDS (15), CLI ("bin/netloom.mjs"), CALLGRIND (1)
#
# With --docker, `docker network connect/disconnect` against that dockerd run in the same rounds
# (bench/cli-docker.ts; scripts/docker-env.sh up starts one).
#
# The namespace, the daemon (stopped by PID), its sandboxes' namespaces and /etc/netns entries and
# its temporary directory are removed on exit, failure or signal.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
HOST=nl-bench-clihost
if ip netns list | grep -qw "$HOST"; then echo "namespace $HOST exists: another run, or a leftover (ip netns del $HOST)" >&2; exit 1; fi
DIR=$(mktemp -d /tmp/netloom-clibench.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  del_netns_prefixed nlbench-
  ip netns del "$HOST" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$HOST"; ip -n "$HOST" link set lo up
nsenter --net=/run/netns/$HOST node bin/netloomd.mjs --no-plugin --socket "$DIR/d.sock" --data-dir "$DIR/data" \
  --log-file "$DIR/netloomd.log" --log-level warn & pid=$!
for _ in $(seq 100); do NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$DIR/d.sock" network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
# With valgrind installed, each command also runs once under callgrind: instruction counts do not
# depend on the load (CALLGRIND=0 skips it).
cg=(); [ "${CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null && cg=(--callgrind)
node build/bench/cli-startup.js --socket "$DIR/d.sock" --rounds "${ROUNDS:-15}" --cli "${CLI:-bin/netloom.mjs}" "${cg[@]}" "$@"
