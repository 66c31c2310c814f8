// none (Docker's "null"): the sandbox keeps a namespace of its own with only lo.
import { invalid } from '../../common/errors.js';
import type { Driver } from '../driver.js';

export function rejectOptions(driver: string, opts: Readonly<Record<string, string>>): Record<string, never> {
  const keys = Object.keys(opts);
  if (keys.length) throw invalid('NL_UNKNOWN_OPTION', `unknown option "${keys[0]}" for driver ${driver}: it takes no options`);
  return {};
}

export const noneDriver: Driver<Record<string, never>> = {
  name: 'null',
  scope: 'local',
  usesIpam: false,
  sandboxMode: 'none',
  parseOptions: (opts) => rejectOptions('null', opts),
};
