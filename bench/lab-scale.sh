#!/usr/bin/env bash
# The lab at scale beside Docker (issue 15): 100 nodes on 5 networks plus 50 point-to-point links,
# `netloom lab up`, the 100x100 ICMP `lab check`, `lab down` (0 objects left), and the same nodes
# and networks with `docker-compose up -d`, a probe per source (docker exec, its pings in parallel)
# and `docker-compose down`. Docker's per-pair exec loop (9900 docker execs) is skipped.
# Usage: bash bench/lab-scale.sh   (root; its own private mount namespace and dockerd)
set -euo pipefail
cd "$(dirname "$0")/.."
N=100 NETS=5 LINKS=50 PAIR_LOOP=0 exec bash bench/lab.bench.sh "$@"
