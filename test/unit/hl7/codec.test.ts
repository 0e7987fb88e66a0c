import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MllpDecoder, mllpFrame } from '../../../modules/hl7/mllp.ts';
import { header, parseHl7, Hl7ParseError, unescapeHl7, DEFAULT_DELIMITERS } from '../../../modules/hl7/message.ts';
import { buildAck } from '../../../modules/hl7/ack.ts';
import { extractHl7Results } from '../../../modules/hl7/results.ts';
import { hl7Fixture, MINDRAY, MINDRAY_QC } from '../../helpers/hl7Fixtures.ts';

const opts = { device: 'bc5380', timezone: 'Asia/Ho_Chi_Minh', receivedAt: '2026-11-22T08:00:00.000+07:00' };

describe('MLLP decoder', () => {
  const wire = Buffer.concat([mllpFrame(hl7Fixture(MINDRAY)), Buffer.from('noise'), mllpFrame(hl7Fixture(MINDRAY_QC))]);

  it('gives the same two messages whatever the split (every byte offset, and byte by byte)', () => {
    const expected = [hl7Fixture(MINDRAY), hl7Fixture(MINDRAY_QC)];
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new MllpDecoder();
      const out = [...d.push(wire.subarray(0, cut)).messages, ...d.push(wire.subarray(cut)).messages].map((m) => m.toString('utf8'));
      expect(out, `split at ${cut}`).toEqual(expected);
    }
    const d = new MllpDecoder();
    const one: string[] = [];
    for (const byte of wire) one.push(...d.push(Buffer.from([byte])).messages.map((m) => m.toString('utf8')));
    expect(one).toEqual(expected);
    expect(d.discarded).toBe(5);
  });

  it('two messages in one read, one message in 100 reads, a 5 MB message', () => {
    const d = new MllpDecoder();
    expect(d.push(Buffer.concat([mllpFrame('MSH|a'), mllpFrame('MSH|b')])).messages.map(String)).toEqual(['MSH|a', 'MSH|b']);
    const big = 'MSH|^~\\&|X\rOBX|1|ED|HIST||' + 'A'.repeat(5 * 1024 * 1024) + '\r';
    const framed = mllpFrame(big);
    const step = Math.ceil(framed.length / 100);
    const got: Buffer[] = [];
    for (let i = 0; i < framed.length; i += step) got.push(...d.push(framed.subarray(i, i + step)).messages);
    expect(got).toHaveLength(1);
    expect(got[0]!.length).toBe(Buffer.byteLength(big));
  });

  it('drops an oversized frame with an error and recovers at the next frame', () => {
    const d = new MllpDecoder(100);
    const r = d.push(Buffer.concat([mllpFrame('MSH|' + 'x'.repeat(500)), mllpFrame('MSH|ok')]));
    expect(r.errors[0]!.message).toMatch(/larger than 100 bytes/);
    expect(r.messages.map(String)).toEqual(['MSH|ok']);
  });

  it('gives the same messages for any random chunking of any frames with garbage between (fuzz)', () => {
    const body = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b.map((x) => (x === 0x0b || x === 0x1c ? 0x41 : x))));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(body, fc.uint8Array({ maxLength: 10 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, cutsRaw) => {
          // Garbage between frames never contains VT (it would open a frame).
          const wire = Buffer.concat(frames.flatMap(([b, g]) => [mllpFrame(b), Buffer.from(g.map((x) => (x === 0x0b ? 0 : x)))]));
          const cuts = [...new Set(cutsRaw.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const d = new MllpDecoder();
          const got: Buffer[] = [];
          let prev = 0;
          for (const c of [...cuts, wire.length]) {
            got.push(...d.push(wire.subarray(prev, c)).messages);
            prev = c;
          }
          expect(got.map((m) => m.toString('hex'))).toEqual(frames.map(([b]) => b.toString('hex')));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws and never holds more than the limit, whatever arrives (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const d = new MllpDecoder(1000);
        for (const c of chunks) d.push(Buffer.from(c));
        return d.pending <= 1000;
      }),
      { numRuns: 500 },
    );
  });
});

