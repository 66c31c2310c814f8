#!/usr/bin/env bash
# make bench: every benchmark in one run, netloom beside Docker on this machine.
# Docker runs in namespace nl-dockerd (scripts/docker-env.sh), netloomd in nl-bench-host;
# both are stopped by PID at the end. Results land in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-30}   # core bench rounds; the DNS bench takes DNS_ROUNDS
# BENCHES picks some of them (default all): ipam netns core cli rss dns plugin publish overlay lab
BENCHES=${BENCHES:-ipam netns core cli rss dns plugin publish overlay lab}
want() { [[ " $BENCHES " == *" $1 "* ]]; }
HOST=nl-bench-host
DIR=$(mktemp -d /tmp/netloom-bench.XXXXXX)
SOCK=$DIR/netloomd.sock
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  del_netns_prefixed nlbench-
  ip netns del "$HOST" 2>/dev/null || true
  [ "${KEEP_DOCKER:-0}" = 1 ] || bash scripts/docker-env.sh down >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

docker_host=$(bash scripts/docker-env.sh up | tail -1 | sed 's/^DOCKER_HOST=//')
ip netns add "$HOST"; ip -n "$HOST" link set lo up
nsenter --net=/run/netns/$HOST node bin/netloomd.mjs --no-plugin --socket "$SOCK" --data-dir "$DIR/data" --log-file "$DIR/netloomd.log" --log-level warn & pid=$!
for _ in $(seq 100); do NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$SOCK" network ls -q >/dev/null 2>&1 && break; sleep 0.1; done

if want ipam; then echo "## IPAM"; node build/bench/ipam.bench.js; fi
if want netns; then echo "## namespace mechanism"; node build/bench/netns-mechanism.bench.js --rounds 50; fi
if want core; then
  echo "## core operations, netloom beside Docker"
  NETLOOM_NO_AUTOSTART=1 node build/bench/core.bench.js --docker "$docker_host" --netloom "$SOCK" \
    --netloom-cli "bin/netloom.mjs --socket $SOCK" --rounds "$ROUNDS" "$@"
fi
if want cli; then echo "## what the CLI adds to node -e 0 (goal: at most 20 ms)"; ROUNDS=${CLI_ROUNDS:-15} bash bench/cli-startup.sh; fi
if want rss; then echo "## netloomd's memory: idle, 1000 endpoints, under dnsperf (goals: 72 and 96 MiB)"; bash bench/daemon-rss.sh; fi
if want dns; then echo "## embedded DNS, netloom beside Docker's and dnsmasq (dnsperf)"; ROUNDS=${DNS_ROUNDS:-3} KEEP_DOCKER=1 bash bench/dns.bench.sh; fi
if want plugin; then
  echo "## Docker with netloom as driver and IPAM, beside Docker's bridge driver"
  ROUNDS=${PLUGIN_ROUNDS:-20} KEEP_DOCKER=1 bash bench/docker-plugin.bench.sh
fi
if want publish; then echo "## port publishing, netloom beside docker run -p"; ROUNDS=${PUBLISH_ROUNDS:-10} KEEP_DOCKER=1 bash bench/publish.bench.sh; fi
if want overlay; then echo "## overlay across two hosts (namespaces, real etcd)"; ROUNDS=${OVERLAY_ROUNDS:-20} bash bench/overlay.bench.sh; fi
if want lab; then echo "## labs: a 30-node lab beside docker-compose"; bash bench/lab.bench.sh; fi
