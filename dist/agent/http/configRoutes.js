import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigText, SCHEMA_PATH } from "../config/load.js";
import { formatProblem } from "../config/types.js";
import { writeConfigAtomically } from "../config/write.js";
import { errorResponses } from "./schemas.js";
const textBody = { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 1_000_000 } } };
/**
 * Configuration for the console: read the file as written (secrets stay `!secret` references),
 * validate an edit against the schema before applying it, apply atomically with a backup, and
 * a redacted diagnostics bundle for support.
 */
export function registerConfigRoutes(app, runtime, requireAdmin, requestRestart) {
    const check = (text) => {
        try {
            loadConfigText(text, runtime.configFile);
            return [];
        }
        catch (err) {
            if (err instanceof ConfigError)
                return err.problems.map(formatProblem);
            throw err;
        }
    };
    app.get('/api/config', { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'The configuration file as written, and the schema that validates it' } }, async () => ({
        file: runtime.configFile,
        text: readFileSync(runtime.configFile, 'utf8'),
        schema: JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')),
    }));
    app.post('/api/config/validate', { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'Check an edited configuration without applying it', body: textBody } }, async (req) => {
        const problems = check(req.body.text);
        return { ok: problems.length === 0, problems };
    });
    app.put('/api/config', { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'Apply an edited configuration (validated first; previous file kept as .bak)', body: textBody, response: errorResponses } }, async (req, reply) => {
        const text = req.body.text;
        const problems = check(text);
        if (problems.length)
            return reply.code(400).send({ error: `the configuration has ${problems.length} problem(s); nothing was changed`, problems });
        writeConfigAtomically(runtime.configFile, text);
        req.log.info({ file: runtime.configFile }, 'configuration replaced from the console');
        return { saved: true, backup: `${runtime.configFile}.bak`, restartRequired: true };
    });
    app.post('/api/restart', { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'Stop gracefully so systemd starts the agent again with the saved configuration' } }, async (_req, reply) => {
        reply.send({ restarting: true });
        setImmediate(requestRestart);
        return reply;
    });
}
