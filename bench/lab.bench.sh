#!/usr/bin/env bash
# netloom lab beside docker-compose: one topology of 30 nodes on 3 networks (10 per network),
#   netloom: `lab up`, `lab check` of the 30x30 ICMP truth table, `lab down` (then nothing left);
#   Docker:  `docker-compose up -d` of the same topology (busybox imported from busybox-static,
#            dockerd in its own namespace via scripts/docker-env.sh), the same 870 pings as a shell
#            loop of `docker exec ... ping -c1 -W1` (24 at a time), and
#            `docker-compose down`. Also Docker with nearly the lab's own strategy (one exec per
#            source, its pings in parallel; busybox has no fping), so the check ratio is not only
#            docker exec's cost.
# Usage: bash bench/lab.bench.sh   (root; runs in a private mount namespace; prints one table)
# Sizes: N nodes (30) on NETS networks (3), LINKS point-to-point links (0) between s1-s2, s3-s4, ...
# (netloom only: compose has no veth pairs); PAIR_LOOP=0 skips Docker's exec-per-pair loop
# (N*(N-1) docker execs); DOCKER=0 runs netloom alone (to iterate on the lab without compose).
# bench/lab-scale.sh runs N=100 NETS=5 LINKS=50 PAIR_LOOP=0.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NETLOOM_BENCH_PRIVATE:-}" ]; then
  exec unshare --mount --propagation private env NETLOOM_BENCH_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=755 netloom-bench-run /run
