import pino, { type Logger } from 'pino';

/** Field paths whose values never reach a log line. */
const REDACTED = ['password', 'pass', 'token', 'authorization', '*.password', '*.pass', '*.token', '*.authorization', 'headers.authorization'];

/** Creates the relay's structured logger (JSON lines on stdout, secrets redacted). */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'bouncegate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED, censor: '[redacted]' },
  });
}
