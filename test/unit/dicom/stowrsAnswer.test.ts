import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseStowAnswer, stowOutcome } from '../../../modules/dicom/stowrs.ts';

describe('STOW-RS answers (PS3.18 10.5.3)', () => {
  it('outcome table', () => {
    const none = { failed: [], stored: [] };
    expect(stowOutcome(200, none, '1.2').result).toBe('ok');
    expect(stowOutcome(202, none, '1.2').result).toBe('ok');
    expect(stowOutcome(202, { failed: [{ sopInstanceUid: '1.2', reason: 0xc000 }], stored: [] }, '1.2')).toEqual({
      result: 'permanent',
      reason: 'PACS refused the instance: 0xC000 error: cannot understand (HTTP 202)',
    });
    expect(stowOutcome(409, { failed: [{ reason: 0xa7ff }], stored: [] }, '1.2').result).toBe('retry');
    expect(stowOutcome(409, none, '1.2').result).toBe('permanent');
    expect(stowOutcome(400, none, '1.2').result).toBe('permanent');
    expect(stowOutcome(415, none, '1.2').result).toBe('permanent');
    for (const s of [401, 403, 404, 407, 408, 429, 500, 502, 503, 504]) expect(stowOutcome(s, none, '1.2').result, String(s)).toBe('retry');
  });

  it('JSON and XML bodies; garbage never throws', () => {
    const json = JSON.stringify({ '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2'] } }] } });
    expect(parseStowAnswer(json, 'application/dicom+json')).toEqual({ failed: [], stored: [{ sopInstanceUid: '1.2', warning: undefined }] });
    expect(parseStowAnswer('[' + json + ']', 'application/json').stored).toHaveLength(1);
    expect(parseStowAnswer('<NativeDicomModel/>', 'application/dicom+xml')).toEqual({ failed: [], stored: [] });
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom('application/dicom+json', 'application/dicom+xml', 'text/html'),
        (body, type) => void parseStowAnswer(body, type),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.json(), (body) => void parseStowAnswer(body, 'application/dicom+json')),
      { numRuns: 500 },
    );
    const shaped = fc.record({
      '00081198': fc.oneof(fc.jsonValue(), fc.record({ vr: fc.string(), Value: fc.oneof(fc.jsonValue(), fc.array(fc.jsonValue())) })),
    });
    fc.assert(
      fc.property(shaped, (v) => void parseStowAnswer(JSON.stringify(v), 'application/dicom+json')),
      { numRuns: 1000 },
    );
  });
});
