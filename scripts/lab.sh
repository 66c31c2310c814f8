#!/usr/bin/env bash
# `make lab`, the project's main job: every example lab is brought up in a host namespace of its
# own with its own netloomd, checked (truth tables printed, JUnit written), drawn (SVG, coloured by
# the check) and taken down. A lab with a `requires:` line that this netloomd refuses (exit 3 at
# up, naming the settings it does not apply) is reported as skipped. Output goes to lab-out/.
# It runs in a private mount namespace with its own /run and /etc/netns, so even a lab that failed
# to come down leaves nothing on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NETLOOM_LAB_PRIVATE:-}" ]; then
  exec unshare --mount --propagation private env NETLOOM_LAB_PRIVATE=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=755 netloom-lab-run /run
mkdir -p /run/netns /etc/netns && mount -t tmpfs -o mode=755 netloom-lab-etc-netns /etc/netns
OUT=${LAB_OUT:-lab-out}
mkdir -p "$OUT"
lab() { echo "\$ netloom lab $*" >&2; node bin/netloom.mjs lab "$@"; }
status=0
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(ls examples/*.loom.yaml)
for f in "${files[@]}"; do
  base=$(basename "$f" .loom.yaml)
  printf '\n\033[1m== %s\033[0m  %s\n' "$base" "$(head -1 "$f" | sed 's/^# *//; s/:.*//')"
  rc=0
  echo "\$ netloom lab up $f" >&2
  if ! up=$(node bin/netloom.mjs lab up "$f" 2>&1); then
    lab down "$f" >/dev/null || true
    if grep -q '^requires:' "$f" && grep -qE 'this netloomd does not (apply|accept)|need netloomd --config-file|this kernel has no netem' <<<"$up"; then
      echo "skipped: needs $(sed -n 's/^requires: *//p' "$f"); $(grep '^Error' <<<"$up" | head -1)"
    else
      echo "$up" >&2; echo "lab $base: up failed" >&2; status=1
    fi
    continue
  fi
  lab check "$f" --junit "$OUT/$base.xml" || rc=$?
  lab graph "$f" --svg "$OUT/$base.svg" >/dev/null || true
  lab down "$f" >/dev/null || rc=3
  [ "$rc" = 0 ] || { echo "lab $base: exit $rc" >&2; status=1; }
done
echo
echo "pictures and JUnit reports in $OUT/"
exit $status
