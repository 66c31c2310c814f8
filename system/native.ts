// Finding and loading netloom's own N-API addons (native/*.node, built by `make addon`), from
// the compiled tree (build/…) and from the bundle (dist/) alike.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of native/<name>.node in the project root above this file, or undefined. */
export function nativeAddonPath(name: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) {
      const p = join(dir, 'native', `${name}.node`);
      return existsSync(p) ? p : undefined;
    }
    dir = dirname(dir);
  }
  return undefined;
}

const loaded = new Map<string, unknown>();

/** The addon, or undefined when it is not built or does not load; found and loaded once per
 *  process (a miss is remembered too), so callers need no cache of their own. */
export function loadNative<T>(name: string): T | undefined {
  if (!loaded.has(name)) loaded.set(name, load(name));
  return loaded.get(name) as T | undefined;
}

function load(name: string): unknown {
  const path = nativeAddonPath(name);
  if (!path) return undefined;
  try {
    return createRequire(import.meta.url)(path);
  } catch {
    return undefined;
  }
}
