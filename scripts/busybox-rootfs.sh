#!/usr/bin/env bash
# Writes a tar of a minimal root filesystem: Debian's static busybox and a symlink per applet in
# /bin (sh, ping, ip, nc, nslookup, wget, sleep...). `docker import` turns it into an image, so no
# registry is ever needed.   usage: scripts/busybox-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
busybox=/bin/busybox
[[ -x $busybox ]] || { echo "$busybox not found: install busybox-static" >&2; exit 1; }

tmp=$(mktemp -d /tmp/nlbusybox.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/rootfs"/{bin,etc,proc,sys,dev,tmp,root,var/run}
chmod 1777 "$tmp/rootfs/tmp"
install -m 0755 "$busybox" "$tmp/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [[ $applet == busybox || -e $tmp/rootfs/bin/$applet ]] || ln -s busybox "$tmp/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/rootfs/etc/group"
tar -C "$tmp/rootfs" --numeric-owner -cf "$out" .
