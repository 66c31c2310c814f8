#!/usr/bin/env bash
# Runs the privileged tests inside a private mount namespace, a fresh network namespace and a
# PID namespace (every process a test starts dies with the suite, even one a test forgot):
# /run there is a tmpfs of its own, so every namespace a test makes under /run/netns (and
# anything a test forgets) disappears with the suite's processes, a test's Docker engine finds
# plugins in the suite's own /run/docker/plugins and starts its own containerd, and nothing can
# touch the host's links, routes or iptables. Each test also makes its own host namespace
# (test/helpers/host.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(build/test/priv/)
if [ "$(id -u)" != 0 ]; then
  echo "run-priv: not root: the privileged tests skip themselves"
  exec node --test "${files[@]}"
fi
exec unshare --mount --net --pid --fork --mount-proc --propagation private -- bash -c '
  set -e
  mount -t tmpfs -o mode=755 netloom-test-run /run
  mkdir -p /run/netns /run/docker/plugins
  mkdir -p /etc/netns && mount -t tmpfs -o mode=755 netloom-test-etc-netns /etc/netns
  ip link set lo up
  exec node --test --test-concurrency=1 --test-timeout="${NETLOOM_TEST_TIMEOUT:-180000}" "$@"
' run-priv "${files[@]}"
