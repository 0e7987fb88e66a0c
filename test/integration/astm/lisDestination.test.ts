import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxItem } from '../../../core/contract/destination.ts';
import { AstmLisDestination } from '../../../modules/astm/lisDestination.ts';
import { extractResults, parseMessage } from '../../../modules/astm/records.ts';
import { resultIdentity, type LabResult } from '../../../modules/lab/result.ts';
import { startAstmAnalyzer, type AstmAnalyzer } from '../../sim/astmAnalyzer.ts';

const log = pino({ level: 'silent' });
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

const result: LabResult = {
  device: 'c311',
  protocol: 'astm',
  specimenId: 'SP-0042',
  patientId: 'BN0042',
  patientName: 'Lê Thị Ngọc Ánh',
  deviceTestCode: '687/',
  observationId: ['', '', '', '687/'],
  occurrence: 1,
  testCode: 'GLU',
  valueText: '5,4',
  valueNumber: 5.4,
  units: 'mmol/L',
  referenceRange: '3.9-6.1',
  flags: ['H'],
  status: 'F',
  completedRaw: '20261122101500',
  timezone: 'Asia/Ho_Chi_Minh',
  receivedAt: '2026-11-22T03:15:01.000Z',
  qc: false,
};
const item = (parsed: unknown): OutboxItem => ({
  outboxId: 1,
  journalId: 1,
  destination: 'lis',
  orderKey: 'c311',
  source: 'c311',
  stream: 'lab.result',
  kind: 'astm.result',
  idempotencyKey: 'k',
  attempts: 0,
  raw: null,
  parsed,
  blob: null,
  blobPath: null,
  receivedAt: result.receivedAt,
  meta: {},
});

describe('ASTM LIS destination', () => {
  it('sends a result as H/P/O/R/L over the link; the receiving side reads the same result', async () => {
    // The simulator in server mode plays an ASTM LIS: it ACKs frames and keeps what it got.
    const lis: AstmAnalyzer = await startAstmAnalyzer({ mode: 'server', port: 0 });
    stops.push(() => lis.stop());
    const dest = new AstmLisDestination('lis', { host: '127.0.0.1', port: lis.port!, frameSize: 64 }, { log });
    stops.push(() => dest.stop());
    expect(await dest.deliver(item(result), new AbortController().signal)).toEqual({ result: 'ok', detail: 'all frames ACKed' });
    expect(await dest.deliver(item({ ...result, specimenId: 'SP-0043' }), new AbortController().signal)).toMatchObject({ result: 'ok' });
    const [text] = await lis.waitForReceived(2);
    const back = extractResults(parseMessage(text!), { device: 'c311', timezone: 'Asia/Ho_Chi_Minh', receivedAt: result.receivedAt }).results[0]!;
    expect(back).toMatchObject({
      specimenId: 'SP-0042',
      patientName: 'Lê Thị Ngọc Ánh',
      deviceTestCode: 'GLU',
      valueText: '5,4',
      units: 'mmol/L',
      flags: ['H'],
      status: 'F',
      completedRaw: '20261122101500',
    });
    expect(resultIdentity({ ...back, deviceTestCode: result.deviceTestCode, observationId: result.observationId })).toBe(resultIdentity(result));
  });

  it('LIS unreachable → retry; not a lab result → permanent', async () => {
    const dest = new AstmLisDestination('lis', { host: '127.0.0.1', port: 1, connectTimeoutMs: 1000 }, { log });
    expect((await dest.deliver(item(result), new AbortController().signal)).result).toBe('retry');
    expect((await dest.deliver(item({ hello: 1 }), new AbortController().signal)).result).toBe('permanent');
  });

  it('refuses to be configured for TCVN3 on the wire', () => {
    expect(() => new AstmLisDestination('lis', { host: 'x', port: 1, encoding: 'tcvn3' }, { log })).toThrow(/refusing to send tcvn3/);
  });
});
