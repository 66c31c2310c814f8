// none (Docker's "null"): the sandbox keeps a namespace of its own with only lo.
import type { Driver } from '../driver.js';
import { rejectOptions } from '../shared/options.js';

export const noneDriver: Driver<Record<string, never>> = {
  name: 'null',
  caps: { scope: 'local', usesIpam: false, sandboxMode: 'none', dns: false, publish: false, defaultRoute: false },
  options: { parse: (opts) => rejectOptions('null', opts) },
};
