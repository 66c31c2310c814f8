// Where a netloomd instance lives. Flags win over environment variables, which win over the
// defaults, so tests and several instances never share a socket or a data dir.
export const DEFAULT_SOCKET = '/run/netloom/netloom.sock';
export const DEFAULT_DATA_DIR = '/var/lib/netloom';
/** V8 flags netloomd sets for itself at start unless NETLOOMD_V8_FLAGS is given (daemon/entry.ts). */
export const DAEMON_V8_FLAGS = '--optimize-for-size --semi-space-growth-factor=1';
export const PLUGIN_NAME = 'netloom';
export const DEFAULT_PLUGIN_SOCKET = `/run/docker/plugins/${PLUGIN_NAME}.sock`;

export interface InstancePaths {
  readonly socket: string;
  readonly dataDir: string;
}

export function resolvePaths(flags: { socket?: string; dataDir?: string }, env: NodeJS.ProcessEnv = process.env): InstancePaths {
  return {
    socket: flags.socket ?? env.NETLOOM_SOCKET ?? DEFAULT_SOCKET,
    dataDir: flags.dataDir ?? env.NETLOOM_DATA_DIR ?? DEFAULT_DATA_DIR,
  };
}
