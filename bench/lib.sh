# Shared by the bench scripts (sourced). Sandboxes a bench's netloomd made are network namespaces
# with files under /etc/netns/<name>; deleting only the namespace left those files behind.

# del_netns_prefixed PREFIX: removes every namespace whose name starts with PREFIX, and its
# /etc/netns entry (also an entry left without a namespace).
del_netns_prefixed() {
  local n
  for n in $(ip netns list | awk '{print $1}' | grep -E "^$1" || true); do ip netns del "$n" 2>/dev/null || true; done
  for n in /etc/netns/"$1"*; do [ -e "$n" ] && rm -rf "$n"; done
  return 0
}
