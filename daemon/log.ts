// netloomd's logger: pino, to stderr or appended to --log-file.
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger as PinoLogger } from 'pino';

export function createLogger(opts: { level?: string; file?: string } = {}): PinoLogger {
  const level = opts.level ?? process.env.NETLOOM_LOG_LEVEL ?? 'info';
  if (!opts.file) return pino({ level });
  // Opened here, synchronously: a destination opened by path is not ready for a tick, and pino's
  // flush at exit then throws over the one line an early refusal prints.
  mkdirSync(dirname(opts.file), { recursive: true });
  return pino({ level }, pino.destination({ fd: openSync(opts.file, 'a'), sync: false }));
}
