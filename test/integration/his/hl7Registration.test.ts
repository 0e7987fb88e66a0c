import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { checkInJournalInput, type HisCheckIn } from '../../../modules/his/contract.ts';
import { HisHl7Destination } from '../../../modules/his/hl7Destination.ts';
import { MllpDecoder, mllpFrame } from '../../../modules/hl7/mllp.ts';
import { openStore } from '../../../core/store/store.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { capturingLogger } from './logCapture.ts';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

type Reply = 'AA' | 'AE' | 'silent' | 'stale-then-AA';

/** A small MLLP receiver playing the HIS: answers each message as `policy` says for its n-th arrival. */
async function startMllpHis(policy: (n: number, msg: string) => Reply, port = 0) {
  const messages: string[] = [];
  let connections = 0;
  let closedByPeer = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    const decoder = new MllpDecoder();
    socket.on('close', () => {
      sockets.delete(socket);
      closedByPeer++;
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk).messages) {
        const msg = frame.toString('utf8');
        messages.push(msg);
        const controlId = msg.split('\r')[0]!.split('|')[9]!;
        const reply = policy(messages.length, msg);
        const ack = (code: string, id: string, text = '') =>
          mllpFrame(`MSH|^~\\&|HIS||EDGE||20261122073106||ACK^A04^ACK|A${messages.length}|P|2.5\rMSA|${code}|${id}${text ? `|${text}` : ''}\r`);
        if (reply === 'AA') socket.write(ack('AA', controlId));
        else if (reply === 'AE') socket.write(ack('AE', controlId, 'Service code unknown for patient 079085001234'));
        else if (reply === 'stale-then-AA') {
          socket.write(ack('AA', 'KSOMETHINGOLD'));
          setTimeout(() => socket.write(ack('AA', controlId)), 20);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    get connections() {
      return connections;
    },
    get closedByPeer() {
      return closedByPeer;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const CHECK_IN = (n: number): HisCheckIn => ({
  identity: { idNumber: '079085001234', fullName: 'Nguyễn Văn An', dateOfBirth: '1985-03-07', sex: 'male', permanentAddress: '12 Lê Lợi, Quận 1' },
  service: { code: 'KNOI' },
  ticket: { number: `A00${n}`, issuedAt: '2026-11-22T07:31:05.000+07:00' },
});

async function setup(port: number, ackTimeoutMs = 2_000) {
  const { dir, cleanup: rm } = tempDir('edge-his-hl7-');
  const { log, lines } = capturingLogger();
  const store = await openStore({ dir, log });
  const dest = new HisHl7Destination('his', { host: '127.0.0.1', port, ackTimeoutMs, connectTimeoutMs: 1_000, sendingFacility: 'BV-DEMO' }, log);
  const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
    window: 4,
    ordered: true,
    attemptTimeoutMs: 5_000,
    backoff: { initialMs: 30, maxMs: 150, jitter: 0.2 },
  });
  store.onEnqueued(() => forwarder.wake());
  forwarder.start();
  cleanup.push(
    rm,
    () => store.close(),
    () => dest.stop(),
    () => forwarder.stop(),
  );
  return { store, journal: store.journalFor('kiosk-1', []), lines };
}

const controlIdOf = (msg: string) => msg.split('\r')[0]!.split('|')[9]!;

describe('check-in registration as ADT^A04 over MLLP (his-hl7)', () => {
  it('is done on AA, in order, over one connection', async () => {
    const his = await startMllpHis(() => 'AA');
    cleanup.push(() => his.stop());
    const { store, journal, lines } = await setup(his.port);
    for (let i = 1; i <= 3; i++) await journal.append(checkInJournalInput(CHECK_IN(i), 'his'));
    await waitFor(() => store.outbox.status(['his'])[0]!.delivered === 3, 'three registrations acknowledged');
    expect(his.messages).toHaveLength(3);
    expect(
      his.messages.map(
        (m) =>
          m
            .split('\r')
            .find((s) => s.startsWith('PV1|'))!
            .split('|')[19],
      ),
    ).toEqual(['A001', 'A002', 'A003']);
    expect(his.messages[0]).toContain('ADT^A04^ADT_A01');
    expect(his.messages[0]).toContain('PID|1||079085001234^^^BCA^NNVNM||Nguyễn^An^Văn||19850307|M');
    expect(his.connections).toBe(1);
    expect(lines.join('\n')).not.toContain('079085001234');
  });

  it("parks on AE with the HIS's text (personal data masked) and delivers the next one", async () => {
    const his = await startMllpHis((n) => (n === 1 ? 'AE' : 'AA'));
    cleanup.push(() => his.stop());
    const { store, journal, lines } = await setup(his.port);
    await journal.append(checkInJournalInput(CHECK_IN(1), 'his'));
    await journal.append(checkInJournalInput(CHECK_IN(2), 'his'));
    await waitFor(() => store.outbox.status(['his'])[0]!.pending === 0, 'both settled');
    expect(store.outbox.status(['his'])[0]).toMatchObject({ parked: 1, delivered: 1 });
    const reason = store.outbox.list({ destination: 'his', state: 'parked' })[0]!.deadLetterReason!;
    expect(reason).toMatch(/HIS answered AE for K[0-9A-F]{19}: Service code unknown for patient 0790\*\*\*\*\*234/);
    expect(lines.join('\n')).not.toContain('079085001234');
  });

  it('closes the connection after an ACK timeout and retries with the same control id', async () => {
    const his = await startMllpHis((n) => (n === 1 ? 'silent' : 'AA'));
    cleanup.push(() => his.stop());
    const { store, journal } = await setup(his.port, 150);
    await journal.append(checkInJournalInput(CHECK_IN(1), 'his'));
    await waitFor(() => store.outbox.status(['his'])[0]!.delivered === 1, 'delivery on the second attempt');
    expect(his.messages).toHaveLength(2);
    expect(controlIdOf(his.messages[0]!)).toBe(controlIdOf(his.messages[1]!));
    expect(his.connections).toBe(2);
    expect(his.closedByPeer).toBeGreaterThanOrEqual(1);
    expect(store.outbox.list({ destination: 'his' })[0]!.attempts).toBe(2);
  });

  it('ignores an ACK for another control id and waits for its own', async () => {
    const his = await startMllpHis(() => 'stale-then-AA');
    cleanup.push(() => his.stop());
    const { store, journal } = await setup(his.port);
    await journal.append(checkInJournalInput(CHECK_IN(1), 'his'));
    await waitFor(() => store.outbox.status(['his'])[0]!.delivered === 1, 'delivery');
    expect(his.messages).toHaveLength(1);
  });

  it('keeps the registration pending while the HIS is down, delivers it once it listens', async () => {
    const probe = await startMllpHis(() => 'AA');
    const port = probe.port;
    await probe.stop();
    const { store, journal } = await setup(port);
    await journal.append(checkInJournalInput(CHECK_IN(1), 'his'));
    await waitFor(() => (store.outbox.list({ destination: 'his' })[0]?.attempts ?? 0) >= 2, 'failed attempts');
    expect(store.outbox.status(['his'])[0]!.lastError).toMatch(/ECONNREFUSED/);
    const his = await startMllpHis(() => 'AA', port);
    cleanup.push(() => his.stop());
    await waitFor(() => store.outbox.status(['his'])[0]!.delivered === 1, 'delivery after the HIS returned');
    expect(his.messages).toHaveLength(1);
  });
});
