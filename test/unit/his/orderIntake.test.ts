import { describe, expect, it } from 'vitest';
import { HisOrderError, HisOrderIntake, parseHisOrder } from '../../../modules/his/orderIntake.ts';

describe('orders pushed by the HIS', () => {
  it('validates and delivers a batch to every listener', async () => {
    const intake = new HisOrderIntake();
    const got: string[][] = [];
    const off = intake.receiveOrders((orders) => void got.push(orders.map((o) => o.orderId)));
    const orders = await intake.accept({
      orders: [
        {
          orderId: 'ORD1',
          patient: { cccd: '079085001234', fullName: 'Nguyễn Văn An', sex: 'male' },
          items: [{ code: 'GLU', name: 'Glucose' }],
          accessionNumber: 'S001',
          priority: 'urgent',
        },
        { orderId: 'ORD2', action: 'cancel' },
      ],
    });
    expect(orders[0]).toMatchObject({
      orderId: 'ORD1',
      action: 'new',
      items: [{ code: 'GLU', name: 'Glucose' }],
      priority: 'urgent',
      patient: { cccd: '079085001234', sex: 'male' },
    });
    expect(orders[1]).toMatchObject({ orderId: 'ORD2', action: 'cancel', items: [] });
    expect(got).toEqual([['ORD1', 'ORD2']]);
    off();
    await intake.accept({ orderId: 'ORD3', items: [{ code: 'XQ' }] });
    expect(got).toHaveLength(1);
  });

  it('refuses a batch with one invalid order whole', async () => {
    const intake = new HisOrderIntake();
    let calls = 0;
    intake.receiveOrders(() => void calls++);
    await expect(
      intake.accept([
        { orderId: 'A', items: [{ code: 'X' }] },
        { orderId: 'B', items: [] },
      ]),
    ).rejects.toThrow(/orders\[1\]\.items is empty/);
    expect(calls).toBe(0);
    expect(() => parseHisOrder({ orderId: 'A', items: [{ code: 'X' }], patient: { cccd: '123' } })).toThrow(HisOrderError);
    expect(() => parseHisOrder(null)).toThrow(HisOrderError);
    expect(() => parseHisOrder({ orderId: 'A', action: 'hold', items: [{ code: 'X' }] })).toThrow(/action/);
  });

  it('imaging: the scheduled step and the referring doctor, each field checked against its DICOM type', () => {
    const order = { orderId: 'R1', items: [{ code: 'CT01', modality: 'CT' }], referringPhysician: 'BS. Trần Thị B' };
    expect(
      parseHisOrder({ ...order, scheduled: { at: '2026-12-03T09:30:00+07:00', stationAeTitle: 'CT_KHOA_A', stationName: 'CT phòng 2', location: 'P.012' } }),
    ).toMatchObject({
      scheduled: { at: '2026-12-03T09:30:00+07:00', stationAeTitle: 'CT_KHOA_A', stationName: 'CT phòng 2', location: 'P.012' },
      referringPhysician: 'BS. Trần Thị B',
    });
    const bad: Array<[unknown, RegExp]> = [
      ['tomorrow', /orders\[0\]\.scheduled must be an object/],
      [{ at: '03/12/2026 09:30' }, /scheduled\.at must be an ISO 8601 date and time/],
      [{ at: '2026-12-03' }, /scheduled\.at must be an ISO 8601 date and time/],
      [{ stationAeTitle: 'CT\\KHOA' }, /scheduled\.stationAeTitle must be a DICOM AE title/],
      [{ stationAeTitle: 'MAY_CT_KHOA_CHAN_DOAN' }, /stationAeTitle/],
      [{ stationAeTitle: 'CT_PHÒNG' }, /stationAeTitle/],
      [{ location: 'Phòng chụp cắt lớp số 2' }, /scheduled\.location must be at most 16 characters/],
    ];
    for (const [scheduled, message] of bad) expect(() => parseHisOrder({ ...order, scheduled }), JSON.stringify(scheduled)).toThrow(message);
  });
});

describe('pushed order parsing under arbitrary input', () => {
  it('throws nothing but HisOrderError', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        try {
          parseHisOrder(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(HisOrderError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
