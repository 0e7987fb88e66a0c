import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { checkInJournalInput, type HisCheckIn } from '../../../modules/his/contract.ts';
import { HisHttpDestination } from '../../../modules/his/httpHis.ts';
import { CheckInRegistrar } from '../../../modules/his/checkInRegistrar.ts';
import { openStore } from '../../../core/store/store.ts';
import { CCCD_REFUSED, startHisSim } from '../../sim/his.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { capturingLogger } from './logCapture.ts';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function checkIn(n: number, cccd = '079085001234'): HisCheckIn {
  return {
    identity: { idNumber: cccd, fullName: 'Nguyễn Văn An', dateOfBirth: '1985-03-07', sex: 'male', permanentAddress: '12 Lê Lợi, Quận 1, TP Hồ Chí Minh' },
    service: { code: 'KNOI', name: 'Khám Nội' },
    ticket: { number: `A${String(n).padStart(3, '0')}`, issuedAt: `2026-11-22T07:${String(n).padStart(2, '0')}:00.000+07:00` },
  };
}

async function setup(options: { delayMs?: number } = {}) {
  const { dir, cleanup: rm } = tempDir('edge-his-');
  const { log, lines } = capturingLogger();
  const store = await openStore({ dir, log });
  const his = await startHisSim({ delayMs: options.delayMs });
  const dest = new HisHttpDestination('his', { baseUrl: his.baseUrl, timeoutMs: 2_000, register: { ackField: 'requestId' } });
  const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
    window: 4,
    ordered: true,
    attemptTimeoutMs: 5_000,
    backoff: { initialMs: 30, maxMs: 200, jitter: 0.2 },
  });
  store.onEnqueued(() => forwarder.wake());
  cleanup.push(
    rm,
    () => store.close(),
    () => his.stop(),
    () => forwarder.stop(),
  );
  // The kiosk's journal: the source is the kiosk, the route is the HIS destination.
  const journal = store.journalFor('kiosk-1', []);
  return { store, his, forwarder, journal, lines };
}

describe('check-in registration through the outbox (his-http)', () => {
  it('keeps registrations pending while the HIS is down and delivers each exactly once after it returns', async () => {
    const { store, his, forwarder, journal, lines } = await setup();
    await his.down();
    forwarder.start();
    const registrar = new CheckInRegistrar(journal, 'his');
    for (let i = 1; i <= 5; i++) {
      // The ticket can be issued now: the registration is durable though the HIS is down.
      const r = await registrar.registerCheckIn(checkIn(i));
      expect(r).toMatchObject({ duplicate: false, state: 'queued' });
    }
    // The kiosk registers the same check-in again (a double tap): not stored twice.
    expect((await registrar.registerCheckIn(checkIn(3))).duplicate).toBe(true);
    await expect(registrar.registerCheckIn(checkIn(9, '12345'))).rejects.toThrow(/12-digit/);

    await waitFor(() => store.outbox.list({ destination: 'his', state: 'pending' }).some((o) => o.attempts >= 3), 'several failed attempts');
    const during = store.outbox.status(['his'])[0]!;
    expect(during.pending).toBe(5);
    expect(during.lastError).toMatch(/ECONNREFUSED/);
    expect(his.registrations).toHaveLength(0);

    await his.up();
    await waitFor(() => store.outbox.status(['his'])[0]!.pending === 0, 'the outbox to drain');
    expect(store.outbox.status(['his'])[0]!.delivered).toBe(5);
    expect(his.registrations.map((r) => (r.body.visit as { ticketNumber: string }).ticketNumber)).toEqual(['A001', 'A002', 'A003', 'A004', 'A005']);
    expect(new Set(his.registrations.map((r) => r.requestId)).size).toBe(5);
    // Each was sent once after the HIS came back (refused connects are not requests).
    expect(his.registrationAttempts).toBe(5);
    expect(his.registrations[0]!.requestId).toBe('checkin:2026-11-22:KNOI:A001');
    expect(his.registrations[0]!.body.patient).toMatchObject({ cccd: '079085001234', name: 'Nguyễn Văn An', birthDate: '1985-03-07' });

    // Personal data reached the HIS, never the log.
    const logText = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of ['079085001234', 'Nguyễn Văn An', '1985-03-07', 'Lê Lợi']) expect(logText).not.toContain(secret);
  });

  it('retries a slow answer past the attempt timeout with the same key, and the HIS registers it once', async () => {
    const { store, his, forwarder, journal } = await setup({ delayMs: 200 });
    // Attempt timeout shorter than the HIS's latency: the first answers arrive after we gave up.
    const slowForwarder = new OutboxForwarder(
      new HisHttpDestination('his', { baseUrl: his.baseUrl, timeoutMs: 100 }),
      store.outbox,
      systemClock,
      capturingLogger().log,
      new EventBus(),
      {
        window: 1,
        ordered: true,
        attemptTimeoutMs: 5_000,
        backoff: { initialMs: 20, maxMs: 50, jitter: 0 },
      },
    );
    void forwarder;
    store.onEnqueued(() => slowForwarder.wake());
    slowForwarder.start();
    cleanup.push(() => slowForwarder.stop());
    await journal.append(checkInJournalInput(checkIn(7), 'his'));
    await waitFor(() => his.registrationAttempts >= 2, 'a retry after the timeout');
    his.setDelay(0);
    await waitFor(() => store.outbox.status(['his'])[0]!.pending === 0, 'delivery once the HIS is fast again');
    expect(his.registrationAttempts).toBeGreaterThanOrEqual(3);
    expect(his.registrations).toHaveLength(1);
  });

  it('parks a registration the HIS refuses, with a reason free of personal data, and goes on', async () => {
    const { store, his, forwarder, journal, lines } = await setup();
    forwarder.start();
    await journal.append(checkInJournalInput(checkIn(1, CCCD_REFUSED), 'his'));
    await journal.append(checkInJournalInput(checkIn(2), 'his'));
    await waitFor(() => store.outbox.status(['his'])[0]!.pending === 0, 'both items settled');
    const status = store.outbox.status(['his'])[0]!;
    expect(status).toMatchObject({ parked: 1, delivered: 1 });
    const parked = store.outbox.list({ destination: 'his', state: 'parked' })[0]!;
    expect(parked.deadLetterReason).toMatch(/^HTTP 422/);
    expect(parked.deadLetterReason).not.toContain(CCCD_REFUSED);
    expect(his.registrations).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(CCCD_REFUSED);
  });
});
