import pino from 'pino';
import { maskText, redact } from "./mask.js";
/**
 * JSON logs to stdout for journald. Every logged object and the message go through the one masking policy (agent/mask.ts), so a CCCD number or a patient's
 * name cannot reach the journal by accident. Errors are turned into plain fields (type,
 * message, stack, code) by the policy itself, before masking: their text survives, masked.
 */
export function createLogger(level = 'info', destination) {
    return pino({
        level,
        base: { service: 'edge-agent' },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: {
            level: (label) => ({ level: label }),
            log: (object) => redact(object),
        },
        serializers: {
            // pino applies a serializer named after the message key to the message itself.
            msg: (msg) => (typeof msg === 'string' ? maskText(msg) : msg),
            // Already plain fields (redact ran first): pino's own would rename the type to "Object".
            err: (err) => err,
        },
    }, destination ?? pino.destination({ dest: 1, sync: false }));
}
