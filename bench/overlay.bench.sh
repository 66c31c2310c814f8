#!/usr/bin/env bash
# The overlay driver, measured on this machine with two hosts as namespaces on an underlay bridge
# and a real etcd (as in test/priv/overlay.test.ts):
#   1. iperf3 TCP between sandboxes on two hosts over the overlay, beside two sandboxes on one
#      host over a bridge network (target >= 0.8x);
#   2. from `netloom network connect` returning on host A until host B pings the new endpoint
#      (ROUNDS rounds, p50 target < 100 ms);
#   3. connect latency on host A with 1, 100 and 1000 remote endpoints (target: flat). The remote
#      endpoints are records written into etcd under host B's name, as its daemon would.
#
#   sudo bash bench/overlay.bench.sh          ROUNDS=20 by default; IPERF_SECONDS=5
#
# Everything lives in namespaces named nlbov-*, deleted at the end; processes stopped by PID.
# Traffic stays inside them (10.99.0.0/24 underlay, 10.70.0.0/16 overlay). Results:
# bench/results/overlay-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-20}
IPERF_SECONDS=${IPERF_SECONDS:-5}
DIR=$(mktemp -d /tmp/netloom-overlay-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  del_netns_prefixed nlbov-
  rm -rf "$DIR"
}
trap cleanup EXIT
command -v iperf3 >/dev/null || { echo "iperf3 is needed: apt-get install iperf3" >&2; exit 1; }

U=nlbov-u
ip netns add $U; ip -n $U link set lo up
ip -n $U link add ubr type bridge; ip -n $U addr add 10.99.0.1/24 dev ubr; ip -n $U link set ubr up
ip netns exec $U etcd --data-dir "$DIR/etcd" --listen-client-urls http://10.99.0.1:2379 --advertise-client-urls http://10.99.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 >"$DIR/etcd.log" 2>&1 & pids+=($!)
echo 'nameserver 127.0.0.1' >"$DIR/resolv.conf"
for i in 1 2; do
  ip netns add nlbov-h$i; ip -n nlbov-h$i link set lo up
  ip -n $U link add u$i type veth peer name eth0 netns nlbov-h$i
  ip -n $U link set u$i master ubr up
  ip -n nlbov-h$i addr add 10.99.0.1$i/24 dev eth0; ip -n nlbov-h$i link set eth0 up
done
for _ in $(seq 50); do ip netns exec $U etcdctl --endpoints http://10.99.0.1:2379 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
for i in 1 2; do
  nsenter --net=/run/netns/nlbov-h$i node bin/netloomd.mjs --socket "$DIR/h$i.sock" --data-dir "$DIR/h$i" --log-file "$DIR/h$i.log" \
    --log-level warn --resolv-conf "$DIR/resolv.conf" --no-plugin --cluster-store etcd://10.99.0.1:2379 --advertise-addr 10.99.0.1$i \
    --node-name bench$i >/dev/null 2>&1 & pids+=($!)
done
nl() { local i=$1; shift; NETLOOM_NO_AUTOSTART=1 node bin/netloom.mjs --socket "$DIR/h$i.sock" "$@"; }
for i in 1 2; do for _ in $(seq 100); do nl $i network ls -q >/dev/null 2>&1 && break; sleep 0.1; done; done
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
p50() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

nl 1 network create --driver overlay --subnet 10.70.0.0/16 ov >/dev/null
for _ in $(seq 50); do nl 2 network inspect ov >/dev/null 2>&1 && break; sleep 0.1; done
nl 1 network create --subnet 10.71.0.0/24 br >/dev/null

echo "## iperf3, ${IPERF_SECONDS}s each"
nl 1 sandbox create --network ov nlbov-a >/dev/null
nl 2 sandbox create --network ov nlbov-b >/dev/null
nl 1 sandbox create --network br nlbov-c >/dev/null
nl 1 sandbox create --network br nlbov-d >/dev/null
ip netns exec nlbov-a iperf3 -s -1 -D >/dev/null; ip netns exec nlbov-c iperf3 -s -1 -D >/dev/null
sleep 0.5
aip=$(ip -n nlbov-a -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
cip=$(ip -n nlbov-c -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
for _ in $(seq 50); do ip netns exec nlbov-b ping -c1 -W1 "$aip" >/dev/null 2>&1 && break; sleep 0.1; done
ov=$(ip netns exec nlbov-b iperf3 -c "$aip" -t "$IPERF_SECONDS" -J | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).end.sum_received.bits_per_second/1e9).toFixed(2)))')
brg=$(ip netns exec nlbov-d iperf3 -c "$cip" -t "$IPERF_SECONDS" -J | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).end.sum_received.bits_per_second/1e9).toFixed(2)))')
ratio=$(awk -v a="$ov" -v b="$brg" 'BEGIN {printf "%.2f", a / b}')
echo "overlay (2 hosts): $ov Gbit/s; bridge (1 host): $brg Gbit/s; ratio ${ratio}x"

