import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { isMap, isPair, isScalar, isSeq, parseDocument, visit, type Node } from 'yaml';
import { maskerForKey, maskText, redact } from '../mask.ts';
import type { RuntimeView } from '../runtime.ts';

/**
 * In the configuration a bare `name` names the box, a device, a service or a counter, never a
 * person (persons are `staffName`…): kept readable for support. Logs still mask it.
 */
const NOT_PERSONAL_IN_CONFIG = new Set(['name']);

/** Keeps `!secret name` references readable (they name a secret, they are not one). */
const secretTag = { tag: '!secret', resolve: (value: string) => value };

/**
 * The configuration text for a support bundle: layout kept, every value under a personal or
 * secret field name masked (staffCccd, staffName, an inline password…), every other value
 * shape-masked (a CCCD number in any string), `!secret` references kept as written. Comments
 * are dropped: they are free text nobody checked.
 */
export function redactConfigText(text: string): string {
  const doc = parseDocument(text, { customTags: [secretTag], keepSourceTokens: false });
  if (doc.errors.length) return '[configuration not shown: it does not parse]';
  const maskUnder = (value: unknown, mask: (s: string) => string): void => {
    if (isScalar(value)) {
      if (value.tag === '!secret') return;
      if (value.value !== null && value.value !== undefined && value.value !== '')
        value.value = typeof value.value === 'string' ? mask(value.value) : '[redacted]';
    } else if (isMap(value) || isSeq(value)) {
      for (const item of value.items) maskUnder(isPair(item) ? item.value : item, mask);
    }
  };
  visit(doc, {
    Pair(_key, pair) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const mask = NOT_PERSONAL_IN_CONFIG.has(key) ? null : maskerForKey(key);
      if (mask) {
        maskUnder(pair.value, mask);
        return visit.SKIP;
      }
      return undefined;
    },
    Scalar(_key, node) {
      if (node.tag !== '!secret' && typeof node.value === 'string') node.value = maskText(node.value);
    },
  });
  visit(doc, (_key, node) => {
    const n = node as Node & { comment?: string | null; commentBefore?: string | null };
    if (n && typeof n === 'object') {
      if ('comment' in n) n.comment = null;
      if ('commentBefore' in n) n.commentBefore = null;
    }
  });
  doc.commentBefore = null;
  doc.comment = null;
  return doc.toString();
}

/** The support bundle: versions, status, outbox, the configuration, all through the masking policy. */
export function diagnosticsBundle(runtime: RuntimeView): Record<string, unknown> {
  return redact({
    generatedAt: new Date().toISOString(),
    box: runtime.config.box,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    uptimeSeconds: Math.round(process.uptime()),
    memory: process.memoryUsage(),
    heapLimitBytes: getHeapStatistics().heap_size_limit,
    // The file as written, secrets only as `!secret name`, personal values masked.
    configText: redactConfigText(readFileSync(runtime.configFile, 'utf8')),
    disk: runtime.store.budget.read(),
    captures: runtime.store.captures.usage(),
    personalData: runtime.store.personalDataAge(),
    devices: runtime.devices(),
    destinations: runtime.destinations(),
    outbox: runtime.store.outbox.status(Object.keys(runtime.config.destinations)),
    recentDeadLetters: runtime.store.outbox
      .list({ state: 'parked', limit: 50 })
      .map((d) => ({ outboxId: d.outboxId, destination: d.destination, reason: d.deadLetterReason, createdMs: d.createdMs })),
  }) as Record<string, unknown>;
}

export function registerDiagnosticsRoute(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler): void {
  app.get(
    '/api/diagnostics',
    { preHandler: requireAdmin, schema: { tags: ['config'], summary: 'A support bundle without personal data or secret values' } },
    async (_req, reply) => {
      reply.header(
        'content-disposition',
        `attachment; filename="edge-diagnostics-${runtime.config.box.id}-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json"`,
      );
      return diagnosticsBundle(runtime);
    },
  );
}
