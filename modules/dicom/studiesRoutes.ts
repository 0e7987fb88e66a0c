import type { FastifyPluginAsync, preHandlerAsyncHookHandler } from 'fastify';
import type { StudyIndex, StudyQuery } from './data/studyIndex.ts';

/**
 * The console's study list: GET /api/studies (filters, paging) and GET /api/studies/:studyUid
 * (series, instances, forwarding state per destination). Answers carry patient names and birth
 * dates, so every route sits behind the admin login (requireAdmin).
 */
export interface StudiesRoutesOptions {
  /** The index, or a getter (the DICOM driver may create it after the API starts). */
  index: StudyIndex | (() => StudyIndex | undefined);
  requireAdmin: preHandlerAsyncHookHandler;
}

const error = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const;
const forwarding = { type: 'object', properties: { pending: { type: 'integer' }, done: { type: 'integer' }, parked: { type: 'integer' } } } as const;
const nullableString = { type: ['string', 'null'] } as const;
const studySummary = {
  type: 'object',
  properties: {
    studyUid: { type: 'string' },
    patientId: nullableString,
    patientName: nullableString,
    patientBirthDate: nullableString,
    patientSex: nullableString,
    studyDate: nullableString,
    studyTime: nullableString,
    accessionNumber: nullableString,
    description: nullableString,
    referringPhysician: nullableString,
    modalities: { type: 'array', items: { type: 'string' } },
    seriesCount: { type: 'integer' },
    instanceCount: { type: 'integer' },
    conflicts: { type: 'integer' },
    forwarding,
    state: { type: 'string', enum: ['pending', 'delivered', 'parked', 'none'] },
    firstReceivedAt: { type: 'string' },
    lastReceivedAt: { type: 'string' },
  },
} as const;
const destinationState = {
  type: 'object',
  properties: {
    destination: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'done', 'parked'] },
    attempts: { type: 'integer' },
    lastError: nullableString,
    doneMs: { type: ['integer', 'null'] },
    deadLetterReason: nullableString,
    // Storage commitment by this destination, when it requests it (docs/dicom.md).
    commitment: {
      type: 'object',
      properties: {
        state: { type: 'string', enum: ['pending', 'committed', 'failed'] },
        transactionUid: nullableString,
        reason: nullableString,
        updatedMs: { type: 'integer' },
      },
    },
  },
} as const;
const instance = {
  type: 'object',
  properties: {
    sopInstanceUid: { type: 'string' },
    sopClassUid: { type: 'string' },
    instanceNumber: { type: ['integer', 'null'] },
    transferSyntaxUid: { type: 'string' },
    numberOfFrames: { type: ['integer', 'null'] },
    journalId: { type: 'integer' },
    blobHash: { type: 'string' },
    size: { type: 'integer' },
    sourceAe: nullableString,
    receivedAt: { type: 'string' },
    conflict: { type: 'boolean' },
    destinations: { type: 'array', items: destinationState },
  },
} as const;
const date = { type: 'string', pattern: '^\\d{4}-?\\d{2}-?\\d{2}$' } as const;

export const studiesRoutes: FastifyPluginAsync<StudiesRoutesOptions> = async (app, opts) => {
  const index = (): StudyIndex | undefined => (typeof opts.index === 'function' ? opts.index() : opts.index);

  app.get<{ Querystring: StudyQuery }>(
    '/api/studies',
    {
      preHandler: opts.requireAdmin,
      schema: {
        tags: ['dicom'],
        summary: 'Studies received from modalities, newest first, with their forwarding state (personal data: admin only)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            patientId: { type: 'string', maxLength: 64 },
            dateFrom: { ...date, description: 'Study date from (inclusive), YYYY-MM-DD or YYYYMMDD' },
            dateTo: { ...date, description: 'Study date to (inclusive)' },
            modality: { type: 'string', pattern: '^[A-Z0-9]{1,16}$' },
            state: {
              type: 'string',
              enum: ['pending', 'delivered', 'parked', 'none', 'conflict'],
              description: 'pending: some instance not yet acknowledged; parked: some refused; delivered: all acknowledged',
            },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
              studies: { type: 'array', items: studySummary },
            },
          },
          '4xx': error,
          '5xx': error,
        },
      },
    },
    async (req, reply) => {
      const ix = index();
      if (!ix) return reply.code(503).send({ error: 'no DICOM receiver is configured on this box' });
      const { total, studies } = ix.listStudies(req.query);
      return { total, limit: req.query.limit ?? 50, offset: req.query.offset ?? 0, studies };
    },
  );

  app.get<{ Params: { studyUid: string } }>(
    '/api/studies/:studyUid',
    {
      preHandler: opts.requireAdmin,
      schema: {
        tags: ['dicom'],
        summary: 'One study: series, instances, and each instance’s state at every destination (personal data: admin only)',
        params: { type: 'object', properties: { studyUid: { type: 'string', maxLength: 64, pattern: '^[0-9.]+$|^\\(none\\)$' } }, required: ['studyUid'] },
        response: {
          200: {
            type: 'object',
            properties: {
              study: studySummary,
              series: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    seriesUid: { type: 'string' },
                    modality: nullableString,
                    seriesNumber: { type: ['integer', 'null'] },
                    description: nullableString,
                    instances: { type: 'array', items: instance },
                  },
                },
              },
            },
          },
          '4xx': error,
          '5xx': error,
        },
      },
    },
    async (req, reply) => {
      const ix = index();
      if (!ix) return reply.code(503).send({ error: 'no DICOM receiver is configured on this box' });
      const view = ix.getStudy(req.params.studyUid);
      if (!view) return reply.code(404).send({ error: 'no such study on this box' });
      return view;
    },
  );
};