describe('HL7 parser', () => {
  it('reads delimiters from MSH and the header fields', () => {
    const h = header(parseHl7(hl7Fixture(MINDRAY)));
    expect(h).toMatchObject({
      sendingApplication: 'BC-5380',
      sendingFacility: 'Mindray',
      messageType: 'ORU',
      triggerEvent: 'R01',
      controlId: '1',
      processingId: 'P',
      version: '2.3.1',
      charset: 'UNICODE',
    });
  });

  it('unescapes the standard escapes', () => {
    expect(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\', DEFAULT_DELIMITERS)).toBe('a|b^c&d~e\\fA');
  });

  it('rejects what is not HL7 with a reason, and never crashes otherwise (fuzz)', () => {
    expect(() => parseHl7('hello')).toThrow(Hl7ParseError);
    expect(() => parseHl7('MSH|^~\\&|A\rbad segment')).toThrow(/not a segment id/);
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        try {
          parseHl7('MSH|^~\\&|' + s);
        } catch (err) {
          if (!(err instanceof Hl7ParseError)) throw err;
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ACK for the device dialect', () => {
  it('swaps applications, mirrors MSH-12 and MSH-18, MSA-2 = MSH-10', () => {
    const h = header(parseHl7(hl7Fixture(MINDRAY)));
    const ack = buildAck(h, 'AA', { controlId: 'E1', nowMs: Date.UTC(2026, 10, 22, 1, 0, 0), timeZone: 'Asia/Ho_Chi_Minh', application: 'EDGE' });
    const [msh, msa] = ack.split('\r');
    expect(msh).toBe('MSH|^~\\&|EDGE||BC-5380|Mindray|20261122080000+0700||ACK^R01^ACK|E1|P|2.3.1||||||UNICODE');
    expect(msa).toBe('MSA|AA|1');
    // MSH-18 where the device wrote it: the ACK read back gives the same charset.
    expect(header(parseHl7(ack)).charset).toBe('UNICODE');
  });

  it('carries an ERR segment with the reason on AE', () => {
    const h = header(parseHl7(hl7Fixture(MINDRAY)));
    const ack = buildAck(h, 'AE', { controlId: 'E2', nowMs: 0, timeZone: 'Asia/Ho_Chi_Minh', text: 'storage failed | disk full' });
    expect(ack).toContain('MSA|AE|1|storage failed \\F\\ disk full');
    expect(ack).toMatch(/\rERR\|\^\^\^207&storage failed \\F\\ disk full&HL70357\|\|207\^/);
  });
});

describe('results from Mindray BC-5380', () => {
  it('maps OBX rows with values to LabResults with the sample id, units, range, flags and device time', () => {
    const results = extractHl7Results(parseHl7(hl7Fixture(MINDRAY)), opts).results;
    const wbc = results.find((r) => r.deviceTestCode === '6690-2')!;
    expect(wbc).toMatchObject({
      specimenId: '20071207011',
      testName: 'WBC',
      valueText: '9.81',
      valueNumber: 9.81,
      units: '10*9/L',
      referenceRange: '4.00-10.00',
      flags: ['N'],
      status: 'F',
      qc: false,
      patientId: '7393670',
    });
    expect(results.find((r) => r.deviceTestCode === '718-7')).toMatchObject({ valueNumber: 65, flags: ['L'] });
    // Rows without a value are not results.
    expect(results.find((r) => r.deviceTestCode === '704-7')).toBeUndefined();
    expect(results.every((r) => r.completedAt === undefined || r.completedAt.endsWith('+07:00'))).toBe(true);
  });

  it('flags QC messages (MSH-11 = Q) and keeps masked values as text', () => {
    const results = extractHl7Results(parseHl7(hl7Fixture(MINDRAY_QC)), opts).results;
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.qc)).toBe(true);
    const masked = results.find((r) => r.deviceTestCode === '704-7')!;
    expect(masked.valueText).toBe('***.**');
    expect(masked.valueNumber).toBeUndefined();
  });
});
