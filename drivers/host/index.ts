// host: the sandbox uses the daemon's own namespace (same interfaces, no NAT, no isolation).
import type { Driver } from '../driver.js';
import { rejectOptions } from '../none/index.js';

export const hostDriver: Driver<Record<string, never>> = {
  name: 'host',
  scope: 'local',
  usesIpam: false,
  sandboxMode: 'host',
  parseOptions: (opts) => rejectOptions('host', opts),
};
