// pino, created once by the daemon; everything else receives a Logger (child per operation).
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'debug' | 'warn' | 'error' | 'child'>;

export function createLogger(opts: { level?: string; file?: string } = {}): PinoLogger {
  const level = opts.level ?? process.env.NETLOOM_LOG_LEVEL ?? 'info';
  if (!opts.file) return pino({ level });
  // Opened here, synchronously: a destination opened by path is not ready for a tick, and pino's
  // flush at exit then throws over the one line an early refusal prints.
  mkdirSync(dirname(opts.file), { recursive: true });
  return pino({ level }, pino.destination({ fd: openSync(opts.file, 'a'), sync: false }));
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
