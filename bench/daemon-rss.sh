#!/usr/bin/env bash
# netloomd's RSS (RssAnon and RssFile apart): idle, with NETWORKS × SANDBOXES endpoints, and at its
# highest while dnsperf runs against one network's DNS (issue #16: ≤ 72 MiB idle, ≤ 96 MiB with
# 1000 endpoints on 20 networks under dnsperf). bench/daemon-rss.ts does the work.
#
#   make build && sudo bash bench/daemon-rss.sh    NETWORKS (20), SANDBOXES (50), IDLE_WAIT (15),
#                                                  DNS_SECONDS (10), NETLOOMD_BIN, NETLOOMD_NODE_ARGS
#
# The daemon runs in namespace nl-bench-rsshost (stopped by PID); its sandboxes (nlbench-rss-*),
# their /etc/netns entries, the query file and the temporary directory are removed on exit,
# failure or signal.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
HOST=nl-bench-rsshost
if ip netns list | grep -qw "$HOST"; then echo "namespace $HOST exists: another run, or a leftover (ip netns del $HOST)" >&2; exit 1; fi
command -v dnsperf >/dev/null || apt-get install -y --no-install-recommends dnsperf >/dev/null
DIR=$(mktemp -d /tmp/netloom-rssbench.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  del_netns_prefixed nlbench-rss-
  ip netns del "$HOST" 2>/dev/null || true
  rm -rf "$DIR" /tmp/nlbench-rss-queries-*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$HOST"; ip -n "$HOST" link set lo up
# nsenter execs node itself, so $! is the daemon's PID.
# shellcheck disable=SC2086 # NETLOOMD_NODE_ARGS is a list of node flags
nsenter --net=/run/netns/$HOST node ${NETLOOMD_NODE_ARGS:-} "${NETLOOMD_BIN:-bin/netloomd.mjs}" --no-plugin --socket "$DIR/d.sock" \
  --data-dir "$DIR/data" --log-file "$DIR/netloomd.log" --log-level warn & pid=$!
for _ in $(seq 100); do NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$DIR/d.sock" network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
node build/bench/daemon-rss.js --socket "$DIR/d.sock" --pid "$pid" --networks "${NETWORKS:-20}" --sandboxes "${SANDBOXES:-50}" \
  --idle-wait "${IDLE_WAIT:-15}" --dns-seconds "${DNS_SECONDS:-10}" "$@"
