#!/usr/bin/env bash
# Installs what netloom needs on a Debian machine (as root) and builds it.
# docker.io and busybox-static: the Docker plugin's end-to-end test runs a real engine (in a test
# namespace) on a busybox image imported from busybox-static; the benchmarks compare against it.
# etcd-server: the overlay tests run a real etcd inside their underlay namespace; iperf3: the overlay bench.
# librsvg2-bin: the lab test renders its SVG with rsvg-convert; docker-compose: the lab bench beside Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

pkgs=(iproute2 iptables iputils-ping util-linux procps gcc make ca-certificates dnsutils docker.io busybox-static etcd-server etcd-client iperf3 librsvg2-bin docker-compose)
# python3-docker (the Docker SDK for Python, Debian's; PyPI is not reachable) and python3-venv:
# the Engine API compatibility test (test/priv/compat.test.ts) drives netloomd with the SDK.
pkgs+=(python3-docker python3-venv)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
# N-API headers for the two small addons (node_api.h is ABI-stable across Node versions).
[ -f /usr/include/node/node_api.h ] || pkgs+=(libnode-dev)
# fping: the lab's ICMP probe (one process per source node; plain ping is the fallback).
pkgs+=(fping)
# tcpdump: netloom lab capture and check --capture-failures (run inside a lab node).
pkgs+=(tcpdump)

missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: netloom needs Node.js 20 or newer, found $(node --version)" >&2
  exit 1
fi

# npm ci installs exactly the lockfile; package.json's allowScripts decides which install
# scripts run (esbuild's; netlink ships a prebuilt x64 binding, so its node-gyp step is denied).
npm ci --no-audit --no-fund --loglevel=error
make build
echo "setup: done (node $(node --version), $(iptables --version))"