echo "## connect on host 1 -> host 2 pings it ($ROUNDS rounds)"
nl 2 sandbox create --network ov nlbov-probe >/dev/null
conv=()
for r in $(seq "$ROUNDS"); do
  nl 1 sandbox create nlbov-r$r >/dev/null
  nl 1 network connect --ip "10.70.200.$r" ov "nlbov-r$r"
  t=$(date +%s%N) # from connect returning
  while ! ip netns exec nlbov-probe ping -c1 -W0.05 -i0.01 "10.70.200.$r" >/dev/null 2>&1; do
    (( $(ms "$t") < 5000 )) || { echo "round $r: not reachable within 5 s" >&2; break; }
  done
  conv+=("$(ms "$t")")
  nl 1 sandbox rm "nlbov-r$r" >/dev/null
done
c50=$(p50 "${conv[@]}")
echo "connect returned on host 1 -> host 2 pings it, p50: ${c50} ms (samples: ${conv[*]})"

echo "## connect latency with N remote endpoints"
declare -A lat
lease=$(ip netns exec $U etcdctl --endpoints http://10.99.0.1:2379 lease grant 600 | awk '{print $2}')
netid=$(nl 1 network inspect ov | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].Id))')
have=0
for n in 1 100 1000; do
  # Remote endpoints as host "benchfake" (VTEP 10.99.0.99) would publish them.
  while (( have < n )); do
    k=$((have + 1)); ip="10.70.$((k / 250 + 100)).$((k % 250 + 1))"
    json=$(printf '{"id":"fake%06d","network":"%s","host":"benchfake","vtep":"10.99.0.99","ip":"%s/16","mac":"02:42:aa:%02x:%02x:%02x","name":"fake%d","aliases":[]}' \
      "$k" "$netid" "$ip" $((k >> 16 & 255)) $((k >> 8 & 255)) $((k & 255)) "$k")
    printf '%s\n' "$(printf '/netloom/ov/ep/%s/fake%06d' "$netid" "$k")" "$json"
    have=$k
  done >"$DIR/put.txt"
  # Key and value lines in pairs, one etcdctl per record (values stay exactly as written).
  while read -r key && read -r value; do
    ip netns exec $U etcdctl --endpoints http://10.99.0.1:2379 put --lease="$lease" "$key" "$value" >/dev/null
  done <"$DIR/put.txt"
  for _ in $(seq 200); do (( $(ip -n nlbov-h1 neigh show | grep -c 'dev nlx') >= n )) && break; sleep 0.1; done
  s=()
  for r in $(seq "$ROUNDS"); do
    nl 1 sandbox create "nlbov-l$r" >/dev/null
    t=$(date +%s%N); nl 1 network connect ov "nlbov-l$r"; s+=("$(ms "$t")")
    nl 1 sandbox rm "nlbov-l$r" >/dev/null
  done
  lat[$n]=$(p50 "${s[@]}")
  echo "remote endpoints: $n (neighbour entries programmed: $(ip -n nlbov-h1 neigh show | grep -c 'dev nlx')): connect p50 ${lat[$n]} ms"
done
flat=$(awk -v a="${lat[1]}" -v b="${lat[1000]}" 'BEGIN {printf "%.2f", b / a}')
echo "1000 vs 1 remote endpoints: ${flat}x"
mkdir -p bench/results
printf '{"date":"%s","iperf_gbps":{"overlay":%s,"bridge":%s,"ratio":%s},"connect_to_ping_p50_ms":%s,"connect_p50_ms":{"1":%s,"100":%s,"1000":%s}}\n' \
  "$(date -u +%FT%TZ)" "$ov" "$brg" "$ratio" "$c50" "${lat[1]}" "${lat[100]}" "${lat[1000]}" >"bench/results/overlay-$(date -u +%FT%H-%M-%SZ).json"
