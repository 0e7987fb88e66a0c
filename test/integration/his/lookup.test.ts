import { afterEach, describe, expect, it } from 'vitest';
import { createHisLookup } from '../../../modules/his/lookup.ts';
import { CCCD_WITH_APPOINTMENT, CCCD_WITH_TWO_APPOINTMENTS, startHisSim } from '../../sim/his.ts';
import { syntheticCccdFor } from '../../sim/vssGateway.ts';
import { HIS_UNREACHABLE_MESSAGE } from '../../../modules/his/contract.ts';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const identity = (idNumber: string) => ({ idNumber, fullName: 'Trần Thị Bình', dateOfBirth: '1990-01-02', sex: 'female' as const, permanentAddress: 'Hà Nội' });

describe('HIS look-ups over HTTP (his-http)', () => {
  it('finds appointments for a CCCD and a day, mapped to our shape', async () => {
    const his = await startHisSim();
    cleanup.push(() => his.stop());
    const lookup = createHisLookup({ http: { baseUrl: his.baseUrl } });
    const one = await lookup.findAppointments(CCCD_WITH_APPOINTMENT, '2026-11-22');
    expect(one).toEqual({
      ok: true,
      value: [
        { id: 'LH-2026-11-22-001', time: '2026-11-22T08:30:00+07:00', serviceCode: 'KNOI', serviceName: 'Khám Nội', doctor: 'BS. Trần Thị B', room: 'P.105' },
      ],
    });
    const two = await lookup.findAppointments(CCCD_WITH_TWO_APPOINTMENTS, '2026-11-22');
    expect(two.ok && two.value.map((a) => a.serviceCode)).toEqual(['XN', 'XQ']);
    expect(await lookup.findAppointments('001099012345', '2026-11-22')).toEqual({ ok: true, value: [] });
  });

  it("maps the HIS's own field names from configuration", async () => {
    const his = await startHisSim();
    cleanup.push(() => his.stop());
    const lookup = createHisLookup({ http: { baseUrl: his.baseUrl, appointments: { fields: { id: 'id', time: 'time', serviceCode: 'serviceName' } } } });
    const r = await lookup.findAppointments(CCCD_WITH_APPOINTMENT, '2026-11-22');
    expect(r.ok && r.value[0]!.serviceCode).toBe('Khám Nội');
  });

  it('answers the insurance status through the HIS', async () => {
    const his = await startHisSim();
    cleanup.push(() => his.stop());
    const lookup = createHisLookup({ http: { baseUrl: his.baseUrl } });
    const valid = await lookup.getInsuranceStatus(identity('001190005678'));
    expect(valid.ok && valid.value).toMatchObject({ code: '000', verdict: 'valid', validFrom: `${new Date().getUTCFullYear()}-01-01` });
    const expired = await lookup.getInsuranceStatus(identity(syntheticCccdFor('010')));
    expect(expired.ok && expired.value).toMatchObject({ code: '010', verdict: 'invalid' });
  });

  it('says "HIS unreachable" quickly when the HIS is down or slower than the look-up timeout', async () => {
    const his = await startHisSim({ delayMs: 200 });
    cleanup.push(() => his.stop());
    const lookup = createHisLookup({ http: { baseUrl: his.baseUrl, lookupTimeoutMs: 80 } });
    const slow = await lookup.findAppointments(CCCD_WITH_APPOINTMENT, '2026-11-22');
    expect(slow).toMatchObject({ ok: false, reason: 'unreachable', patientMessage: HIS_UNREACHABLE_MESSAGE });
    expect(!slow.ok && slow.message).not.toContain(CCCD_WITH_APPOINTMENT);
    await his.down();
    const down = await lookup.getInsuranceStatus(identity(CCCD_WITH_APPOINTMENT));
    expect(down).toMatchObject({ ok: false, reason: 'unreachable' });
    expect(!down.ok && down.message).toMatch(/ECONNREFUSED/);
  });

  it('reports look-ups that are not configured', async () => {
    const lookup = createHisLookup({});
    expect(await lookup.findAppointments(CCCD_WITH_APPOINTMENT, '2026-11-22')).toMatchObject({ ok: false, reason: 'not-supported' });
  });
});
