#!/usr/bin/env bash
# A private Docker engine for benchmarks and e2e tests, isolated in its own network namespace.
#
#   scripts/docker-env.sh up            install docker.io + busybox-static if needed, start dockerd
#                                       inside netns nl-dockerd, build the image nlbusybox:latest;
#                                       the last line printed is DOCKER_HOST=unix://...
#   scripts/docker-env.sh down [--purge] stop dockerd and its containerd, delete the netns and the
#                                       exec root; --purge also deletes the data root (image cache)
#   scripts/docker-env.sh status        what is running, and the DOCKER_HOST to use
#
# Why a namespace: dockerd creates docker0, veths and iptables rules in whatever network namespace
# it starts in. Started with nsenter --net (not `ip netns exec`, which would also give it a private
# mount namespace, hiding its overlay and netns mounts from us and from `down`), all of that lives
# in nl-dockerd and disappears with it, so the host's links and iptables stay as they were. The
# namespace has only lo: nothing a container does can leave it, and no registry is reachable
# (images are never pulled; nlbusybox is imported from the local busybox-static binary).
set -euo pipefail

# Another engine (the demo's) sets these: NL_DOCKER_NETNS, NL_DOCKER_DATA_ROOT,
# NL_DOCKER_EXEC_ROOT, NL_DOCKER_LOG, NL_DOCKER_CGROUP.
readonly NETNS=${NL_DOCKER_NETNS:-nl-dockerd}
readonly NETNS_PATH=/run/netns/$NETNS
readonly DATA_ROOT=${NL_DOCKER_DATA_ROOT:-/var/lib/netloom-bench-docker}
readonly EXEC_ROOT=${NL_DOCKER_EXEC_ROOT:-/run/netloom-bench-docker}
readonly SOCK=$EXEC_ROOT/docker.sock
readonly DOCKER_HOST_URL=unix://$SOCK
readonly PIDFILE=$EXEC_ROOT/dockerd.pid
readonly CONFIG=$EXEC_ROOT/daemon.json
readonly LOG=${NL_DOCKER_LOG:-/var/log/netloom-bench-dockerd.log}
readonly IMAGE=nlbusybox:latest
# Containers' cgroups go under /netloom-bench-docker (not /docker, which another engine may use),
# so `down` can find container processes left behind by a killed dockerd.
readonly CGROUP_PARENT=${NL_DOCKER_CGROUP:-netloom-bench-docker}
# Debian's client, matching Debian's engine (API 1.41). Any newer client negotiates down to it.
readonly DOCKER_BIN=/usr/bin/docker
readonly START_TIMEOUT_S=60
readonly STOP_TIMEOUT_S=30

