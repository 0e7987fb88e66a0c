import pino, { type Logger } from 'pino';

/** A real pino logger at debug level whose lines are kept, to prove personal data never reaches a log. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }), lines };
}
