import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { HttpJsonDestination } from '../../../core/forward/httpJson.ts';
import { checkInJournalInput } from '../../../modules/his/contract.ts';
import { HisHl7Destination } from '../../../modules/his/hl7Destination.ts';
import { openStore } from '../../../core/store/store.ts';
import { startHisSim } from '../../sim/his.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { capturingLogger } from './logCapture.ts';

describe('the HIS simulator as the demo uses it', () => {
  it("still receives the http-json destinations' posts on /ingest and /lis/results, and acknowledges ADT^A04 over MLLP", async () => {
    const { dir, cleanup } = tempDir('edge-his-sim-');
    const { log } = capturingLogger();
    const store = await openStore({ dir, log });
    const his = await startHisSim({ hl7Port: 0 });
    const opts = { window: 4, ordered: true, attemptTimeoutMs: 5_000, backoff: { initialMs: 30, maxMs: 100, jitter: 0 } };
    const forwarders = [
      new OutboxForwarder(new HttpJsonDestination('central', { url: his.url }), store.outbox, systemClock, log, new EventBus(), opts),
      new OutboxForwarder(new HttpJsonDestination('lis', { url: `${his.baseUrl}/lis/results` }), store.outbox, systemClock, log, new EventBus(), opts),
      new OutboxForwarder(
        new HisHl7Destination('his', { host: '127.0.0.1', port: his.hl7ListenPort! }, log),
        store.outbox,
        systemClock,
        log,
        new EventBus(),
        opts,
      ),
    ];
    store.onEnqueued(() => forwarders.forEach((f) => f.wake()));
    forwarders.forEach((f) => f.start());
    try {
      await store.journalFor('monitor', ['central', 'lis']).append({ stream: 'device.vitals', kind: 'reading', idempotencyKey: 'r1', parsed: { spo2: 97 } });
      await store.journalFor('kiosk', []).append(
        checkInJournalInput(
          {
            identity: { idNumber: '079085001234', fullName: 'Nguyễn Văn An', dateOfBirth: '1985', sex: 'male', permanentAddress: '' },
            service: { code: 'KNOI' },
            ticket: { number: 'A001', issuedAt: '2026-11-22T07:00:00.000+07:00' },
          },
          'his',
        ),
      );
      await waitFor(() => his.received.length === 2 && his.hl7Messages.length === 1, 'both posts and the HL7 message');
      expect(his.received.map((r) => r.path).sort()).toEqual(['/ingest', '/lis/results']);
      expect(his.received[0]!.idempotencyKey).toBe('r1');
      expect((await (await fetch(his.url)).json()) as unknown).toEqual({ received: 2 });
      await waitFor(() => store.outbox.status(['his'])[0]!.delivered === 1, 'the AA recorded');
    } finally {
      for (const f of forwarders) await f.stop();
      await his.stop();
      await store.close();
      cleanup();
    }
  });
});
