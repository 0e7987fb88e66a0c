import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { checkInJournalInput } from '../../../modules/his/contract.ts';
import { controlIdFor } from '../../../modules/hl7/ack.ts';
import { HisHl7Destination } from '../../../modules/his/hl7Destination.ts';
import { openStore } from '../../../core/store/store.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { capturingLogger } from './logCapture.ts';

// Debian's python3-hl7 installs for the system interpreter.
const PYTHON = '/usr/bin/python3';
let receiver: ChildProcess;
let port = 0;
const parsed: Array<Record<string, string>> = [];

beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import hl7.mllp'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error(`this test needs the Debian package python3-hl7 (apt-get install python3-hl7): ${probe.stderr || probe.error?.message}`);
  receiver = spawn(PYTHON, [fileURLToPath(new URL('./hl7Receiver.py', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  receiver.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('PORT ')) port = Number(line.slice(5));
      else if (line.trim()) parsed.push(JSON.parse(line) as Record<string, string>);
    }
  });
  await waitFor(() => port > 0, 'the python-hl7 receiver to listen');
});

afterAll(() => {
  receiver?.kill('SIGTERM');
});

describe('ADT^A04 against an independent HL7 implementation (python3-hl7)', () => {
  it('is parsed field by field by python-hl7 and its own ACK completes the delivery', async () => {
    const { dir, cleanup } = tempDir('edge-his-interop-');
    const { log } = capturingLogger();
    const store = await openStore({ dir, log });
    const forwarder = new OutboxForwarder(
      new HisHl7Destination('his', { host: '127.0.0.1', port, ackTimeoutMs: 3_000 }, log),
      store.outbox,
      systemClock,
      log,
      new EventBus(),
      {
        window: 1,
        ordered: true,
        attemptTimeoutMs: 5_000,
        backoff: { initialMs: 50, maxMs: 200, jitter: 0 },
      },
    );
    store.onEnqueued(() => forwarder.wake());
    forwarder.start();
    try {
      const input = checkInJournalInput(
        {
          identity: {
            idNumber: '001190005678',
            fullName: 'Trần Thị Bích Ngọc',
            dateOfBirth: '1990-05-17',
            sex: 'female',
            permanentAddress: 'Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội',
          },
          service: { code: 'KNHI', name: 'Khám Nhi' },
          ticket: { number: 'N007', issuedAt: '2026-11-22T08:00:00.000+07:00' },
        },
        'his',
      );
      await store.journalFor('kiosk-1', []).append(input);
      await waitFor(() => store.outbox.status(['his'])[0]?.delivered === 1, 'the python-hl7 ACK to be recorded');
      expect(parsed).toEqual([
        {
          type: 'ADT^A04^ADT_A01',
          controlId: controlIdFor(input.idempotencyKey),
          cccd: '001190005678',
          idType: 'NNVNM',
          family: 'Trần',
          given: 'Ngọc',
          birth: '19900517',
          sex: 'F',
          ticket: 'N007',
        },
      ]);
    } finally {
      await forwarder.stop();
      await store.close();
      cleanup();
    }
  });
});
