import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeAssociateAc, decodeAssociateRq, encodeAssociateAc, encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { C_STORE_RQ, C_STORE_RSP, decodeCommand, encodeCommand, statusKind } from '../../../modules/dicom/net/dimse.ts';
import {
  DicomPduError,
  PDU_ABORT,
  PDU_ASSOCIATE_AC,
  PDU_ASSOCIATE_RJ,
  PDU_ASSOCIATE_RQ,
  PDU_DATA_TF,
  PDU_RELEASE_RQ,
  PduReader,
  describeReject,
  encodeAbort,
  encodeAssociateRj,
  encodeDataPdu,
  encodeReleaseRq,
} from '../../../modules/dicom/net/pdu.ts';
import type { Pdu } from '../../../modules/dicom/net/pdu.ts';
import { DicomParseError } from '../../../modules/dicom/data/codec.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const rq = encodeAssociateRq({
  calledAe: 'EDGE',
  callingAe: 'CT_SCANNER_01',
  contexts: [
    { id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.1'] },
    { id: 3, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
  ],
  user: { maxPduLength: 65536, implementationClassUid: '1.2.3.4', implementationVersionName: 'CT_V1' },
});
const data = Buffer.concat(encodeDataPdu(1, false, true, Buffer.from('dataset bytes')));
const bigData = Buffer.concat(encodeDataPdu(1, false, false, Buffer.from('0123456789'.repeat(40))));
const stream = Buffer.concat([rq, data, bigData, encodeReleaseRq(), encodeAbort(2, 6)]);

/**
 * What a reader of PDVs sees: the value fragments of each PDU joined until a "last" bit (the
 * reader hands out a PDV lying in several socket chunks as several PDVs).
 */
function joined(pdus: Pdu[]): unknown[] {
  return pdus.map((pdu) => {
    if (pdu.type !== PDU_DATA_TF) return pdu;
    const out: Array<{ contextId: number; command: boolean; last: boolean; data: Buffer }> = [];
    for (const pdv of pdu.pdvs) {
      const prev = out[out.length - 1];
      if (prev && !prev.last && prev.contextId === pdv.contextId && prev.command === pdv.command)
        Object.assign(prev, { last: pdv.last, data: Buffer.concat([prev.data, pdv.data]) });
      else out.push({ ...pdv });
    }
    return { type: pdu.type, pdvs: out };
  });
}

function feedAll(reader: PduReader, bytes: Buffer, cuts: number[]): Pdu[] {
  const out: Pdu[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    out.push(...reader.feed(bytes.subarray(at, cut)));
    at = cut;
  }
  return out;
}

