import { afterEach, describe, expect, it } from 'vitest';
import { createHisLookup } from '../../../modules/his/lookup.ts';
import { VssGatewayClient, type VssGatewayConfig } from '../../../modules/his/vssGatewayClient.ts';
import { startVssGateway, syntheticCccdFor } from '../../sim/vssGateway.ts';
import { startHisSim } from '../../sim/his.ts';
import { describeInsuranceCode } from '../../../modules/his/insuranceOutcome.ts';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const STAFF = { name: 'Lê Thị Thu', cccd: '079190001111' };
const patient = (idNumber: string, dateOfBirth = '1985-03-07') => ({
  idNumber,
  fullName: 'Nguyễn Văn An',
  dateOfBirth,
  sex: 'male' as const,
  permanentAddress: 'Quận 1',
});

async function gateway(extra: Partial<Parameters<typeof startVssGateway>[0]> = {}) {
  const sim = await startVssGateway({ staff: STAFF, ...extra });
  cleanup.push(() => sim.stop());
  const config: VssGatewayConfig = {
    baseUrl: sim.url,
    username: 'bv-demo',
    password: 'demo-password',
    staffName: STAFF.name,
    staffCccd: STAFF.cccd,
    timeoutMs: 2_000,
  };
  return { sim, config };
}

// Every documented maKetQua, selected by synthetic CCCD in the simulator.
const CODES = ['000', '001', '002', '003', '004', '010', '050', '051', '052', '053', '054', '055', '060', '061', '070', '101', '150', '199', '205', '401'];

describe('Vietnam Social Security gateway, KQNhanLichSuKCB2024', () => {
  it.each(CODES)('turns maKetQua %s into the kiosk sentence over real HTTP', async (code) => {
    const { sim, config } = await gateway();
    const r = await new VssGatewayClient(config).getInsuranceStatus(patient(syntheticCccdFor(code)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.code).toBe(code);
    expect(r.value.patientMessage).toBe(describeInsuranceCode(code).patientMessage);
    expect(sim.lookups[0]).toMatchObject({
      maThe: syntheticCccdFor(code),
      hoTen: 'Nguyễn Văn An',
      ngaySinh: '07/03/1985',
      hoTenCb: STAFF.name,
      cccdCb: STAFF.cccd,
    });
    if (code === '000')
      expect(r.value).toMatchObject({
        verdict: 'valid',
        validFrom: `${new Date().getUTCFullYear()}-01-01`,
        validTo: `${new Date().getUTCFullYear()}-12-31`,
        registeredFacility: '79001',
      });
    if (code === '010') expect(r.value.verdict).toBe('invalid');
    if (code === '003') expect(r.value.newCardNumber).toMatch(/^GD/);
  });

  it('sends a birth year alone as it is', async () => {
    const { sim, config } = await gateway();
    await new VssGatewayClient(config).getInsuranceStatus(patient('001099012345', '1948'));
    expect(sim.lookups[0]!.ngaySinh).toBe('1948');
  });

  it('reuses its token, and takes a new one once when the gateway says it expired', async () => {
    const { sim, config } = await gateway();
    const client = new VssGatewayClient(config);
    await client.getInsuranceStatus(patient('001099012345'));
    await client.getInsuranceStatus(patient('001099012346'));
    expect(sim.tokenCalls).toBe(1);
    sim.expireTokens();
    const r = await client.getInsuranceStatus(patient('001099012347'));
    expect(r.ok && r.value.code).toBe('000');
    expect(sim.tokenCalls).toBe(2);
  });

  it('takes a new token before the old one runs out (expires_in minus a minute)', async () => {
    const { sim, config } = await gateway({ tokenTtlMs: 30_000 });
    const client = new VssGatewayClient(config);
    await client.getInsuranceStatus(patient('001099012345'));
    await client.getInsuranceStatus(patient('001099012346'));
    // A 30 s token is inside the one-minute margin: every look-up asks for a fresh one.
    expect(sim.tokenCalls).toBe(2);
  });

  it('answers 401 for a wrong password, 054/055 for a staff identity the gateway does not know', async () => {
    const { config } = await gateway();
    const badPassword = await new VssGatewayClient({ ...config, password: 'wrong' }).getInsuranceStatus(patient('001099012345'));
    expect(badPassword.ok && badPassword.value).toMatchObject({ code: '401', verdict: 'unknown' });
    const badCccd = await new VssGatewayClient({ ...config, staffCccd: '079190009999' }).getInsuranceStatus(patient('001099012345'));
    expect(badCccd.ok && badCccd.value.code).toBe('054');
    const badName = await new VssGatewayClient({ ...config, staffName: 'Someone Else' }).getInsuranceStatus(patient('001099012345'));
    expect(badName.ok && badName.value).toMatchObject({ code: '055', staffNote: expect.stringMatching(/staff/) });
  });

  it('answers 205 for parameters the gateway rejects', async () => {
    const { config } = await gateway();
    const r = await new VssGatewayClient(config).getInsuranceStatus(patient('12345'));
    expect(r.ok && r.value.code).toBe('205');
  });

  it('is "unreachable" when the gateway is down or too slow, without personal data in the message', async () => {
    const { sim, config } = await gateway({ delayMs: 300 });
    const slow = await new VssGatewayClient({ ...config, timeoutMs: 80 }).getInsuranceStatus(patient('001099012345'));
    expect(slow).toMatchObject({ ok: false, reason: 'unreachable' });
    await sim.stop();
    const down = await new VssGatewayClient(config).getInsuranceStatus(patient('001099012345'));
    expect(down).toMatchObject({ ok: false, reason: 'unreachable', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(JSON.stringify(down)).not.toContain('001099012345');
  });

  it('is preferred for insurance by createHisLookup, while appointments still come from the HIS', async () => {
    const { sim, config } = await gateway();
    const his = await startHisSim();
    cleanup.push(() => his.stop());
    const lookup = createHisLookup({ http: { baseUrl: his.baseUrl }, vssGateway: config });
    const r = await lookup.getInsuranceStatus(patient(syntheticCccdFor('010')));
    expect(r.ok && r.value.code).toBe('010');
    expect(sim.lookups).toHaveLength(1);
    expect((await lookup.findAppointments('079085001234', '2026-11-22')).ok).toBe(true);
  });
});

describe('a gateway behind a failing proxy', () => {
  it('is unreachable when the token call answers 502', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;
    const r = await new VssGatewayClient({
      baseUrl: `http://127.0.0.1:${port}`,
      username: 'u',
      password: 'p',
      staffName: STAFF.name,
      staffCccd: STAFF.cccd,
    }).getInsuranceStatus(patient('001099012345'));
    expect(r).toMatchObject({ ok: false, reason: 'unreachable', message: expect.stringMatching(/HTTP 502/) });
  });
});
