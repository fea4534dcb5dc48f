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

/**
 * Root logger; modules get `logger.child({ mod })`. `pretty` renders colourised lines for a terminal
 * (pino-pretty); otherwise one JSON object per line, what log shippers want.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, pretty = false): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (pretty && !destination) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(options, destination);
}

/** Masks a stream key for log lines: enough to correlate, never enough to publish. */
export function maskKey(key: string): string {
  return key.length <= 6 ? '***' : `${key.slice(0, 4)}…(${key.length})`;
}
