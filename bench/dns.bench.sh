#!/usr/bin/env bash
# DNS benchmark: Debian's dnsperf against three servers answering the same local name, in one run
# on this machine, reported side by side (bench/README.md, "Embedded DNS"):
#
#   netloom  netloomd's embedded DNS on the gateway of a user-defined network (10.150.0.1), the
#            daemon in namespace nl-bench-dnshost; dnsperf runs in sandbox nlbench-client
#   docker   Docker's embedded DNS (127.0.0.11) in container nlbench-client on a user-defined
#            network, the engine in nl-dockerd (scripts/docker-env.sh); dnsperf in that container's
#            network namespace
#   dnsmasq  dnsmasq with no upstream and one hosts file, alone in namespace nl-bench-dnsmasq
#   dnsmasq-bridge  the same dnsmasq on the gateway of a bridge (10.152.0.1, namespace
#            nl-bench-dnsmasqbr), dnsperf behind a veth in namespace nl-bench-dnsmasqbr-c: the
#            path netloom's replies take (bridge, veth, another namespace), which loopback skips
#   netloom-lo  netloom's DNS server code alone (bench/dns-loopback.ts: DnsServer, the answer cache,
#            the batched UDP socket) on 127.0.0.11 in namespace nl-bench-nllo, dnsperf beside it on
#            loopback as for dnsmasq: what answering inside each sandbox would give; not netloomd
#
# The only name ever queried is nlbench-web (type A), which each server owns: Docker's resolver
# forwards names it does not know to the host's resolver, so no other name may be sent.
#
# Per server and round: a dig sanity check, a WARMUP-second dnsperf run (discarded), the QPS run
# (dnsperf -c 20 -T QPS_THREADS -q QPS_OUTSTANDING -l DURATION) with the server's CPU time around
# it, and the latency run: bench/dns-latency.ts, ten clients with one query each in flight for
# LAT_DURATION seconds, every latency recorded (dnsperf 2.10 prints no percentiles, and its -q
# window stalls at 10). RSS (VmRSS) is read before the first and after the last run.
# bench/dns-report.ts turns it all into a Markdown table and bench/results/dns-<date>.json.
#
#   sudo bash bench/dns.bench.sh               needs build/ and dist/ (make build); ~1 min per round
#   ROUNDS=3 SERVERS="netloom dnsmasq" KEEP_DOCKER=1 DURATION=5 sudo -E bash bench/dns.bench.sh
#   NETLOOMD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" KEEP_DIR=1 SERVERS=netloom ...   profile
#   NETLOOMD_BIN=/elsewhere/bin/netloomd.mjs SERVERS=netloom ...   measure another build of the daemon
#
# Everything made here is removed on exit, failure or signal; Docker is stopped only if this run
# started it (and KEEP_DOCKER is not 1). All traffic stays in namespaces made here or in nl-dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
LAT_DURATION=${LAT_DURATION:-5}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-1}
QPS_CLIENTS=20
QPS_THREADS=${QPS_THREADS:-1}
QPS_OUTSTANDING=${QPS_OUTSTANDING:-100}
LAT_CLIENTS=10
TIMEOUT_S=1 # dnsperf -t: a query unanswered after this long is lost
SERVERS=${SERVERS:-netloom docker dnsmasq dnsmasq-bridge netloom-lo}
OUT=${OUT:-bench/results}

readonly QNAME=nlbench-web CLIENT=nlbench-client NET=nlbench-dns
readonly NL_NS=nl-bench-dnshost NL_SUBNET=10.150.0.0/24 NL_GW=10.150.0.1
readonly DK_SUBNET=10.151.0.0/24 DK_RESOLVER=127.0.0.11
readonly DM_NS=nl-bench-dnsmasq DM_ADDR=127.0.0.1
readonly LO_NS=nl-bench-nllo LO_ADDR=127.0.0.11
readonly DB_NS=nl-bench-dnsmasqbr DB_CLIENT=nl-bench-dnsmasqbr-c DB_ADDR=10.152.0.1 DB_CLIENT_ADDR=10.152.0.2
readonly DOCKER_BIN=/usr/bin/docker DOCKERD_PIDFILE=/run/netloom-bench-docker/dockerd.pid

