import pino, { type Logger } from 'pino';
import { redact } from './mask.ts';

/**
 * JSON logs to stdout for journald. Every logged object goes through the one masking policy
 * (agent/mask.ts), so a CCCD number or a patient's name cannot reach the journal by accident.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'edge-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redact(object) as Record<string, unknown>,
      },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