log() { printf 'docker-env: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
dk() { "$DOCKER_BIN" -H "$DOCKER_HOST_URL" "$@"; }

require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (creates a network namespace and starts dockerd)"; }

ensure_packages() {
  local missing=()
  local pkg
  for pkg in docker.io busybox-static; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  # No init system starts services on these machines (policy-rc.d denies it), so installing
  # docker.io does not start a dockerd in the host namespace.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# The PID in dockerd's pidfile, printed only if that process is still our dockerd (a stale file
# may name a PID the kernel has since given to something else).
dockerd_pid() {
  [[ -r $PIDFILE ]] || return 1
  local pid
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "dockerd .*--exec-root $EXEC_ROOT" || return 1
  echo "$pid"
}

engine_answers() { timeout 5 "$DOCKER_BIN" -H "$DOCKER_HOST_URL" version >/dev/null 2>&1; }

ensure_netns() {
  [[ -e $NETNS_PATH ]] || ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
}

start_dockerd() {
  mkdir -p "$EXEC_ROOT" "$DATA_ROOT" "$(dirname "$LOG")"
  rm -f "$PIDFILE"
  # Our own config file, so /etc/docker/daemon.json (if any) does not apply, and so the engine's
  # identity key goes to the data root instead of /etc/docker/key.json.
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$DATA_ROOT" >"$CONFIG"
  log "starting dockerd in netns $NETNS (log: $LOG)"
  printf '\n=== %s docker-env up\n' "$(date -Is)" >>"$LOG"
  # setsid: dockerd outlives this script and the terminal. nsenter --net without --fork execs
  # dockerd in place, so the PID is dockerd's; dockerd also writes it to --pidfile.
  setsid nsenter --net="$NETNS_PATH" \
    dockerd \
      --config-file "$CONFIG" \
      --data-root "$DATA_ROOT" \
      --exec-root "$EXEC_ROOT" \
      --pidfile "$PIDFILE" \
      --cgroup-parent "$CGROUP_PARENT" \
      -H "$DOCKER_HOST_URL" \
      --log-level warn \
    </dev/null >>"$LOG" 2>&1 &
  local launched=$! i
  for ((i = 0; i < START_TIMEOUT_S * 2; i++)); do
    if engine_answers; then
      log "dockerd answering (pid $(dockerd_pid || echo "$launched"))"
      return 0
    fi
    if ! kill -0 "$launched" 2>/dev/null && ! dockerd_pid >/dev/null; then
      log "dockerd exited during start; last lines of $LOG:"
      tail -n 20 "$LOG" >&2
      return 1
    fi
    sleep 0.5
  done
  log "dockerd did not answer within ${START_TIMEOUT_S}s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2
  return 1
}

# nlbusybox: one static busybox and a symlink per applet in /bin. Everything a test container
# needs (sh, ping, ip, nc, wget, sleep, hostname...) without a registry.
ensure_image() {
  if dk image inspect "$IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d /tmp/nlbusybox.XXXXXX)
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  bash "$(dirname "$0")/busybox-rootfs.sh" "$tmp/rootfs.tar"
  log "importing $IMAGE from /bin/busybox"
  dk import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$tmp/rootfs.tar" "$IMAGE" >/dev/null
}

cmd_up() {
  local pid
  require_root
  ensure_packages
  ensure_netns
  if dockerd_pid >/dev/null && engine_answers; then
    log "dockerd already running (pid $(dockerd_pid))"
  else
    if pid=$(dockerd_pid); then
      die "dockerd (pid $pid) is running but not answering on $SOCK; run '$0 down' first"
    fi
    start_dockerd
  fi
  ensure_image
  echo "DOCKER_HOST=$DOCKER_HOST_URL"
}

# Stop a PID: TERM, wait up to $2 seconds, then KILL.
stop_pid() {
  local pid=$1 timeout_s=$2 what=$3 i
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping $what (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$what (pid $pid) still running after ${timeout_s}s: KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$what (pid $pid) survived KILL"
  return 1
}

# PIDs whose command line mentions our exec root: the containerd dockerd spawned (its config lives
# there) and containerd shims (their -address is our containerd's socket). Only these are ours.
our_helper_pids() {
  local p
  for p in /proc/[0-9]*; do
    [[ -r $p/cmdline ]] || continue
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "$EXEC_ROOT/containerd"; then
      echo "${p#/proc/}"
    fi
  done
}

# Normally dockerd stops its containers and removes their cgroups. After a killed dockerd, the
# container processes outlive their shims: kill what is left in our cgroups, then remove them.
remove_container_cgroups() {
  local parents=() procs=() pids="" pid i
  mapfile -t parents < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name "$CGROUP_PARENT" 2>/dev/null)
  ((${#parents[@]} > 0)) || return 0
  for ((i = 0; i < 50; i++)); do
    mapfile -t procs < <(find "${parents[@]}" -name cgroup.procs 2>/dev/null)
    ((${#procs[@]} > 0)) || break
    pids=$(sort -u "${procs[@]}" 2>/dev/null | tr '\n' ' ')
    [[ -n ${pids// /} ]] || { pids=""; break; }
    if ((i == 0)); then log "killing container processes left in cgroup $CGROUP_PARENT: $pids"; fi
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    sleep 0.1
  done
  [[ -z $pids ]] || { log "container processes survived KILL: $pids"; return 1; }
  # Children before parents; a cgroup directory is removed with rmdir, never rm -r.
  find "${parents[@]}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  return 0
}

# Mounts under our roots left by a dockerd that was killed (overlay rootfs, netns bind mounts,
# the data root bind-mounted on itself for shared propagation). Deepest first.
unmount_under() {
  local root=$1 target
  while read -r target; do
    [[ -n $target ]] || continue
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || log "could not unmount $target"
  done < <(findmnt -rn -o TARGET | awk -v r="$root" 'index($0, r) == 1' | sort -r)
}

cmd_down() {
  require_root
  local purge=false
  [[ ${1:-} == --purge ]] && purge=true
  local failed=0 pid child
  if pid=$(dockerd_pid); then
    local children
    children=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' || true)
    # dockerd stops its containers and then its containerd on TERM; the wait covers the
    # containers' stop timeout.
    stop_pid "$pid" "$STOP_TIMEOUT_S" dockerd || failed=1
    for child in $children; do
      [[ -r /proc/$child/comm ]] && [[ $(<"/proc/$child/comm") == containerd ]] &&
        { stop_pid "$child" 10 containerd || failed=1; }
    done
  else
    log "no dockerd running for $EXEC_ROOT"
  fi
  for pid in $(our_helper_pids); do
    stop_pid "$pid" 5 "$(cat "/proc/$pid/comm" 2>/dev/null || echo helper)" || failed=1
  done
  remove_container_cgroups || failed=1
  unmount_under "$EXEC_ROOT"
  unmount_under "$DATA_ROOT"
  # A namespace the caller gave (NL_DOCKER_NETNS) is the caller's to delete.
  if [[ -e $NETNS_PATH && -z ${NL_DOCKER_NETNS:-} ]]; then
    ip netns del "$NETNS" || failed=1
  fi
  rm -rf --one-file-system "$EXEC_ROOT"
  if $purge; then
    log "purging $DATA_ROOT and $LOG"
    rm -rf --one-file-system "$DATA_ROOT" "$LOG"
  fi
  ((failed == 0)) || die "down finished with errors (see above)"
  log "down"
}

cmd_status() {
  local pid
  if [[ -e $NETNS_PATH ]]; then echo "netns: $NETNS present"; else echo "netns: $NETNS absent"; fi
  if pid=$(dockerd_pid); then echo "dockerd: running, pid $pid"; else echo "dockerd: not running"; fi
  if engine_answers; then
    echo "engine: $(dk version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null)"
    if dk image inspect "$IMAGE" >/dev/null 2>&1; then echo "image: $IMAGE present"; else echo "image: $IMAGE absent"; fi
    echo "containers: $(dk ps -aq | wc -l)"
    echo "networks: $(dk network ls -q | wc -l)"
  else
    echo "engine: not answering on $SOCK"
  fi
  if [[ -d $DATA_ROOT ]]; then echo "data root: $DATA_ROOT ($(du -sh "$DATA_ROOT" 2>/dev/null | cut -f1))"; fi
  echo "DOCKER_HOST=$DOCKER_HOST_URL"
  [[ -n ${pid:-} ]]
}

main() {
  case ${1:-} in
    up) cmd_up ;;
    down) shift; cmd_down "$@" ;;
    status) cmd_status ;;
    *) echo "usage: $0 up | down [--purge] | status" >&2; exit 2 ;;
  esac
}

main "$@"