log() { printf 'dns-bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

int_in() { # NAME MIN MAX: the variable NAME holds an integer in [MIN, MAX]
  if ! [[ ${!1} =~ ^[0-9]+$ ]] || ((${!1} < $2 || ${!1} > $3)); then
    die "invalid $1 \"${!1}\": expected an integer from $2 to $3"
  fi
}
int_in DURATION 1 60; int_in LAT_DURATION 1 60; int_in WARMUP 1 10; int_in ROUNDS 1 10
int_in QPS_THREADS 1 8; int_in QPS_OUTSTANDING 1 1000
for s in $SERVERS; do [[ $s =~ ^(netloom|docker|dnsmasq|dnsmasq-bridge|netloom-lo)$ ]] || die "invalid server \"$s\" in SERVERS: expected netloom, docker, dnsmasq, dnsmasq-bridge or netloom-lo"; done
[[ $(id -u) -eq 0 ]] || die "must run as root (creates network namespaces, starts netloomd, dnsmasq and dockerd)"
for f in build/bench/dns-report.js build/bench/dns-latency.js build/bench/dns-loopback.js; do
  [[ -f $f ]] || die "$f is missing: run make build (or npx tsc -p .)"
done
[[ -f dist/netloomd.mjs ]] || die "dist/netloomd.mjs is missing: run make build"

ensure_packages() {
  local missing=() pkg
  for pkg in dnsperf dnsmasq-base bind9-dnsutils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}
ensure_packages

DIR=$(mktemp -d /tmp/netloom-dns-bench.XXXXXX)
NL_SOCK=$DIR/netloomd.sock
nl_pid='' dm_pid='' db_pid='' lo_pid='' made_lo_ns=0 docker_host='' docker_started=0 made_nl_ns=0 made_dm_ns=0 made_db_ns=0 made_docker_objects=0
# Per server: the network namespace dnsperf runs in, the address it queries, the server's PID.
declare -A NSPATH=() ADDR=() SPID=()

nl() { NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$NL_SOCK" "$@"; }
dk() { "$DOCKER_BIN" -H "$docker_host" "$@"; }

# Stops one process we started, by PID: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid=$1 _
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# Undoes everything in reverse order and keeps going past failures.
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if [[ -n $nl_pid ]] && kill -0 "$nl_pid" 2>/dev/null; then
    nl sandbox rm "$CLIENT" >/dev/null 2>&1
    nl sandbox rm "$QNAME" >/dev/null 2>&1
    nl network rm "$NET" >/dev/null 2>&1
  fi
  stop_pid "$nl_pid"
  # A daemon that died mid-run leaves its sandboxes' namespaces and files: ours by name.
  local sb
  for sb in "$QNAME" "$CLIENT"; do
    ((made_nl_ns)) && [[ -e /run/netns/$sb ]] && ip netns del "$sb"
    ((made_nl_ns)) && rm -rf "/etc/netns/$sb"
  done
  ((made_nl_ns)) && ip netns del "$NL_NS" 2>/dev/null
  stop_pid "$dm_pid"
  ((made_dm_ns)) && ip netns del "$DM_NS" 2>/dev/null
  stop_pid "$lo_pid"
  ((made_lo_ns)) && ip netns del "$LO_NS" 2>/dev/null
  stop_pid "$db_pid"
  ((made_db_ns)) && ip netns del "$DB_CLIENT" 2>/dev/null
  ((made_db_ns)) && ip netns del "$DB_NS" 2>/dev/null
  if ((made_docker_objects)); then
    dk rm -f "$QNAME" "$CLIENT" >/dev/null 2>&1
    dk network rm "$NET" >/dev/null 2>&1
  fi
  if ((docker_started)) && [[ ${KEEP_DOCKER:-0} != 1 ]]; then
    bash scripts/docker-env.sh down >/dev/null 2>&1 || log "scripts/docker-env.sh down failed; run it again"
  fi
  if ((rc != 0)); then
    log "failed (exit $rc); logs kept in $DIR"
  elif [[ ${KEEP_DIR:-0} == 1 ]]; then
    log "raw dnsperf output and logs kept in $DIR"
  else
    rm -rf "$DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Refuse to run beside another run (or over its leftovers): every name below is this script's.
for ns in "$NL_NS" "$DM_NS" "$LO_NS" "$DB_NS" "$DB_CLIENT" "$QNAME" "$CLIENT"; do
  [[ ! -e /run/netns/$ns ]] || die "network namespace $ns already exists: another dns bench running, or a leftover (ip netns del $ns)"
done

printf '%s A\n' "$QNAME" >"$DIR/queries"

# ---- servers ----------------------------------------------------------------------------------

setup_netloom() {
  printf 'nameserver 127.0.0.1\n' >"$DIR/resolv.conf" # no upstream that could leave the machine
  ip netns add "$NL_NS"
  made_nl_ns=1
  ip -n "$NL_NS" link set lo up
  # nsenter execs node itself, so $! is the daemon's PID.
  # shellcheck disable=SC2086 # NETLOOMD_NODE_ARGS is a list of node flags, e.g. --cpu-prof
  nsenter --net="/run/netns/$NL_NS" node ${NETLOOMD_NODE_ARGS:-} "${NETLOOMD_BIN:-bin/netloomd.mjs}" --no-plugin --socket "$NL_SOCK" --data-dir "$DIR/netloom-data" \
    --log-file "$DIR/netloomd.log" --log-level warn --resolv-conf "$DIR/resolv.conf" &
  nl_pid=$!
  local _
  for _ in $(seq 100); do nl network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
  nl network ls -q >/dev/null || die "netloomd did not answer on $NL_SOCK within 10 s (log: $DIR/netloomd.log)"
  nl network create --subnet "$NL_SUBNET" --gateway "$NL_GW" "$NET" >/dev/null
  nl sandbox create --network "$NET" "$QNAME" >/dev/null
  nl sandbox create --network "$NET" "$CLIENT" >/dev/null
  [[ -e /run/netns/$CLIENT ]] || die "sandbox $CLIENT has no /run/netns/$CLIENT"
  NSPATH[netloom]=/run/netns/$CLIENT ADDR[netloom]=$NL_GW SPID[netloom]=$nl_pid
}

setup_docker() {
  if "$DOCKER_BIN" -H unix:///run/netloom-bench-docker/docker.sock version >/dev/null 2>&1; then
    docker_host=unix:///run/netloom-bench-docker/docker.sock
  else
    docker_started=1
    docker_host=$(bash scripts/docker-env.sh up | tail -1 | sed 's/^DOCKER_HOST=//')
  fi
  made_docker_objects=1
  dk rm -f "$QNAME" "$CLIENT" >/dev/null 2>&1 || true # a previous run's, by our names
  dk network rm "$NET" >/dev/null 2>&1 || true
  dk network create --subnet "$DK_SUBNET" "$NET" >/dev/null
  dk run -d --name "$QNAME" --network "$NET" nlbusybox sleep 3600 >/dev/null
  dk run -d --name "$CLIENT" --network "$NET" nlbusybox sleep 3600 >/dev/null
  local cpid
  cpid=$(dk inspect -f '{{.State.Pid}}' "$CLIENT")
  [[ $cpid =~ ^[1-9][0-9]*$ ]] || die "container $CLIENT has no PID (got \"$cpid\")"
  # The embedded resolver runs inside dockerd: its RSS and CPU are dockerd's.
  NSPATH[docker]=/proc/$cpid/ns/net ADDR[docker]=$DK_RESOLVER SPID[docker]=$(<"$DOCKERD_PIDFILE")
}

# start_dnsmasq NS ADDR TAG: dnsmasq in NS on ADDR:53; its PID in $started.
start_dnsmasq() {
  printf '10.150.0.2 %s\n' "$QNAME" >"$DIR/hosts"
  # --user=root: the hosts file is in our 0700 temp dir; no upstream at all (--no-resolv, no --server).
  nsenter --net="/run/netns/$1" dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts="$DIR/hosts" \
    --listen-address="$2" --port=53 --bind-interfaces --cache-size=1000 --user=root \
    --pid-file="$DIR/$3.pid" 2>"$DIR/$3.log" &
  started=$!
}

setup_dnsmasq() {
  ip netns add "$DM_NS"
  made_dm_ns=1
  ip -n "$DM_NS" link set lo up
  start_dnsmasq "$DM_NS" "$DM_ADDR" dnsmasq
  dm_pid=$started
  NSPATH[dnsmasq]=/run/netns/$DM_NS ADDR[dnsmasq]=$DM_ADDR SPID[dnsmasq]=$dm_pid
}

# netloom's path without netloom: a bridge with the server on its gateway address, the client
# behind a veth in a namespace of its own. No netfilter rules in either (netloomd's namespace has
# its NAT and filter rules, so its replies also pass conntrack).
setup_dnsmasq-bridge() {
  ip netns add "$DB_NS"
  made_db_ns=1
  ip netns add "$DB_CLIENT"
  ip -n "$DB_NS" link set lo up
  ip -n "$DB_CLIENT" link set lo up
  ip -n "$DB_NS" link add nlbr0 type bridge
  ip -n "$DB_NS" addr add "$DB_ADDR/24" dev nlbr0
  ip -n "$DB_NS" link set nlbr0 up
  ip -n "$DB_NS" link add nlv0 type veth peer name eth0 netns "$DB_CLIENT"
  ip -n "$DB_NS" link set nlv0 master nlbr0 up
  ip -n "$DB_CLIENT" addr add "$DB_CLIENT_ADDR/24" dev eth0
  ip -n "$DB_CLIENT" link set eth0 up
  start_dnsmasq "$DB_NS" "$DB_ADDR" dnsmasq-bridge
  db_pid=$started
  NSPATH[dnsmasq-bridge]=/run/netns/$DB_CLIENT ADDR[dnsmasq-bridge]=$DB_ADDR SPID[dnsmasq-bridge]=$db_pid
}

# netloom's answer path without netloomd's gateway: the DNS server code on loopback (see the top).
setup_netloom-lo() {
  ip netns add "$LO_NS"
  made_lo_ns=1
  ip -n "$LO_NS" link set lo up
  nsenter --net="/run/netns/$LO_NS" node build/bench/dns-loopback.js --address "$LO_ADDR" --client 127.0.0.1 \
    --name "$QNAME" 2>"$DIR/netloom-lo.log" &
  lo_pid=$!
  NSPATH[netloom-lo]=/run/netns/$LO_NS ADDR[netloom-lo]=$LO_ADDR SPID[netloom-lo]=$lo_pid
}

# ---- measuring --------------------------------------------------------------------------------

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks

# measure SERVER ROUND: runs of dnsperf from inside the client's namespace; files in $DIR.
measure() {
  local s=$1 round=$2
  local run=(nsenter --net="${NSPATH[$s]}") addr=${ADDR[$s]} pid=${SPID[$s]} got='' _
  for _ in $(seq 20); do
    got=$("${run[@]}" dig +short +tries=1 +time=1 "@$addr" "$QNAME" A 2>/dev/null || true)
    [[ -n $got ]] && break
    sleep 0.25
  done
  [[ -n $got ]] || die "$s at $addr does not answer $QNAME A"
  log "$s round $round: $QNAME A -> $got; warm-up ${WARMUP}s, QPS ${DURATION}s, latency ${LAT_DURATION}s"
  local base=$DIR/$s.$round
  ((round == 1)) && rss_kib "$pid" >"$DIR/$s.rss-before"
  "${run[@]}" dnsperf -s "$addr" -d "$DIR/queries" -c "$QPS_CLIENTS" -T "$QPS_THREADS" -q "$QPS_OUTSTANDING" \
    -t "$TIMEOUT_S" -l "$WARMUP" >"$base.warmup.txt" 2>&1
  local t0 t1
  t0=$(cpu_ticks "$pid")
  "${run[@]}" dnsperf -s "$addr" -d "$DIR/queries" -c "$QPS_CLIENTS" -T "$QPS_THREADS" -q "$QPS_OUTSTANDING" \
    -t "$TIMEOUT_S" -l "$DURATION" >"$base.qps.txt" 2>&1
  t1=$(cpu_ticks "$pid")
  echo $((t1 - t0)) >"$base.cpu-ticks"
  "${run[@]}" node build/bench/dns-latency.js --server "$addr" --name "$QNAME" --clients "$LAT_CLIENTS" \
    --seconds "$LAT_DURATION" --timeout-ms $((TIMEOUT_S * 1000)) >"$base.lat.json"
  rss_kib "$pid" >"$DIR/$s.rss-after"
}

for s in $SERVERS; do "setup_$s"; done
for round in $(seq "$ROUNDS"); do
  for s in $SERVERS; do measure "$s" "$round"; done
done

docker_version=''
[[ -z $docker_host ]] || docker_version=$(dk version -f '{{.Server.Version}}' 2>/dev/null || true)
versions=$(printf '{"dnsperf":"%s","dnsmasq":"%s","docker":"%s","node":"%s"}' \
  "$(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')" "$(dnsmasq --version | awk 'NR==1 {print $3}')" \
  "$docker_version" "$(node --version)")
node build/bench/dns-report.js --dir "$DIR" --out "$OUT" --servers "$SERVERS" --rounds "$ROUNDS" \
  --clk-tck "$(getconf CLK_TCK)" --versions "$versions" \
  --config "$(printf '{"name":"%s","durationS":%d,"latencyDurationS":%d,"warmupS":%d,"timeoutS":%d,"qps":{"clients":%d,"threads":%d,"outstanding":%d},"latency":{"client":"bench/dns-latency.ts","clients":%d,"inFlightPerClient":1}}' \
    "$QNAME" "$DURATION" "$LAT_DURATION" "$WARMUP" "$TIMEOUT_S" "$QPS_CLIENTS" "$QPS_THREADS" "$QPS_OUTSTANDING" "$LAT_CLIENTS")"
