#!/usr/bin/env bash
# Port publishing, netloom beside Docker on this machine, in one run:
#   1. a 1000-port range published by netloom (same numbers: one rule pair; shifted: one pair per
#      port): CLI time, processes added (goal: none), netloomd's extra RSS (goal < 50 MiB);
#      the same range with `docker run -p` for reference (docker-proxy processes and their RSS);
#   2. a sandbox with 10 published ports (netloom sandbox create -p x10) beside `docker run -d -p x10`,
#      ROUNDS alternating rounds, p50 ratio.
#
#   sudo bash bench/publish.bench.sh        ROUNDS=10 by default
#
# netloomd runs in namespace nlbench-pub, Docker in scripts/docker-env.sh's nl-dockerd; both are
# stopped by PID (Docker unless KEEP_DOCKER=1). No traffic is sent. Results: bench/results/publish-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-10}
NS=nlbench-pub
DIR=$(mktemp -d /tmp/netloom-publish-bench.XXXXXX)
SOCK=$DIR/netloomd.sock
pid=
cleanup() {
  if [ -n "${DOCKER_HOST:-}" ]; then docker ps -aq --filter label=netloom-bench | xargs -r docker rm -f >/dev/null 2>&1 || true; fi
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  del_netns_prefixed nlbp-
  ip netns del "$NS" 2>/dev/null || true
  [ "${KEEP_DOCKER:-0}" = 1 ] || bash scripts/docker-env.sh down >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

export DOCKER_HOST
DOCKER_HOST=$(bash scripts/docker-env.sh up | tail -1 | sed 's/^DOCKER_HOST=//')
ip netns add "$NS"; ip -n "$NS" link set lo up
echo 'nameserver 127.0.0.1' >"$DIR/resolv.conf"
nsenter --net=/run/netns/$NS node bin/netloomd.mjs --no-plugin --socket "$SOCK" --data-dir "$DIR/data" \
  --log-file "$DIR/netloomd.log" --log-level warn --resolv-conf "$DIR/resolv.conf" & pid=$!
nl() { NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$SOCK" "$@"; }
for _ in $(seq 100); do nl network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
nl network create --subnet 10.90.0.0/16 web >/dev/null

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
nprocs() { ls -d /proc/[0-9]* | wc -l; }
proxies() { { pgrep -x docker-proxy || true; } | wc -l; }
proxy_rss_kib() { local t=0 p; for p in $(pgrep -x docker-proxy || true); do t=$((t + $(rss_kib "$p"))); done; echo $t; }
children() { { pgrep -P "$pid" || true; } | wc -l; }

echo "## 1000-port range"
json="{\"date\":\"$(date -u +%FT%TZ)\",\"rounds\":$ROUNDS,\"range\":{"
for kind in same shifted; do
  spec=$([ $kind = same ] && echo 20000-20999:20000-20999 || echo 30000-30999:8000-8999)
  r0=$(rss_kib "$pid"); p0=$(nprocs)
  t=$(date +%s%N); nl sandbox create --network web -p "$spec" "nlbp-$kind" >/dev/null; dt=$(ms "$t")
  sleep 1
  r1=$(rss_kib "$pid"); p1=$(nprocs); kids=$(children)
  rules=$(ip netns exec "$NS" iptables-save | grep -c -- '--dport' || true)
  echo "netloom -p $spec: ${dt} ms, rules with --dport: $rules, netloomd child processes: $kids, processes on the machine before/after: $p0/$p1, netloomd RSS +$(((r1 - r0) / 1024)) MiB ($((r1 / 1024)) MiB)"
  json+="\"netloom_$kind\":{\"ms\":$dt,\"rules\":$rules,\"netloomd_children\":$kids,\"machine_processes_before\":$p0,\"machine_processes_after\":$p1,\"rss_added_kib\":$((r1 - r0))},"
  nl sandbox rm "nlbp-$kind" >/dev/null
done
p0=$(proxies)
t=$(date +%s%N); docker run -d --label netloom-bench -p 20000-20999:20000-20999 nlbusybox sleep 600 >/dev/null; dt=$(ms "$t")
sleep 1
np=$(( $(proxies) - p0 )); prss=$(proxy_rss_kib)
echo "docker run -p 20000-20999:20000-20999: ${dt} ms, docker-proxy processes: $np, their RSS $((prss / 1024)) MiB"
json+="\"docker_same\":{\"ms\":$dt,\"proxy_processes\":$np,\"proxy_rss_kib\":$prss}},"
docker ps -aq --filter label=netloom-bench | xargs -r docker rm -f >/dev/null

echo "## 10 published ports, $ROUNDS alternating rounds"
pn=(); pd=()
for i in $(seq "$ROUNDS"); do
  args=(); for p in $(seq 8001 8010); do args+=(-p "$p:80"); done
  t=$(date +%s%N); nl sandbox create --network web "${args[@]}" "nlbp-ten-$i" >/dev/null; pn+=("$(ms "$t")")
  t=$(date +%s%N); docker run -d --label netloom-bench "${args[@]}" nlbusybox sleep 600 >/dev/null; pd+=("$(ms "$t")")
  [ "$i" = 1 ] && echo "docker-proxy processes for 10 ports: $(proxies)"
  nl sandbox rm "nlbp-ten-$i" >/dev/null
  docker ps -aq --filter label=netloom-bench | xargs -r docker rm -f >/dev/null
done
p50() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n50=$(p50 "${pn[@]}"); d50=$(p50 "${pd[@]}")
ratio=$(awk -v n="$n50" -v d="$d50" 'BEGIN {printf "%.2f", n / d}')
echo "| 10 published ports (p50 of $ROUNDS, ms) | docker run -d -p x10 | netloom sandbox create -p x10 | ratio |"
echo "|---|---:|---:|---:|"
echo "| whole command | $d50 | $n50 | ${ratio}× |"
json+="\"ten\":{\"docker_ms\":$d50,\"netloom_ms\":$n50,\"ratio\":$ratio,\"docker_samples\":[$(IFS=,; echo "${pd[*]}")],\"netloom_samples\":[$(IFS=,; echo "${pn[*]}")]}}"
mkdir -p bench/results
echo "$json" >"bench/results/publish-$(date -u +%FT%H-%M-%SZ).json"
