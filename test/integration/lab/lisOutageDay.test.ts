import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import { Hl7LisDestination } from '../../../modules/hl7/lisDestination.ts';
import { field, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { runForwarderUntil } from '../../helpers/simulatedTime.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startMllpLis } from '../../sim/mllpLis.ts';

const DAY = 86_400_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const oru = (device: string, n: number) =>
  `MSH|^~\\&|${device}|LAB|||20261122080000||ORU^R01|${device}-${n}|P|2.5.1||||||UNICODE UTF-8\rPID|1||P${n}||Nguyễn^Thị Lan\rOBR|1||${device}-S${String(n).padStart(4, '0')}\rOBX|1|NM|HGB^Hemoglobin||${120 + (n % 30)}|g/L|120-160||||F\r`;

describe('the LIS down for a simulated day (HL7 analyzers → box → HL7 LIS)', () => {
  it('acknowledges every result to the analyzers during the outage, then delivers each once, in order per analyzer', async () => {
    const { dir, cleanup } = tempDir('edge-lis-day-');
    const clock = new ManualClock();
    const store: Store = await openStore({ dir, clock });
    const lis = await startMllpLis();
    await lis.down();
    cleanups.push(
      cleanup,
      () => store.close(),
      () => lis.stop(),
    );

    const devices = ['bc1', 'xn2'];
    const drivers: Hl7Driver[] = [];
    for (const id of devices) {
      const d = hl7DriverFactory.create(makeDriverContext(store, { id, routes: ['lis'] }), { host: '127.0.0.1', port: 0 }) as Hl7Driver;
      await d.start();
      drivers.push(d);
      cleanups.push(() => d.stop());
    }
    const destination = new Hl7LisDestination(
      'lis',
      { host: '127.0.0.1', port: lis.port, ackTimeoutSeconds: 5, connectTimeoutSeconds: 2, format: 'result' },
      pino({ level: 'silent' }),
    );
    const forwarder = new OutboxForwarder(destination, store.outbox, clock, pino({ level: 'silent' }), new EventBus(), {
      window: 8,
      ordered: true,
      attemptTimeoutMs: 10_000,
      backoff: { initialMs: 5_000, maxMs: 600_000, jitter: 0.5 },
    });
    store.onEnqueued(() => forwarder.wake());
    forwarder.start();
    cleanups.push(
      () => forwarder.stop(),
      () => destination.stop(),
    );

    // Through the day each analyzer sends 250 messages; every one is ACKed AA (stored), none reaches the LIS.
    const perDevice = 250;
    const clients = await Promise.all(drivers.map((d) => TestMllpClient.open(d.port!)));
    for (let n = 0; n < perDevice; n++) {
      const acks = await Promise.all(clients.map((c, i) => c.send(oru(devices[i]!, n))));
      expect(acks.map((a) => msa(a).code)).toEqual(['AA', 'AA']);
      if (n % 25 === 0) await runForwarderUntil(clock, forwarder, clock.now() + DAY / 10);
    }
    await runForwarderUntil(clock, forwarder, clock.now() + DAY / 2);
    expect(lis.messages).toHaveLength(0);
    const during = store.outbox.status(['lis'])[0]!;
    expect(during.pending).toBe(2 * perDevice);
    expect(during.lastError).toMatch(/ECONNREFUSED/);
    // Backoff capped at 10 min: the first results were tried again and again all day, never given up.
    const heads = store.outbox.list({ destination: 'lis', state: 'pending', limit: 1000 }).filter((o) => o.attempts > 0);
    expect(Math.max(...heads.map((h) => h.attempts))).toBeGreaterThan(100);

    // An analyzer resends a message it did not see acknowledged: same ACK, not stored or sent twice.
    expect(msa(await clients[0]!.send(oru('bc1', 7))).code).toBe('AA');
    clients.forEach((c) => c.close());

    await lis.up();
    await runForwarderUntil(clock, forwarder, clock.now() + 15 * 60_000);
    await waitFor(() => store.outbox.status(['lis'])[0]!.pending === 0, 'the outbox to drain into the LIS', 60_000);

    expect(lis.messages).toHaveLength(2 * perDevice);
    expect(lis.controlIds.size).toBe(2 * perDevice);
    const specimens = lis.messages.map((m) => field(segment(parseHl7(m), 'OBR'), 3));
    for (const device of devices) {
      const mine = specimens.filter((s) => s.startsWith(`${device}-`));
      expect(mine).toEqual(Array.from({ length: perDevice }, (_, n) => `${device}-S${String(n).padStart(4, '0')}`));
    }
    expect(store.outbox.list({ destination: 'lis', state: 'parked' })).toHaveLength(0);
  }, 180_000);
});
