// Option helpers shared by drivers.
import { invalid } from '../../common/errors.js';

/** For drivers that take no options: any key is refused, naming it. */
export function rejectOptions(driver: string, opts: Readonly<Record<string, string>>): Record<string, never> {
  const keys = Object.keys(opts);
  if (keys.length) throw invalid('NL_UNKNOWN_OPTION', `unknown option "${keys[0]}" for driver ${driver}: it takes no options`);
  return {};
}
