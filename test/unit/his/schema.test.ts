import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

// The fragment refers to the lead's #/$defs/destinationCommon; a minimal stand-in keeps it testable alone.
const schema = JSON.parse(readFileSync(new URL('../../../modules/his/schema.json', import.meta.url), 'utf8')) as { $defs: Record<string, unknown> };
schema.$defs.destinationCommon = { type: 'object', properties: { type: {}, enabled: { type: 'boolean' }, window: { type: 'integer' } } };
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(schema);
const validate = (def: string, value: unknown) => {
  const v = ajv.getSchema(`his#/$defs/${def}`)!;
  return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

describe('HIS configuration schema fragments', () => {
  it('accepts the demo blocks', () => {
    expect(
      validate('destination.his-http', {
        type: 'his-http',
        baseUrl: 'http://127.0.0.1:8090',
        register: { ackField: 'requestId', fields: { SO_CCCD: 'identity.idNumber', NGAY_SINH: 'identity.dateOfBirth|dd/mm/yyyy' } },
        window: 1,
      }),
    ).toEqual([]);
    expect(validate('destination.his-hl7', { type: 'his-hl7', host: '127.0.0.1', port: 2575, sendingFacility: 'BV-DEMO' })).toEqual([]);
    expect(
      validate('his', {
        checkinDestination: 'his-checkin',
        lookup: {
          http: { baseUrl: 'http://127.0.0.1:8090', lookupTimeoutMs: 3000 },
          vssGateway: { baseUrl: 'http://127.0.0.1:8091', username: 'bv-demo', password: 'x', staffName: 'Lê Thị Thu', staffCccd: '079190001111' },
        },
      }),
    ).toEqual([]);
  });

  it('names what is wrong', () => {
    expect(validate('destination.his-hl7', { type: 'his-hl7', host: 'h' }).join()).toMatch(/port/);
    expect(validate('destination.his-http', { type: 'his-http', baseUrl: 'http://x', bogus: 1 }).join()).toMatch(/unevaluated/);
    expect(validate('his', { lookup: { vssGateway: { baseUrl: 'http://x', username: 'u', password: 'p', staffName: 'n', staffCccd: '123' } } }).join()).toMatch(
      /staffCccd/,
    );
    expect(validate('destination.his-http', { type: 'his-http', baseUrl: 'http://x', appointments: { fields: { colour: 'x' } } }).join()).toMatch(
      /property name/,
    );
  });
});
