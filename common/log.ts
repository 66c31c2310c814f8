// pino, created once by the daemon (daemon/log.ts); everything else receives a Logger (child per operation).
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'debug' | 'warn' | 'error' | 'child'>;

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
