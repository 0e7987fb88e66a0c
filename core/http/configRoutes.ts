import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { ConfigError, loadConfigText, SCHEMA_PATH } from '../config/load.ts';
import { formatProblem } from '../config/types.ts';
import { writeConfigAtomically } from '../config/write.ts';
import type { RuntimeView } from '../runtime.ts';
import { routeLimits } from './limits.ts';
import { errorResponses } from './schemas.ts';

const textBody = { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 1_000_000 } } } as const;

/**
 * Configuration for the console: read the file as written (secrets stay `!secret` references),
 * validate an edit against the schema before applying it, apply atomically with a backup, and
 * a redacted diagnostics bundle for support.
 */
export function registerConfigRoutes(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler, requestRestart: () => void): void {
  const check = (text: string): string[] => {
    try {
      loadConfigText(text, runtime.configFile);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map(formatProblem);
      throw err;
    }
  };

  app.get(
    '/api/config',
    { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'The configuration file as written, and the schema that validates it' } },
    async () => ({
      file: runtime.configFile,
      text: readFileSync(runtime.configFile, 'utf8'),
      schema: JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')),
    }),
  );

  app.post(
    '/api/config/validate',
    {
      preHandler: requireAdmin,
      bodyLimit: routeLimits.config,
      config: { audit: 'config.validate' },
      schema: { tags: ['config'], summary: 'Check an edited configuration without applying it', body: textBody },
    },
    async (req) => {
      const problems = check((req.body as { text: string }).text);
      req.auditDetail = { problems: problems.length };
      return { ok: problems.length === 0, problems };
    },
  );

  app.put(
    '/api/config',
    {
      preHandler: requireAdmin,
      bodyLimit: routeLimits.config,
      config: { audit: 'config.apply' },
      schema: {
        tags: ['config'],
        summary: 'Apply an edited configuration (validated first; previous file kept as .bak)',
        body: textBody,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const text = (req.body as { text: string }).text;
      const problems = check(text);
      req.auditDetail = { problems: problems.length };
      if (problems.length) return reply.code(400).send({ error: `the configuration has ${problems.length} problem(s); nothing was changed`, problems });
      // What changed, as hashes of the file before and after (the text may hold names; the audit holds none).
      req.auditDetail = { problems: 0, before: sha256(readFileSync(runtime.configFile)), after: sha256(Buffer.from(text)) };
      writeConfigAtomically(runtime.configFile, text);
      req.log.info({ file: runtime.configFile }, 'configuration replaced from the console');
      return { saved: true, backup: `${runtime.configFile}.bak`, restartRequired: true };
    },
  );

  app.post(
    '/api/restart',
    {
      preHandler: requireAdmin,
      config: { audit: 'agent.restart' },
      schema: { tags: ['config'], summary: 'Stop gracefully so systemd starts the agent again with the saved configuration' },
    },
    async (_req, reply) => {
      reply.send({ restarting: true });
      setImmediate(requestRestart);
      return reply;
    },
  );
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
