import type {} from '@fastify/swagger';

/** Every error answer has this shape: a sentence IT staff can act on. */
export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
  required: ['error'],
} as const;

export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;
