import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { header, parseHl7 } from '../../../modules/hl7/message.ts';
import { Hl7LisDestination } from '../../../modules/hl7/lisDestination.ts';
import { resultIdentity, type LabResult } from '../../../modules/lab/result.ts';
import { startMllpLis, type MllpLis } from '../../sim/mllpLis.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

let lis: MllpLis;
let store: Store;
let forwarder: OutboxForwarder | null = null;
const { dir, cleanup } = tempDir('edge-lis-');

beforeAll(async () => {
  lis = await startMllpLis();
  store = await openStore({ dir });
});
afterEach(async () => {
  await forwarder?.stop();
  forwarder = null;
});
afterAll(async () => {
  await lis.stop();
  store.close();
  cleanup();
});

function result(n: number, extra: Partial<LabResult> = {}): LabResult {
  return {
    device: 'xn1',
    protocol: 'astm',
    specimenId: `S${n}`,
    deviceTestCode: 'WBC',
    testCode: 'WBC',
    testName: 'Bạch cầu',
    observationId: ['WBC', 'Bạch cầu'],
    occurrence: 1,
    valueText: `${n}.1`,
    valueNumber: n + 0.1,
    units: '10*9/L',
    flags: [],
    status: 'F',
    timezone: 'Asia/Ho_Chi_Minh',
    receivedAt: '2026-11-22T08:00:00.000+07:00',
    qc: false,
    patientName: 'Nguyễn Văn An',
    ...extra,
  };
}

async function enqueue(results: LabResult[]): Promise<void> {
  const journal = store.journalFor('xn1', ['lis']);
  for (const r of results) await journal.append({ stream: 'lab.result', kind: 'astm.result', idempotencyKey: resultIdentity(r), parsed: r });
}

function run(ackTimeoutSeconds = 5, stripDiacritics = false): void {
  const dest = new Hl7LisDestination(
    'lis',
    { host: '127.0.0.1', port: lis.port, ackTimeoutSeconds, stripDiacritics, format: 'result' },
    pino({ level: 'silent' }),
  );
  forwarder = new OutboxForwarder(dest, store.outbox, systemClock, pino({ level: 'silent' }), new EventBus(), {
    window: 4,
    ordered: true,
    attemptTimeoutMs: 20_000,
    backoff: { initialMs: 100, maxMs: 400, jitter: 0.5 },
  });
  forwarder.start();
}

const pending = () => store.outbox.status(['lis'])[0]?.pending ?? 0;

describe('HL7 LIS destination against an MLLP LIS', () => {
  it('delivers ORU^R01 in order per device on one kept-open connection, with UTF-8 Vietnamese intact', async () => {
    lis.mode = 'ok';
    await enqueue([1, 2, 3, 4, 5].map((n) => result(n)));
    run();
    await waitFor(() => pending() === 0, 'all delivered');
    const specimens = lis.messages.map((m) => /\rOBR\|1\|\|([^|]*)/.exec(m)?.[1]);
    expect(specimens).toEqual(['S1', 'S2', 'S3', 'S4', 'S5']);
    expect(lis.messages[0]).toContain('Nguyễn Văn An');
    expect(lis.messages[0]).toContain('Bạch cầu');
    expect(header(parseHl7(lis.messages[0]!))).toMatchObject({ messageType: 'ORU', triggerEvent: 'R01', charset: 'UNICODE UTF-8', version: '2.5.1' });
  });

  it('sends names and texts without diacritics to a LIS configured so, and keeps the original in the journal', async () => {
    lis.mode = 'ok';
    const before = lis.messages.length;
    await enqueue([result(20)]);
    run(5, true);
    await waitFor(() => pending() === 0, 'delivered');
    const sent = lis.messages.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('Nguyen Van An');
    expect(sent[0]).toContain('Bach cau');
    expect(store.journalStore.list({ stream: 'lab.result', limit: 1 })[0]!.parsed).toMatchObject({ patientName: 'Nguyễn Văn An' });
  });

  it("parks AE refusals with the LIS's reason and goes on with the next", async () => {
    lis.mode = 'AE';
    await enqueue([result(10)]);
    run();
    await waitFor(() => store.outbox.list({ destination: 'lis', state: 'parked' }).length === 1, 'the refusal parked');
    expect(store.outbox.list({ destination: 'lis', state: 'parked' })[0]!.deadLetterReason).toBe('LIS answered AE: unknown test code in OBX-3');
    lis.mode = 'ok';
  });

  it('after an ACK timeout closes the connection, so a late ACK cannot confirm the next message; retries with the same control id', async () => {
    lis.mode = 'late-ack';
    lis.delayMs = 1_500;
    const before = lis.messages.length;
    await enqueue([result(20), result(21)]);
    run(1);
    await waitFor(() => lis.messages.length >= before + 2, 'a retry of the first message', 10_000);
    // The first message was sent again (same MSH-10) before the second: the late ACK confirmed nothing.
    const ids = lis.messages.slice(before).map((m) => m.split('|')[9]);
    expect(ids[0]).toBe(ids[1]);
    lis.mode = 'ok';
    await waitFor(() => pending() === 0, 'both delivered once the LIS answers in time', 20_000);
  });

  it('waits for a slow LIS inside the ACK timeout and sends each result once', async () => {
    lis.mode = 'slow';
    lis.delayMs = 300;
    const before = lis.messages.length;
    await enqueue([result(40), result(41)]);
    run(5);
    await waitFor(() => pending() === 0, 'both delivered', 10_000);
    expect(lis.messages.slice(before).map((m) => /\rOBR\|1\|\|([^|]*)/.exec(m)?.[1])).toEqual(['S40', 'S41']);
    lis.mode = 'ok';
  });

  it("never takes an ACK for another control id (MSA-2) as this message's, even when it arrives in its place", async () => {
    lis.mode = 'wrong-id';
    await enqueue([result(50)]);
    run(0.5);
    await waitFor(() => (store.outbox.status(['lis'])[0]?.lastError ?? '').includes('no ACK'), 'a timeout, not a delivery', 10_000);
    expect(pending()).toBe(1);
    lis.mode = 'ok';
    await waitFor(() => pending() === 0, 'delivered once the LIS answers for it', 10_000);
  });

  it('retries while the LIS is down and delivers when it returns', async () => {
    await lis.down();
    await enqueue([result(30)]);
    run();
    await new Promise((r) => setTimeout(r, 500));
    expect(pending()).toBe(1);
    expect(store.outbox.status(['lis'])[0]!.lastError).toMatch(/ECONNREFUSED/);
    await lis.up();
    await waitFor(() => pending() === 0, 'delivered after the LIS came back', 10_000);
  });
});
