import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldMapError, getPath, isoDate, mapRequest, mapResponse } from '../../../modules/his/fieldMap.ts';
import { DEFAULT_REGISTER_FIELDS } from '../../../modules/his/httpHis.ts';
import { checkInJournalInput, checkInKey, type HisCheckIn } from '../../../modules/his/contract.ts';
import { scrubPersonal } from '../../../modules/his/scrub.ts';

const CHECK_IN: HisCheckIn = {
  identity: {
    idNumber: '079085001234',
    fullName: 'Nguyễn Văn An',
    dateOfBirth: '1985-03-07',
    sex: 'male',
    permanentAddress: '12 Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh',
  },
  service: { code: 'KNOI', name: 'Khám Nội' },
  ticket: { number: 'A012', issuedAt: '2026-11-22T07:31:05.120+07:00' },
};

describe('HIS field mapping', () => {
  it('maps a check-in with the default fields', () => {
    expect(mapRequest(CHECK_IN, DEFAULT_REGISTER_FIELDS)).toEqual({
      patient: { cccd: '079085001234', name: 'Nguyễn Văn An', birthDate: '1985-03-07', sex: 'male', address: CHECK_IN.identity.permanentAddress },
      visit: { serviceCode: 'KNOI', ticketNumber: 'A012', issuedAt: '2026-11-22T07:31:05.120+07:00' },
    });
  });

  it('applies formats and literals the way Vietnamese HIS APIs want them', () => {
    const out = mapRequest(CHECK_IN, {
      SO_CCCD: 'identity.idNumber|string',
      NGAY_SINH: 'identity.dateOfBirth|dd/mm/yyyy',
      NGAY_SINH_2: 'identity.dateOfBirth|yyyymmdd',
      GIOI_TINH: 'identity.sex|sex-12',
      SEX: 'identity.sex|sex-MF',
      NGUON: '=KIOSK',
      'meta.queue': 'ticket.number',
    });
    expect(out).toEqual({
      SO_CCCD: '079085001234',
      NGAY_SINH: '07/03/1985',
      NGAY_SINH_2: '19850307',
      GIOI_TINH: 1,
      SEX: 'M',
      NGUON: 'KIOSK',
      meta: { queue: 'A012' },
    });
  });

  it('refuses unknown formats and prototype paths', () => {
    expect(() => mapRequest(CHECK_IN, { x: 'identity.sex|upper' })).toThrow(FieldMapError);
    expect(() => mapRequest(CHECK_IN, { '__proto__.polluted': 'service.code' })).toThrow(FieldMapError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads responses and dates', () => {
    const res = { data: { items: [{ ma: 'LH1' }] }, KQ: '000', empty: '' };
    expect(mapResponse(res, { id: 'data.items.0.ma', code: 'KQ', missing: 'nope.no', blank: 'empty' })).toEqual({ id: 'LH1', code: '000' });
    expect(getPath(res, 'KQ.length')).toBeUndefined();
    expect(isoDate('31/12/2026')).toBe('2026-12-31');
    expect(isoDate('20261231')).toBe('2026-12-31');
    expect(isoDate('2026-12-31')).toBe('2026-12-31');
    expect(isoDate('')).toBeUndefined();
  });

  it('never throws anything but a mapping error on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }), { maxKeys: 6 }), (source, mapping) => {
        try {
          mapRequest(source, mapping);
          mapResponse(source, mapping);
        } catch (err) {
          expect(err).toBeInstanceOf(FieldMapError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the check-in journal entry', () => {
  it('is personal, routed to the HIS destination only, keyed by day, service and ticket', () => {
    const input = checkInJournalInput(CHECK_IN, 'his');
    expect(input).toMatchObject({
      stream: 'his.checkin',
      personal: true,
      routes: ['his'],
      priority: 'clinical',
      idempotencyKey: 'checkin:2026-11-22:KNOI:A012',
    });
    expect(checkInKey({ ...CHECK_IN, ticket: { ...CHECK_IN.ticket, number: 'A013' } })).not.toBe(input.idempotencyKey);
  });

  it("scrubs personal data out of a peer's error text", () => {
    const text = scrubPersonal(
      'patient Nguyễn Văn An 079085001234 born 1985-03-07 at 12 Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh exists',
      CHECK_IN.identity,
    );
    expect(text).not.toContain('Nguyễn Văn An');
    expect(text).not.toContain('079085001234');
    expect(text).not.toContain('1985-03-07');
    expect(text).not.toContain('Lê Lợi');
    expect(text).toContain('0790*****234');
  });
});
