import pino, { type Logger } from 'pino';
import type { Config } from './config/config.ts';

/**
 * The process logger. Tokens never reach a log line: the Authorization header is redacted
 * and request URLs are logged without their query string (where `?token=` travels).
 */
export function createLogger(
  config: Pick<Config, 'log'>,
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level: config.log.level,
      redact: [
        'req.headers.authorization',
        'headers.authorization',
        '*.secretAccessKey',
        '*.sessionToken',
      ],
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url?.split('?')[0],
        }),
      },
    },
    destination,
  );
}
