import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { LogRing } from '../log.ts';
import { errorResponses } from './schemas.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
type Level = (typeof LEVELS)[number];
/** Fields every line has or that say where it came from: shown in their own columns, not among the rest. */
const FIXED = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname', 'module', 'device', 'destination']);

export interface LogLine {
  time: string | null;
  level: Level | string;
  /** The module, device or destination that logged it (child logger's binding). */
  origin: string | null;
  msg: string;
  fields: Record<string, unknown>;
}

/** One ring line as the viewer shows it; null when it is not a log object. */
export function parseLogLine(line: string): LogLine | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!o || typeof o !== 'object') return null;
  const origin = [o.device, o.destination, o.module].find((v) => typeof v === 'string') as string | undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!FIXED.has(k)) fields[k] = v;
  return {
    time: typeof o.time === 'string' ? o.time : null,
    level: String(o.level ?? 'info'),
    origin: origin ?? null,
    msg: typeof o.msg === 'string' ? o.msg : '',
    fields,
  };
}

const rank = (level: string): number => {
  const i = LEVELS.indexOf(level as Level);
  return i < 0 ? LEVELS.indexOf('info') : i;
};

/**
 * The console's log viewer: the last lines this process logged, from the in-process ring,
 * newest first. The lines were masked before they were written (core/log.ts), so the text
 * search runs over masked text only: it cannot tell whether a given CCCD number was logged.
 */
export function registerLogRoutes(app: FastifyInstance, ring: LogRing, requireAdmin: preHandlerHookHandler): void {
  app.get(
    '/api/logs',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['logs'],
        summary: 'The last log lines of the agent (masked as written), newest first, filtered by level (and above), origin and text',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            level: { type: 'string', enum: [...LEVELS] },
            origin: { type: 'string', maxLength: 100, description: 'Module, device or destination id' },
            q: { type: 'string', maxLength: 200, description: 'Text in the message or fields (case-insensitive)' },
            limit: { type: 'integer', minimum: 1, maximum: 2000, default: 500 },
          },
        },
        response: errorResponses,
      },
    },
    async (req) => {
      const q = req.query as { level?: Level; origin?: string; q?: string; limit?: number };
      const min = rank(q.level ?? 'trace');
      const needle = q.q?.trim().normalize('NFC').toLowerCase();
      const limit = q.limit ?? 500;
      const lines: LogLine[] = [];
      const origins = new Set<string>();
      const all = ring.snapshot();
      for (let i = all.length - 1; i >= 0; i--) {
        const line = parseLogLine(all[i]!);
        if (!line) continue;
        if (line.origin) origins.add(line.origin);
        if (lines.length >= limit) continue;
        if (rank(line.level) < min) continue;
        if (q.origin && line.origin !== q.origin) continue;
        if (needle && !`${line.msg} ${JSON.stringify(line.fields)}`.normalize('NFC').toLowerCase().includes(needle)) continue;
        lines.push(line);
      }
      return { capacity: ring.capacity, held: ring.size, origins: [...origins].sort(), lines };
    },
  );
}
