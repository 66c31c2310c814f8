// pino, created once by the daemon; everything else receives a Logger (child per operation).
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'debug' | 'warn' | 'error' | 'child'>;

export function createLogger(opts: { level?: string; file?: string } = {}): PinoLogger {
  const level = opts.level ?? process.env.NETLOOM_LOG_LEVEL ?? 'info';
  return opts.file ? pino({ level }, pino.destination({ dest: opts.file, sync: false, mkdir: true })) : pino({ level });
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
