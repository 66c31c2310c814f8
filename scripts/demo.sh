#!/usr/bin/env bash
# The README demo. netloomd runs in a network namespace made for the demo ("the host"), so the
# demo shows everything for real without touching this machine's own links or iptables, and
# leaves nothing behind. Every command is printed before it runs.
#
# It runs in a private mount namespace with its own /run: the Docker engine it starts finds the
# netloom plugin in its own /run/docker/plugins and runs its own containerd, and every namespace
# it makes disappears with it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NETLOOM_DEMO_PRIVATE:-}" ]; then
  exec unshare --mount --propagation private env NETLOOM_DEMO_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=755 netloom-demo-run /run
mkdir -p /run/netns /run/docker/plugins
HOST=nldemo-host
DIR=$(mktemp -d /tmp/netloom-demo.XXXXXX)
export NETLOOM_SOCKET=$DIR/netloomd.sock NETLOOM_DATA_DIR=$DIR/data NETLOOM_NO_AUTOSTART=1
netloom() { echo "\$ netloom $*" >&2; node bin/netloom.mjs "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
# The demo's Docker engine (scripts/docker-env.sh) lives in the demo's host namespace.
export NL_DOCKER_NETNS=$HOST NL_DOCKER_DATA_ROOT=$DIR/docker-data NL_DOCKER_EXEC_ROOT=$DIR/docker-exec
export NL_DOCKER_LOG=$DIR/dockerd.log NL_DOCKER_CGROUP=netloom-demo-docker DOCKER_HOST=unix://$DIR/docker-exec/docker.sock
docker() { echo "\$ docker $*" >&2; command docker "$@"; }
pid=
cleanup() {
  [ -e "$DIR/docker-exec" ] && bash scripts/docker-env.sh down --purge >/dev/null 2>&1 || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  for p in ${lsrv:-}; do kill "$p" 2>/dev/null || true; done
  for p in ${ovpids:-}; do kill "$p" 2>/dev/null || true; done
  for n in web api db cache h lonely vault pub ldb lapp lother ov-web ov-api nldemo-a nldemo-b nldemo-u; do ip netns del "demo-$n" 2>/dev/null || ip netns del "$n" 2>/dev/null || true; done
  ip netns del "$HOST" 2>/dev/null || true
  rm -rf "$DIR" /etc/netns/demo-*
}
trap cleanup EXIT
for n in web api db cache h lonely vault; do ip netns del "demo-$n" 2>/dev/null || true; done; ip netns del "$HOST" 2>/dev/null || true

say "a fresh namespace plays the host; netloomd runs in it"
ip netns add "$HOST"; ip -n "$HOST" link set lo up
# The demo's upstream DNS is a loopback address nobody serves: no query ever leaves the machine.
echo "nameserver 127.0.0.1" > "$DIR/resolv.conf"
nsenter --net=/run/netns/$HOST node bin/netloomd.mjs --log-file "$DIR/netloomd.log" --resolv-conf "$DIR/resolv.conf" & pid=$!
for _ in $(seq 100); do node bin/netloom.mjs network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
netloom network ls

say "a user-defined bridge network and two sandboxes on it"
netloom network create --subnet 10.31.0.0/24 --gateway 10.31.0.1 front
netloom sandbox create --network front demo-web
netloom sandbox create --network front --ip 10.31.0.5 --alias www demo-api
netloom sandbox ls

say "reachability by address"
netloom sandbox exec demo-web -- ping -c2 -W1 10.31.0.5
netloom sandbox exec demo-web -- ip -br addr

say "names: the embedded DNS on the network's gateway (sandbox names, aliases, name.network)"
netloom sandbox exec demo-web -- cat /etc/resolv.conf
netloom sandbox exec demo-web -- ping -c1 -W1 demo-api
netloom sandbox exec demo-web -- getent hosts www
netloom sandbox exec demo-web -- getent hosts demo-api.front
netloom dns explain demo-web www
netloom dns explain demo-web nosuch

say "inspect, shaped like docker network inspect"
netloom network inspect front

say "one sandbox, two networks: eth0 and eth1"
netloom network create --subnet 10.32.0.0/24 back
netloom network connect back demo-api
netloom sandbox exec demo-api -- ip -br addr
netloom sandbox create --network back demo-db
echo "web (front only) -> db (back only): isolated networks, so this must fail:" >&2
if netloom sandbox exec demo-web -- ping -c1 -W1 10.32.0.3; then echo "UNEXPECTED: isolation failed" >&2; exit 1; fi
netloom sandbox exec demo-api -- ping -c1 -W1 10.32.0.3
netloom sandbox exec demo-api -- ping -c1 -W1 demo-db
echo "web cannot even resolve db, which is only on back:" >&2
netloom dns explain demo-web demo-db

say "modes: container:<name>, none, host"
netloom sandbox create --network container:demo-web demo-cache
netloom sandbox exec demo-cache -- ip -br addr
netloom sandbox create --network none demo-lonely
netloom sandbox exec demo-lonely -- ip -br link
netloom sandbox create --network host demo-h
netloom sandbox exec demo-h -- ip -br link

say "an internal network has no route out"
netloom network create --internal --subnet 10.33.0.0/24 vault
netloom sandbox create --network vault demo-vault
netloom sandbox exec demo-vault -- ip route
echo "no default route above; the gateway on the bridge answers, nothing beyond it:" >&2
netloom sandbox exec demo-vault -- ping -c1 -W1 10.33.0.1
if netloom sandbox exec demo-vault -- ping -c1 -W1 10.31.0.2; then echo "UNEXPECTED: internal network reached out" >&2; exit 1; fi

say "published ports: kernel DNAT, no proxy process; reachable on the host's 127.0.0.1 and its own addresses"
netloom sandbox create --network front -p 8080:80 -p 127.0.0.1::81 demo-pub
ip netns exec demo-pub busybox nc -ll -p 80 -e echo "hello from demo-pub" & srv=$!
sleep 0.3
netloom port demo-pub
echo "\$ echo | busybox nc 127.0.0.1 8080     (in the host namespace)" >&2
ip netns exec "$HOST" sh -c 'echo | timeout 3 busybox nc 127.0.0.1 8080'
echo "\$ echo | busybox nc 10.31.0.1 8080     (a host address)" >&2
ip netns exec "$HOST" sh -c 'echo | timeout 3 busybox nc 10.31.0.1 8080'
netloom sandbox create --network front -p 8080:80 demo-clash || true

say "docker run's -h, --link and -P: a host name of its own, a one-way name, every exposed port published"
netloom sandbox create -h db1 --domainname example.com --expose 5432 demo-ldb
netloom sandbox exec demo-ldb -- hostname
netloom sandbox exec demo-ldb -- domainname
netloom sandbox create --link demo-ldb:data --add-host gw:host-gateway --expose 80 --expose 53/udp -P demo-lapp
netloom sandbox exec demo-lapp -- cat /etc/hosts
netloom sandbox exec demo-lapp -- getent hosts data
echo "links are one way: demo-ldb cannot resolve demo-lapp:" >&2
if netloom sandbox exec demo-ldb -- getent hosts demo-lapp; then echo "UNEXPECTED: the link went both ways" >&2; exit 1; fi
netloom port demo-lapp
netloom sandbox rm demo-lapp demo-ldb

say "dockerd's --bip and --icc=false: restart netloomd with them; the unused default bridge moves"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "\$ netloomd --bip 10.88.0.1/24 --icc=false" >&2
nsenter --net=/run/netns/$HOST node bin/netloomd.mjs --log-file "$DIR/netloomd.log" --resolv-conf "$DIR/resolv.conf" --bip 10.88.0.1/24 --icc=false & pid=$!
for _ in $(seq 100); do node bin/netloom.mjs network ls -q >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$HOST" -br addr show netloom0
netloom sandbox create --expose 5432 demo-ldb
netloom sandbox create --link demo-ldb:data demo-lapp
netloom sandbox create demo-lother
for port in 5432 5433; do ip netns exec demo-ldb busybox nc -ll -p $port -e echo "db port $port" & lsrv="${lsrv:-} $!"; done
sleep 0.3
dbip=$(ip -n demo-ldb -4 -br addr show eth0 | awk '{print $3}' | cut -d/ -f1)
echo "\$ iptables-save | grep 'NETLOOM -s'     (one rule each way, for the exposed port only)" >&2
ip netns exec "$HOST" iptables-save | grep -- '-A NETLOOM -s'
echo "\$ echo | nc $dbip 5432     (in demo-lapp, linked: the exposed port answers)" >&2
netloom sandbox exec demo-lapp -- sh -c "echo | timeout 3 busybox nc $dbip 5432"
echo "\$ echo | nc $dbip 5433     (in demo-lapp: not exposed, so ICC off drops it)" >&2
if netloom sandbox exec demo-lapp -- sh -c "echo | timeout 2 busybox nc $dbip 5433"; then echo "UNEXPECTED: ICC off let an unexposed port through" >&2; exit 1; fi
echo "\$ echo | nc $dbip 5432     (in demo-lother, not linked: dropped)" >&2
if netloom sandbox exec demo-lother -- sh -c "echo | timeout 2 busybox nc $dbip 5432"; then echo "UNEXPECTED: an unlinked sandbox got through" >&2; exit 1; fi
for p in $lsrv; do kill "$p" 2>/dev/null || true; done; lsrv=
netloom sandbox rm demo-lapp demo-ldb demo-lother

say "self-healing: flush the nat table; netloomd puts back exactly its rules; netloom doctor agrees"
echo "\$ iptables -t nat -F     (in the host namespace)" >&2
ip netns exec "$HOST" iptables -t nat -F
sleep 3
ip netns exec "$HOST" sh -c 'echo | timeout 3 busybox nc 127.0.0.1 8080'
netloom doctor
kill "$srv" 2>/dev/null || true; srv=
netloom sandbox rm demo-pub

say "bad input is refused naming the value, and changes nothing"
netloom network create --subnet 10.31.0.128/25 clash || true
netloom network rm front || true

say "Docker uses netloom: a real dockerd in the same host namespace, netloom as its driver and IPAM"
bash scripts/docker-env.sh up >/dev/null
docker network create -d netloom --ipam-driver netloom --subnet 10.34.0.0/24 -o com.docker.network.driver.mtu=1400 dnet
# --dns 127.0.0.1: names Docker's resolver does not know go to the container's own loopback, never out.
docker run -d --name dweb --network dnet --dns 127.0.0.1 --dns-search . nlbusybox sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
docker run --rm --network dnet --dns 127.0.0.1 --dns-search . nlbusybox sh -c 'ip addr show eth0; ping -c1 -W1 dweb'
netloom network ls
echo "the CLI cannot take what Docker holds:" >&2
netloom network create --subnet 10.34.0.0/25 clash2 || true
docker rm -f dweb
docker network rm dnet
bash scripts/docker-env.sh down --purge >/dev/null

say "hosts: an overlay network across two hosts (namespaces on an underlay bridge), state in a real etcd"
ip netns add nldemo-u; ip -n nldemo-u link set lo up
ip -n nldemo-u link add ubr type bridge; ip -n nldemo-u addr add 10.99.0.1/24 dev ubr; ip -n nldemo-u link set ubr up
ip netns exec nldemo-u etcd --data-dir "$DIR/etcd" --listen-client-urls http://10.99.0.1:2379 --advertise-client-urls http://10.99.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 >"$DIR/etcd.log" 2>&1 & ovpids="$!"
for h in a b; do
  ip netns add nldemo-$h; ip -n nldemo-$h link set lo up
  ip -n nldemo-u link add u$h type veth peer name eth0 netns nldemo-$h; ip -n nldemo-u link set u$h master ubr up
  ip -n nldemo-$h addr add 10.99.0.1$([ $h = a ] && echo 1 || echo 2)/24 dev eth0; ip -n nldemo-$h link set eth0 up
done
for _ in $(seq 50); do ip netns exec nldemo-u etcdctl --endpoints http://10.99.0.1:2379 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
for h in a b; do
  echo "\$ netloomd --cluster-store etcd://10.99.0.1:2379 --advertise-addr 10.99.0.1$([ $h = a ] && echo 1 || echo 2) --node-name host-$h     (in nldemo-$h)" >&2
  nsenter --net=/run/netns/nldemo-$h node bin/netloomd.mjs --socket "$DIR/$h.sock" --data-dir "$DIR/$h" --log-file "$DIR/$h.log" --no-plugin \
    --resolv-conf "$DIR/resolv.conf" --cluster-store etcd://10.99.0.1:2379 --advertise-addr 10.99.0.1$([ $h = a ] && echo 1 || echo 2) --node-name host-$h & ovpids="$ovpids $!"
done
on() { local h=$1; shift; echo "\$ netloom $*     (on host $h)" >&2; node bin/netloom.mjs --socket "$DIR/$h.sock" "$@"; }
for h in a b; do for _ in $(seq 100); do node bin/netloom.mjs --socket "$DIR/$h.sock" network ls -q >/dev/null 2>&1 && break; sleep 0.1; done; done
on a network create --driver overlay --subnet 10.60.0.0/24 ov1
sleep 0.5
on b network ls
on a sandbox create --network ov1 demo-ov-web
on b sandbox create --network ov1 demo-ov-api
sleep 0.5
on b sandbox exec demo-ov-api -- ping -c2 -W1 demo-ov-web
on b sandbox exec demo-ov-api -- ping -M do -s 1422 -c1 -W1 demo-ov-web
echo "\$ bridge fdb show dev nlx-...; ip neigh show dev nlx-...     (on host b: static entries from etcd, nothing learned or flooded)" >&2
ip netns exec nldemo-b sh -c 'for d in $(ip -o link show type vxlan | cut -d: -f2 | cut -d@ -f1); do bridge fdb show dev $d | grep self; ip neigh show dev $d; done'
on a sandbox rm demo-ov-web; on b sandbox rm demo-ov-api; on a network rm ov1

say "teardown"
netloom sandbox rm demo-cache demo-web demo-api demo-db demo-lonely demo-h demo-vault
netloom network prune -f
netloom network ls
echo "demo: done" >&2
