// host: the sandbox uses the daemon's own namespace (same interfaces, no NAT, no isolation).
import type { Driver } from '../driver.js';
import { rejectOptions } from '../shared/options.js';

export const hostDriver: Driver<Record<string, never>> = {
  name: 'host',
  caps: { scope: 'local', usesIpam: false, sandboxMode: 'host', dns: false, publish: false, defaultRoute: false },
  options: { parse: (opts) => rejectOptions('host', opts) },
};