describe('PDU reader', () => {
  it('reads A-ASSOCIATE-RQ fields back (AE titles, contexts, max length, implementation)', () => {
    const [pdu] = new PduReader({ maxDataLength: 1 << 20 }).feed(rq);
    expect(pdu!.type).toBe(PDU_ASSOCIATE_RQ);
    const parsed = decodeAssociateRq((pdu as { body: Buffer }).body);
    expect(parsed).toMatchObject({
      protocolVersion: 1,
      calledAe: 'EDGE',
      callingAe: 'CT_SCANNER_01',
      applicationContext: '1.2.840.10008.3.1.1.1',
      contexts: [
        { id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.1'] },
        { id: 3, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
      user: { maxPduLength: 65536, implementationClassUid: '1.2.3.4', implementationVersionName: 'CT_V1' },
    });
  });

  it('reads A-ASSOCIATE-AC (accepted and rejected contexts) and A-ASSOCIATE-RJ', () => {
    const ac = encodeAssociateAc({
      calledAe: 'EDGE',
      callingAe: 'CT',
      contexts: [
        { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.4.90' },
        { id: 3, result: 3 },
      ],
      user: { maxPduLength: 0 },
    });
    const reader = new PduReader({ maxDataLength: 1 << 20 });
    const [a, r] = reader.feed(Buffer.concat([ac, encodeAssociateRj(1, 1, 7)]));
    expect(a!.type).toBe(PDU_ASSOCIATE_AC);
    expect(decodeAssociateAc((a as { body: Buffer }).body)).toMatchObject({
      contexts: [
        { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.4.90' },
        { id: 3, result: 3 },
      ],
      user: { maxPduLength: 0 },
    });
    expect(r).toEqual({ type: PDU_ASSOCIATE_RJ, result: 1, source: 1, reason: 7 });
    expect(describeReject(1, 1, 7)).toMatch(/called AE title not recognized/);
  });

  it('gives the same PDUs whatever the TCP split or coalescing', () => {
    const whole = new PduReader({ maxDataLength: 1 << 20 }).feed(stream);
    expect(whole.map((p) => p.type)).toEqual([PDU_ASSOCIATE_RQ, PDU_DATA_TF, PDU_DATA_TF, PDU_RELEASE_RQ, PDU_ABORT]);
    const bytewise = feedAll(
      new PduReader({ maxDataLength: 1 << 20 }),
      stream,
      Array.from({ length: stream.length }, (_, i) => i),
    );
    expect(joined(bytewise)).toEqual(joined(whole));
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 20 }), (cuts) => {
        expect(joined(feedAll(new PduReader({ maxDataLength: 1 << 20 }), stream, cuts))).toEqual(joined(whole));
      }),
    );
  });

  it('hands out PDV data as slices of the socket chunks it arrived in (no copy); only the final piece is "last"', () => {
    const value = Buffer.from('abcdefghij'.repeat(30));
    const pdu = Buffer.concat(encodeDataPdu(7, false, true, value));
    // Three reads: the PDU and item headers in the first, the value spread over all three.
    // Buffer.alloc: each chunk its own memory (Buffer.from may share a pool between them).
    const own = (b: Buffer): Buffer => Buffer.alloc(b.length, b);
    const chunks = [own(pdu.subarray(0, 50)), own(pdu.subarray(50, 200)), own(pdu.subarray(200))];
    const reader = new PduReader({ maxDataLength: 1 << 20 });
    const out = chunks.flatMap((c) => reader.feed(c));
    expect(out).toHaveLength(1);
    const pdvs = (out[0] as { pdvs: Array<{ contextId: number; last: boolean; data: Buffer }> }).pdvs;
    expect(pdvs.map((p) => [p.contextId, p.last, p.data.length])).toEqual([
      [7, false, 50 - 12],
      [7, false, 150],
      [7, true, value.length - 38 - 150],
    ]);
    pdvs.forEach((p, i) => expect(p.data.buffer).toBe(chunks[i]!.buffer));
    expect(Buffer.concat(pdvs.map((p) => p.data)).equals(value)).toBe(true);
    expect(reader.pending).toBe(0);
  });

  it('reads PDV control bits (command / dataset, last fragment) and several PDVs in one PDU', () => {
    const a = encodeDataPdu(5, true, false, Buffer.from('cmd-1'));
    const b = encodeDataPdu(5, true, true, Buffer.from('cmd-2'));
    // Two PDVs in one P-DATA-TF: rebuild the PDU around both items.
    const items = Buffer.concat([a[0].subarray(6), a[1], b[0].subarray(6), b[1]]);
    const head = Buffer.from([4, 0, 0, 0, 0, 0]);
    head.writeUInt32BE(items.length, 2);
    const [pdu] = new PduReader({ maxDataLength: 1 << 20 }).feed(Buffer.concat([head, items]));
    expect((pdu as { pdvs: unknown[] }).pdvs).toEqual([
      { contextId: 5, command: true, last: false, data: Buffer.from('cmd-1') },
      { contextId: 5, command: true, last: true, data: Buffer.from('cmd-2') },
    ]);
  });

  it('refuses a PDU above the negotiated maximum, an unknown type and a PDV overrunning its PDU, with typed errors', () => {
    const big = Buffer.concat(encodeDataPdu(1, false, true, Buffer.alloc(2000)));
    expect(() => new PduReader({ maxDataLength: 1000 }).feed(big)).toThrow(DicomPduError);
    expect(() => new PduReader({ maxDataLength: 1000 }).feed(Buffer.from([9, 0, 0, 0, 0, 0]))).toThrow(/unknown PDU type/);
    const bad = Buffer.from([4, 0, 0, 0, 0, 8, 0, 0, 0, 99, 1, 3, 0, 0]);
    expect(() => new PduReader({ maxDataLength: 1000 }).feed(bad)).toThrow(/does not fit/);
  });

  it('refuses an oversize PDU at its 6-byte header, before any of its body is held; no P-DATA at all until a maximum is set', () => {
    const reader = new PduReader({ maxDataLength: 0, maxAssociateLength: 256 * 1024 });
    const header = (type: number, length: number): Buffer =>
      Buffer.from([type, 0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
    expect(() => reader.feed(header(PDU_ASSOCIATE_RQ, 4_000_000_000))).toThrow(
      expect.objectContaining({ code: 'too-large', message: 'PDU type 1 of 4000000000 bytes exceeds 262144' }),
    );
    expect(() => new PduReader({ maxDataLength: 0 }).feed(header(PDU_DATA_TF, 12))).toThrow(
      expect.objectContaining({ code: 'bad-pdu', message: 'P-DATA-TF before the association was accepted' }),
    );
    const negotiated = new PduReader({ maxDataLength: 0 });
    negotiated.maxDataLength = 16384 + 64;
    expect(negotiated.feed(Buffer.concat(encodeDataPdu(1, true, true, Buffer.alloc(100))))).toHaveLength(1);
    expect(() => negotiated.feed(header(PDU_DATA_TF, 16384 + 65))).toThrow(expect.objectContaining({ code: 'too-large' }));
    // A body within the bound is held until complete, and only that.
    const partial = new PduReader({ maxDataLength: 1000 });
    expect(partial.feed(Buffer.concat([header(PDU_DATA_TF, 1000), Buffer.alloc(500)]))).toEqual([]);
    expect(partial.pending).toBe(506);
  });
  it('fuzz: random bytes in random splits give PDUs or DicomPduError, never another error, and buffer at most one PDU', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat({ max: 600 }), { maxLength: 8 }), (bytes, cuts) => {
        const reader = new PduReader({ maxDataLength: 4096, maxAssociateLength: 4096 });
        try {
          for (const pdu of feedAll(reader, Buffer.from(bytes), cuts)) {
            if (pdu.type === PDU_ASSOCIATE_RQ) decodeAssociateRq(pdu.body);
            if (pdu.type === PDU_ASSOCIATE_AC) decodeAssociateAc(pdu.body);
          }
          expect(reader.pending).toBeLessThanOrEqual(4096 + 6);
        } catch (err) {
          expect(err).toBeInstanceOf(DicomPduError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: mutated association requests decode or fail with DicomPduError', () => {
    fc.assert(
      fc.property(fc.nat({ max: rq.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: rq.length }), (at, value, cut) => {
        const m = Buffer.from(rq);
        m[at] = value;
        const body = m.subarray(6, Math.max(6 + 68, Math.min(m.length, cut)));
        try {
          decodeAssociateRq(body);
        } catch (err) {
          expect(err).toBeInstanceOf(DicomPduError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('DIMSE command sets', () => {
  it('round-trips a C-STORE-RQ and reads status and error comment from a response', () => {
    const cmd = { commandField: C_STORE_RQ, messageId: 7, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3.4.5', priority: 0, hasDataset: true };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const rsp = decodeCommand(
      encodeCommand({ commandField: C_STORE_RSP, messageIdBeingRespondedTo: 7, hasDataset: false, status: 0xa700, errorComment: 'disk full' }),
    );
    expect(rsp).toMatchObject({ status: 0xa700, errorComment: 'disk full', hasDataset: false, messageIdBeingRespondedTo: 7 });
  });

  it('fuzz: random and mutated command sets decode or fail with DicomParseError only', () => {
    const good = encodeCommand({ commandField: C_STORE_RQ, messageId: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.3', hasDataset: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (random, at, value) => {
        const mutated = Buffer.from(good);
        mutated[at] = value;
        for (const bytes of [Buffer.from(random), mutated]) {
          try {
            decodeCommand(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(DicomParseError);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('classifies statuses as PS3.7 Annex C does', () => {
    expect([0x0000, 0xb000, 0xb007, 0xb006, 0x0001, 0xa700, 0xa900, 0xc000, 0x0122, 0xff00, 0xfe00].map(statusKind)).toEqual([
      'success',
      'warning',
      'warning',
      'warning',
      'warning',
      'failure',
      'failure',
      'failure',
      'failure',
      'pending',
      'cancel',
    ]);
  });
});
