import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that never reach a log line: credentials, tokens and stream keys. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  '*.password',
  'streamKey',
  '*.streamKey',
  'refreshToken',
  '*.refreshToken',
  'accessToken',
  '*.accessToken',
  'pin',
  '*.pin',
];

/** Root logger; modules get `logger.child({ mod })`. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/** Masks a stream key for log lines: enough to correlate, never enough to publish. */
export function maskKey(key: string): string {
  return key.length <= 6 ? '***' : `${key.slice(0, 4)}…(${key.length})`;
}
