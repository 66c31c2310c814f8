#!/usr/bin/env bash
# Prints what the suite must leave exactly as it found it on the real host: namespaces, links,
# and the iptables rulesets (counters stripped).
set -uo pipefail
echo "## ip netns list"; ip netns list 2>/dev/null | sort
echo "## ip link"; ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
for t in iptables ip6tables; do
  echo "## $t-save"
  $t-save 2>/dev/null | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]/[0:0]/'
done
echo "## forwarding"; cat /proc/sys/net/ipv4/ip_forward
