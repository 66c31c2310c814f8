// container:<name> — not a network but a sandbox mode: the new sandbox shares another
// sandbox's namespace (Docker's --network container:x). It has no endpoint of its own; its
// /run/netns entry is a bind mount of the other's, so `ip netns exec` works on either name.
import { invalid } from '../common/errors.js';

export const CONTAINER_PREFIX = 'container:';

/** `container:web` -> `web`; anything else -> undefined. */
export function parseContainerMode(network: string): string | undefined {
  if (!network.startsWith(CONTAINER_PREFIX)) return undefined;
  const target = network.slice(CONTAINER_PREFIX.length);
  if (!target) throw invalid('NL_BAD_NETWORK_MODE', `invalid network mode "${network}": expected container:<sandbox name>`);
  return target;
}
