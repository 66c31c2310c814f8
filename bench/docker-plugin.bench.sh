#!/usr/bin/env bash
# Docker with netloom as its network driver and IPAM, beside Docker's own bridge driver, in one run
# on one engine: `docker network create` / `rm`, and `docker run --rm --network X nlbusybox true`.
# Rounds alternate between the two drivers so drift (page cache, load) hits both alike.
#
#   sudo bash bench/docker-plugin.bench.sh            ROUNDS=20 by default
#
# The engine is scripts/docker-env.sh's (netns nl-dockerd); netloomd runs in the same namespace
# (Join hands the engine a host-side interface) with its plugin socket in /run/docker/plugins,
# which is removed at the end. Both are stopped by PID. Results: bench/results/docker-plugin-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-20}
NS=nl-dockerd
PLUGIN_SOCK=/run/docker/plugins/netloom.sock
DIR=$(mktemp -d /tmp/netloom-plugin-bench.XXXXXX)
pid=
cleanup() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    docker ps -aq --filter label=netloom-bench | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network ls -q --filter label=netloom-bench | xargs -r docker network rm >/dev/null 2>&1 || true
  fi
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -f "$PLUGIN_SOCK"
  [ "${KEEP_DOCKER:-0}" = 1 ] || bash scripts/docker-env.sh down >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

export DOCKER_HOST
DOCKER_HOST=$(bash scripts/docker-env.sh up | tail -1 | sed 's/^DOCKER_HOST=//')
[ -e "$PLUGIN_SOCK" ] && { echo "a plugin already listens on $PLUGIN_SOCK: stop it first" >&2; exit 1; }
echo 'nameserver 127.0.0.1' >"$DIR/resolv.conf"
nsenter --net=/run/netns/$NS node bin/netloomd.mjs --socket "$DIR/netloomd.sock" --data-dir "$DIR/data" \
  --log-file "$DIR/netloomd.log" --log-level warn --resolv-conf "$DIR/resolv.conf" --plugin-socket "$PLUGIN_SOCK" & pid=$!
for _ in $(seq 100); do [ -S "$PLUGIN_SOCK" ] && break; sleep 0.1; done

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }

# One network of each kind for the run benchmark; the first use of the plugin activates it.
docker network create --label netloom-bench -d netloom --ipam-driver netloom nlb-run-netloom >/dev/null
docker network create --label netloom-bench -d bridge nlb-run-bridge >/dev/null
docker run --rm --network nlb-run-netloom nlbusybox true
docker run --rm --network nlb-run-bridge nlbusybox true

for i in $(seq "$ROUNDS"); do
  for kind in netloom bridge; do
    if [ $kind = netloom ]; then args=(-d netloom --ipam-driver netloom); else args=(-d bridge); fi
    t=$(date +%s%N); docker network create --label netloom-bench "${args[@]}" "nlb-$kind-$i" >/dev/null; add "create-$kind" "$(ms "$t")"
    t=$(date +%s%N); docker network rm "nlb-$kind-$i" >/dev/null; add "rm-$kind" "$(ms "$t")"
    t=$(date +%s%N); docker run --rm --network "nlb-run-$kind" nlbusybox true; add "run-$kind" "$(ms "$t")"
  done
done

p50() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| operation (p50 of $ROUNDS, ms) | Docker bridge | netloom | ratio |"
echo "|---|---:|---:|---:|"
json="{\"date\":\"$(date -u +%FT%TZ)\",\"rounds\":$ROUNDS,\"docker\":\"$(docker version -f '{{.Server.Version}}')\",\"results\":{"
sep=
for op in create rm run; do
  b=$(echo "${samples[$op-bridge]}" | p50); n=$(echo "${samples[$op-netloom]}" | p50)
  r=$(awk -v n="$n" -v b="$b" 'BEGIN {printf "%.2f", n / b}')
  label=$([ $op = run ] && echo 'docker run --rm --network X nlbusybox true' || echo "docker network $op")
  echo "| $label | $b | $n | ${r}× |"
  json+="$sep\"$op\":{\"bridge_ms\":$b,\"netloom_ms\":$n,\"ratio\":$r,\"bridge_samples\":[$(echo ${samples[$op-bridge]} | tr ' ' ',')],\"netloom_samples\":[$(echo ${samples[$op-netloom]} | tr ' ' ',')]}"
  sep=,
done
mkdir -p bench/results
echo "$json}}" >"bench/results/docker-plugin-$(date -u +%FT%H-%M-%SZ).json"