mkdir -p /run/netns /run/docker/plugins /etc/netns && mount -t tmpfs -o mode=755 netloom-bench-etc-netns /etc/netns
DIR=$(mktemp -d /tmp/netloom-lab-bench.XXXXXX)
export NL_DOCKER_DATA_ROOT=$DIR/docker-data NL_DOCKER_EXEC_ROOT=$DIR/docker-exec NL_DOCKER_LOG=$DIR/dockerd.log NL_DOCKER_CGROUP=netloom-lab-bench NL_DOCKER_NETNS=nllab-bench-docker
export DOCKER_HOST=unix://$DIR/docker-exec/docker.sock
cleanup() {
  (cd "$DIR" && docker-compose -p labbench down -t 0 >/dev/null 2>&1) || true
  bash scripts/docker-env.sh down --purge >/dev/null 2>&1 || true
  node bin/netloom.mjs lab down "$DIR/bench.loom.yaml" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

N=${N:-30}
NETS=${NETS:-3}
LINKS=${LINKS:-0}
PAIR_LOOP=${PAIR_LOOP:-1}
DOCKER=${DOCKER:-1}
[ "$NETS" -le 9 ] && [ $((2 * LINKS)) -le "$N" ] || { echo "lab.bench: NETS at most 9, LINKS at most N/2" >&2; exit 2; }
nets=(); for i in $(seq 1 "$NETS"); do nets+=("n$i"); done
{
  echo "name: bench"
  echo "networks:"
  for i in $(seq 1 "$NETS"); do echo "  n$i: {subnet: 10.8$i.0.0/24}"; done
  echo "nodes:"
  for i in $(seq 1 $N); do echo "  s$i: {networks: [${nets[$(( (i - 1) % NETS ))]}]}"; done
  if [ "$LINKS" -gt 0 ]; then
    echo "links:"
    for k in $(seq 1 "$LINKS"); do echo "  - {a: \"s$((2 * k - 1)):p0\", b: \"s$((2 * k)):p0\", a_ip: 10.90.$k.1/30, b_ip: 10.90.$k.2/30}"; done
  fi
  echo "expect:"
  echo "  reach:"
  printf '    - {probe: icmp, nodes: [%s], allow: [' "$(seq -s, -f 's%g' 1 $N | sed 's/,/, /g')"
  allow=()
  for i in $(seq 1 $N); do for j in $(seq $((i + 1)) $N); do [ $(( (i - 1) % NETS )) = $(( (j - 1) % NETS )) ] && allow+=("\"s$i<->s$j\""); done; done
  for k in $(seq 1 "$LINKS"); do allow+=("\"s$((2 * k - 1))<->s$((2 * k))\""); done
  (IFS=,; printf '%s' "${allow[*]}")
  echo ']}'
} > "$DIR/bench.loom.yaml"

# The kernel's ARP table is one for every namespace of the machine: its overflows (summed over CPUs).
table_fulls() { local s=0 v; for v in $(awk 'NR > 1 { print $NF }' /proc/net/stat/arp_cache); do s=$((s + 16#$v)); done; echo $s; }
t0=$(now); node bin/netloom.mjs lab up "$DIR/bench.loom.yaml" > "$DIR/up.txt"; t1=$(now)
f0=$(table_fulls)
check_rc=0; node bin/netloom.mjs lab check "$DIR/bench.loom.yaml" > "$DIR/check.txt" || check_rc=$?; t2=$(now)
f1=$(table_fulls)
# A wrong cell is reported (and the figures kept), with the kernel's neighbour-table overflow
# count (net.ipv4.neigh.default.gc_thresh3 is shared by every namespace) as one thing to rule out.
[ "$check_rc" = 0 ] || grep -m3 -E '^  X ' "$DIR/check.txt" || true
echo "ARP table overflows during the check (machine-wide, /proc/net/stat/arp_cache table_fulls): $((f1 - f0))" >&2
node bin/netloom.mjs lab down "$DIR/bench.loom.yaml" > "$DIR/down.txt"; t3=$(now)
[ -z "${VERBOSE:-}" ] || cat "$DIR/up.txt" "$DIR/down.txt" >&2
nl_up=$(secs "$t0" "$t1"); nl_check=$(secs "$t1" "$t2"); nl_down=$(secs "$t2" "$t3")
left=$(ls /run/netns | grep -c '^bench-\|^nllab-bench$' || true)
grep 'reach icmp:' "$DIR/check.txt" >&2
echo "lab check exit $check_rc" >&2
# netloom's figures first: a Docker run that fails or hangs does not lose them.
printf '%s nodes, %s networks, %s links: up %.2fs, check %.2fs, down %.2fs, objects left %s\n' "$N" "$NETS" "$LINKS" "$nl_up" "$nl_check" "$nl_down" "$left"
[ "$DOCKER" != 0 ] || exit 0

bash scripts/docker-env.sh up >/dev/null
{
  echo "version: '2.4'"
  echo "networks:"
  for i in $(seq 1 "$NETS"); do printf '  n%s:\n    ipam: {config: [{subnet: 10.8%s.0.0/24}]}\n' "$i" "$i"; done
  echo "services:"
  for i in $(seq 1 $N); do
    printf '  s%s:\n    image: nlbusybox:latest\n    command: ["sh", "-c", "trap \\"exit 0\\" TERM; while :; do sleep 1; done"]\n    dns: [127.0.0.1]\n    networks: [%s]\n' "$i" "${nets[$(( (i - 1) % NETS ))]}"
  done
} > "$DIR/docker-compose.yml"
# Bounded: docker-compose 1.x once sat 7 minutes with 14 of 100 containers up at load 15.
t0=$(now); (cd "$DIR" && timeout "${COMPOSE_TIMEOUT:-300}" docker-compose -p labbench up -d >/dev/null 2>&1) || { echo "docker-compose up did not finish within ${COMPOSE_TIMEOUT:-300} s (or failed): no Docker figures" >&2; exit 1; }; t1=$(now)
for i in $(seq 1 $N); do echo "s$i $(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' labbench_s${i}_1)"; done > "$DIR/addrs"
while read -r a _; do while read -r b ip; do [ "$a" = "$b" ] || echo "labbench_${a}_1 $ip"; done < "$DIR/addrs"; done < "$DIR/addrs" > "$DIR/pairs"
t2=$(now)
ok=skipped
[ "$PAIR_LOOP" = 0 ] || ok=$(xargs -P 24 -L 1 sh -c 'docker exec "$0" ping -c1 -W1 "$1" >/dev/null 2>&1 && echo ok || echo no' < "$DIR/pairs" | grep -c ok || true)
t3=$(now)
# The lab's own strategy, given to Docker too: one exec per source, its 29 pings in parallel.
ok2=$(for i in $(seq 1 $N); do echo "labbench_s${i}_1"; done | xargs -P 12 -I{} docker exec {} sh -c \
  'for a in '"$(cut -d' ' -f2 "$DIR/addrs" | tr '\n' ' ')"'; do (ping -c1 -W1 "$a" >/dev/null 2>&1 && echo "$a") & done; wait' | wc -l)
t4=$(now)
(cd "$DIR" && docker-compose -p labbench down -t 0 >/dev/null 2>&1); t5=$(now)
d_up=$(secs "$t0" "$t1"); d_check=$(secs "$t2" "$t3"); d_check2=$(secs "$t3" "$t4"); d_down=$(secs "$t4" "$t5")
printf '\n%-34s %10s %10s %8s\n' "$N nodes, $NETS networks, $LINKS links" netloom docker ratio
printf '%-34s %9.2fs %9.2fs %7.2fx\n' "up (lab up / compose up -d)" "$nl_up" "$d_up" "$(echo "$nl_up / $d_up" | bc -l)"
[ "$PAIR_LOOP" = 0 ] || printf '%-34s %9.2fs %9.2fs %7.2fx\n' "check: lab check / exec loop" "$nl_check" "$d_check" "$(echo "$nl_check / $d_check" | bc -l)"
printf '%-34s %9.2fs %9.2fs %7.2fx\n' "check: lab check / exec per source" "$nl_check" "$d_check2" "$(echo "$nl_check / $d_check2" | bc -l)"
printf '%-34s %9.2fs %9.2fs %7.2fx\n' "down" "$nl_down" "$d_down" "$(echo "$nl_down / $d_down" | bc -l)"
same=0; for i in $(seq 1 $N); do for j in $(seq 1 $N); do [ "$i" != "$j" ] && [ $(( (i - 1) % NETS )) = $(( (j - 1) % NETS )) ] && same=$((same + 1)); done; done
echo "docker pings answered: loop $ok, per source $((ok2 - N)) (self included there) of $(wc -l < "$DIR/pairs"), expected $same (same-network pairs)"
echo "netloom: lab check seeds the neighbour entries (exempt from gc_thresh3), then one echo per target from every source at once (in-process raw ICMP sockets, 1 s timeout, 250 ms after the last expected answer);"
echo "docker: exec loop = one docker exec ping per pair, 24 at a time; per source = 12 docker execs at a time, all targets at once"
echo "netloom objects left after down: $left"
