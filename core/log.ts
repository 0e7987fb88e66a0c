import pino, { type Logger } from 'pino';
import { maskText, redact } from './mask.ts';

/**
 * The last lines this process logged, as written (JSON, already masked), for the console's log
 * viewer: it works where there is no journald (the demo, a container) and needs no privilege.
 */
export class LogRing {
  private readonly lines: string[] = [];
  private next = 0;
  /** Lines longer than this are kept as a stub: a dump in a message must not fill the ring's memory. */
  static readonly MAX_LINE = 16_384;

  constructor(readonly capacity = 2000) {}

  /** pino's destination interface: one call per line. */
  write(line: string): void {
    const kept = line.length > LogRing.MAX_LINE ? truncatedLine(line) : line;
    if (this.lines.length < this.capacity) this.lines.push(kept);
    else this.lines[this.next] = kept;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  snapshot(): string[] {
    return this.lines.length < this.capacity ? [...this.lines] : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }

  get size(): number {
    return this.lines.length;
  }
}

/** A line cut to its level, time, origin and the start of its message (still JSON). */
function truncatedLine(line: string): string {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    return (
      JSON.stringify({
        level: o.level,
        time: o.time,
        module: o.module,
        device: o.device,
        destination: o.destination,
        msg: `${String(o.msg ?? '').slice(0, 2000)} … (line of ${line.length} characters cut)`,
      }) + '\n'
    );
  } catch {
    return JSON.stringify({ level: 'warn', msg: `(unreadable log line of ${line.length} characters)` }) + '\n';
  }
}

/** This process's ring: every logger made by createLogger writes into it as well as to its destination. */
export const recentLogLines = new LogRing(2000);

/**
 * JSON logs to stdout for journald. Every logged object and the message go through the one masking policy (core/mask.ts), so a CCCD number or a patient's
 * name cannot reach the journal by accident. Errors are turned into plain fields (type,
 * message, stack, code) by the policy itself, before masking: their text survives, masked.
 * The same masked lines go to `ring` (the console's log viewer reads it).
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream, ring: LogRing | null = recentLogLines): Logger {
  const out = destination ?? pino.destination({ dest: 1, sync: false });
  // Both streams take every level: the logger's own level (set from the configuration) decides.
  const streams = ring
    ? pino.multistream([
        { level: 'trace', stream: out },
        { level: 'trace', stream: ring },
      ])
    : out;
  return pino(
    {
      level,
      base: { service: 'edge-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redact(object) as Record<string, unknown>,
      },
      serializers: {
        // pino applies a serializer named after the message key to the message itself.
        msg: (msg: unknown) => (typeof msg === 'string' ? maskText(msg) : msg),
        // Already plain fields (redact ran first): pino's own would rename the type to "Object".
        err: (err: unknown) => err,
      },
    },
    streams,
  );
}
