import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAdtA04, vietnameseXpn } from '../../../modules/his/adtA04.ts';
import type { HisCheckIn } from '../../../modules/his/contract.ts';
import { controlIdFor, Hl7AckError, hl7TimeFromIso, parseAck } from '../../../modules/hl7/ack.ts';
import { escapeHl7 } from '../../../modules/hl7/message.ts';
import { MllpDecoder, mllpFrame } from '../../../modules/hl7/mllp.ts';

const CHECK_IN: HisCheckIn = {
  identity: {
    idNumber: '079085001234',
    fullName: 'Nguyễn Thị Minh Khai',
    dateOfBirth: '1985-03-07',
    sex: 'female',
    permanentAddress: 'Số 5 | Ngõ 3^B, Hà Nội',
  },
  service: { code: 'KNOI', name: 'Khám Nội' },
  ticket: { number: 'A012', issuedAt: '2026-11-22T07:31:05.120+07:00' },
  appointmentId: 'LH-1',
};

describe('ADT^A04 for a check-in', () => {
  const { message, controlId } = buildAdtA04(CHECK_IN, 'checkin:2026-11-22:KNOI:A012', '2026-11-22T00:31:06.000Z', {
    sendingFacility: 'BV-DEMO',
    receivingApplication: 'VNPT-HIS',
  });
  const seg = (name: string) =>
    message
      .split('\r')
      .find((s) => s.startsWith(`${name}|`))!
      .split('|');

  it('has MSH with the derived control id, v2.5 and UTF-8', () => {
    const msh = seg('MSH');
    expect(msh[8]).toBe('ADT^A04^ADT_A01');
    expect(msh[9]).toBe(controlId);
    expect(msh[11]).toBe('2.5');
    expect(msh[17]).toBe('UNICODE UTF-8');
    expect(msh[6]).toBe('20261122003106+0000');
    expect(message.endsWith('\r')).toBe(true);
  });

  it('carries the CCCD, Vietnamese name order, birth date, sex and escaped address in PID', () => {
    const pid = seg('PID');
    expect(pid[3]).toBe('079085001234^^^BCA^NNVNM');
    expect(pid[5]).toBe('Nguyễn^Khai^Thị Minh');
    expect(pid[7]).toBe('19850307');
    expect(pid[8]).toBe('F');
    expect(pid[11]).toBe('Số 5 \\F\\ Ngõ 3\\S\\B, Hà Nội^^^^^VNM');
  });

  it('carries the service, the ticket as visit number, the issue time and the appointment (alternate visit id) in PV1', () => {
    const pv1 = seg('PV1');
    expect(pv1[2]).toBe('O');
    expect(pv1[3]!.split('^')[0]).toBe('KNOI');
    expect(pv1[19]).toBe('A012');
    expect(pv1[44]).toBe('20261122073105+0700');
    expect(pv1[50]).toBe('LH-1');
    expect(message).not.toContain('SCH|');
    expect(seg('EVN')[1]).toBe('A04');
  });

  it('derives a stable control id of at most 20 characters, the same rule as the LIS sender', () => {
    expect(controlIdFor('k1')).toBe(controlIdFor('k1'));
    expect(controlIdFor('k1')).not.toBe(controlIdFor('k2'));
    expect(controlIdFor('x'.repeat(500)).length).toBeLessThanOrEqual(20);
    // Two long keys that share their first 20 characters must not share an id (cutting would).
    expect(controlIdFor(`checkin:2026-11-22:KNOI:A012`)).not.toBe(controlIdFor(`checkin:2026-11-22:KNOI:A013`));
    // Keys that are digests already keep their digits (what the LIS has seen so far).
    expect(controlIdFor('res2:0123456789abcdef0123456789abcdef')).toBe('0123456789abcdef0123');
  });

  it('formats names and timestamps', () => {
    expect(vietnameseXpn('Lê An')).toBe('Lê^An');
    expect(vietnameseXpn('Hùng')).toBe('Hùng');
    expect(hl7TimeFromIso('2026-01-02T03:04:05Z')).toBe('20260102030405+0000');
    expect(escapeHl7('a\\b~c&d')).toBe('a\\E\\b\\R\\c\\T\\d');
  });
});

describe('ACK parsing', () => {
  it('reads MSA and ERR', () => {
    expect(parseAck('MSH|^~\\&|HIS||EDGE||20261122||ACK^A04|9|P|2.5\rMSA|AA|K123\r')).toEqual({ code: 'AA', controlId: 'K123', text: '' });
    expect(parseAck('MSH|^~\\&|HIS||EDGE||20261122||ACK|9|P|2.5\nMSA|AE|K9|Unknown service\nERR|||207^Application error')).toMatchObject({
      code: 'AE',
      controlId: 'K9',
      text: 'Unknown service Application error',
    });
  });

  it('throws only its typed error on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseAck(text);
        } catch (err) {
          expect(err).toBeInstanceOf(Hl7AckError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('MLLP framing', () => {
  it('frames as <VT>message<FS><CR>', () => {
    const f = mllpFrame('MSH|x\r');
    expect(f[0]).toBe(0x0b);
    expect([...f.subarray(-2)]).toEqual([0x1c, 0x0d]);
  });

  it('recovers the same frames whatever the chunking, ignoring noise between frames', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ minLength: 1, maxLength: 40 }).map((s) => s.replace(/[\x0b\x1c]/g, '')),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        (messages, cuts) => {
          const wire = Buffer.concat(messages.flatMap((m) => [Buffer.from('noise'), mllpFrame(m)]));
          const dec = new MllpDecoder();
          const got: string[] = [];
          let pos = 0;
          let i = 0;
          while (pos < wire.length) {
            const n = cuts[i++ % cuts.length]!;
            for (const f of dec.push(wire.subarray(pos, pos + n)).messages) got.push(f.toString('utf8'));
            pos += n;
          }
          expect(got).toEqual(messages);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stays bounded on a start byte that never ends', () => {
    const dec = new MllpDecoder(1024);
    for (let i = 0; i < 100; i++) expect(dec.push(Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(100, 0x41)])).messages).toEqual([]);
    expect(dec.pending).toBeLessThanOrEqual(1024);
    expect(dec.push(mllpFrame('ok')).messages).toEqual([Buffer.from('ok')]);
  });
});

describe('golden ADT^A04', () => {
  it('matches fixtures/his/adt_a04_checkin.hl7 byte for byte', async () => {
    const { readFileSync } = await import('node:fs');
    const golden = readFileSync(new URL('../../../fixtures/his/adt_a04_checkin.hl7', import.meta.url), 'utf8').replace(/\n/g, '\r');
    const { message } = buildAdtA04(
      {
        identity: {
          idNumber: '079085001234',
          fullName: 'Nguyễn Văn An',
          dateOfBirth: '1985-03-07',
          sex: 'male',
          permanentAddress: '12 Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh',
        },
        service: { code: 'KNOI', name: 'Khám Nội' },
        ticket: { number: 'A012', issuedAt: '2026-11-22T07:31:05.120+07:00' },
        appointmentId: 'LH-2026-11-22-001',
      },
      'checkin:2026-11-22:KNOI:A012',
      '2026-11-22T07:31:06.000+07:00',
      { sendingFacility: 'BV-DEMO', receivingApplication: 'HIS', receivingFacility: 'BV-DEMO' },
    );
    expect(message).toBe(golden);
  });
});
