/**
 * Structured JSON logs (pino). Child loggers carry context (request id, topic, department); the
 * HTTP layer binds `requestId` to every line logged while serving a request.
 */
import { type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'silobridge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Defence in depth: tokens and subject identifiers must never reach the logs.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.subject', 'subject'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
