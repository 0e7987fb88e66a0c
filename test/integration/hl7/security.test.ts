import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import type { Hl7Counters } from '../../../modules/hl7/listener.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import type { ServiceRegistry } from '../../../core/contract/driver.ts';
import { omiMessage, type ImagingOrder } from '../../sim/his.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { dialFrom, journalKeys, mllpSend, oru, streamHugeFrame, whenClosed } from '../../helpers/hl7Attack.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const { dir, cleanup } = tempDir('edge-hl7-sec-');
let store: Store;
let cache: SqliteOrderCache;
let analyzer: Hl7Driver;
let orders: Hl7Driver;
let flooded: Hl7Driver;

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  const registry = new Map<string, unknown>();
  const services: ServiceRegistry = { get: <T>(n: string) => registry.get(n) as T | undefined, provide: (n, s) => void registry.set(n, s) };
  cache = new SqliteOrderCache(store.db);
  services.provide(ORDER_CACHE_SERVICE, cache);
  // The analyzer and the HIS are at 127.0.0.1; 127.0.0.2 is another PC on the LAN.
  analyzer = hl7DriverFactory.create(makeDriverContext(store, { id: 'bc5380', services, routes: ['lis'] }), {
    host: '127.0.0.1',
    port: 0,
    allowedPeers: ['127.0.0.1'],
  }) as Hl7Driver;
  orders = hl7DriverFactory.create(makeDriverContext(store, { id: 'his-orders', services }), {
    host: '127.0.0.1',
    port: 0,
    mode: 'orders',
    allowedPeers: ['127.0.0.1'],
  }) as Hl7Driver;
  // Small caps so a flood is cheap to make: 6 connections, 2 per address, no idle close (the
  // message time bound must be what closes a frame that never ends).
  flooded = hl7DriverFactory.create(makeDriverContext(store, { id: 'flooded', services, routes: ['lis'] }), {
    host: '127.0.0.1',
    port: 0,
    allowedPeers: ['127.0.0.0/29'],
    limits: { maxConnections: 6, maxConnectionsPerPeer: 2, idleSeconds: 0 },
    messageTimeoutSeconds: 1,
  }) as Hl7Driver;
  for (const d of [analyzer, orders, flooded]) await d.start();
});
afterAll(async () => {
  for (const d of [analyzer, orders, flooded]) await d?.stop();
  store?.close();
  cleanup();
});

const counters = (d: Hl7Driver) => d.status().counters as unknown as Hl7Counters & { connections: number };
const messagesOf = (source: string, stream = 'lab.message') => store.journalStore.list({ source, stream, limit: 1000 });
const order = (accession: string, patient: string): ImagingOrder => ({
  orderId: `O-${accession}`,
  accessionNumber: accession,
  patientId: `BN-${accession}`,
  patientName: patient,
  procedure: { code: 'CT01', name: 'CT sọ não', modality: 'CT' },
  stationAeTitle: 'CT01',
  scheduledAt: '20261203091000',
});

describe('HL7 listeners admit only their listed peers', () => {
  it('refuses a forged ORU and a forged OMI^O23 from an unlisted address; nothing enters the journal or the order cache; mllp_send from 127.0.0.1 is served', async () => {
    const before = journalKeys(store);
    const forgedOru = await TestMllpClient.open(analyzer.port, '127.0.0.1', '127.0.0.2');
    await expect(forgedOru.send(oru('FORGED-1', 'SID-FORGED', '99.9'))).rejects.toThrow();
    const forgedOmi = await TestMllpClient.open(orders.port, '127.0.0.1', '127.0.0.2');
    await expect(forgedOmi.send(omiMessage(order('ACC-FORGED', 'Kẻ^Giả Mạo'), 'OMI-FORGED'))).rejects.toThrow();
    expect(journalKeys(store)).toEqual(before);
    expect(cache.findBySpecimen('ACC-FORGED')).toBeUndefined();
    expect(counters(analyzer).refusedPeers).toBeGreaterThanOrEqual(1);
    expect(counters(orders).refusedPeers).toBeGreaterThanOrEqual(1);

    // The same messages from the listed address are taken: the refusal above was the address.
    const stdout = await mllpSend(dir, analyzer.port, [oru('REAL-1', 'SID-REAL-1', '7.1')]);
    expect(stdout).toContain('MSA|AA|REAL-1');
    expect(messagesOf('bc5380').map((e) => e.meta.controlId)).toContain('REAL-1');
    const his = await TestMllpClient.open(orders.port);
    expect(msa(await his.send(omiMessage(order('ACC-REAL', 'Phạm^Thị Hoa'), 'OMI-REAL')))).toMatchObject({ code: 'AA' });
    expect(cache.findBySpecimen('ACC-REAL')).toBeDefined();
    his.close();
  });
});

describe('a control id (MSH-10) reused by a different message', () => {
  it('keeps the real ORU sent after a forged one with the same MSH-10, stores and forwards it, flags it; a true resend gets the stored ACK and stores nothing', async () => {
    const device = await TestMllpClient.open(analyzer.port);
    // A forger who can reach the port (a listed PC, a compromised middleware) takes the next id.
    const forgedAck = await device.send(oru('BC-1001', 'SID-FORGED-2', '99.9'));
    expect(msa(forgedAck).code).toBe('AA');
    const realAck = await device.send(oru('BC-1001', 'SID-REAL-2', '6.4'));
    expect(msa(realAck)).toMatchObject({ code: 'AA', controlId: 'BC-1001' });

    const stored = messagesOf('bc5380').filter((e) => e.meta.controlId === 'BC-1001');
    expect(stored).toHaveLength(2);
    const [real, forged] = stored; // newest first
    expect(forged!.idempotencyKey).toBe('hl7:bc5380:BC-1001');
    expect(forged!.meta.controlIdReused).toBeUndefined();
    expect(real!.idempotencyKey).toMatch(/^hl7:bc5380:BC-1001:[0-9a-f]{16}$/);
    expect(real!.meta).toMatchObject({ controlIdReused: true, peer: '127.0.0.1', firstJournalId: forged!.id, firstPeer: '127.0.0.1' });
    expect(real!.parsed).toMatchObject({ controlIdReused: true, peer: '127.0.0.1' });
    expect(counters(analyzer).controlIdReused).toBe(1);
    // The real result is stored, linked to its own message, and queued for the LIS.
    const results = store.journalStore.list({ source: 'bc5380', stream: 'lab.result', limit: 1000 });
    const realResult = results.find((e) => (e.parsed as { specimenId: string }).specimenId === 'SID-REAL-2');
    expect(realResult?.parsed).toMatchObject({ valueText: '6.4', messageKey: real!.idempotencyKey });
    expect(store.outbox.list({ journalId: realResult!.id })).toMatchObject([{ destination: 'lis', state: 'pending' }]);

    // A true resend (CRLF line ends, MSH-7 restamped) is the same message: its ACK, nothing new.
    const keys = journalKeys(store);
    expect(await device.send(oru('BC-1001', 'SID-REAL-2', '6.4', '20261122080500').replace(/\r/g, '\r\n'))).toBe(realAck);
    expect(await device.send(oru('BC-1001', 'SID-FORGED-2', '99.9'))).toBe(forgedAck);
    expect(journalKeys(store)).toEqual(keys);
    expect(counters(analyzer).controlIdReused).toBe(1);
    device.close();
  });

  it('does the same for orders: a second OMI^O23 with a stored control id is kept and flagged, the first order untouched', async () => {
    const his = await TestMllpClient.open(orders.port);
    expect(msa(await his.send(omiMessage(order('ACC-51', 'Lê^Văn Nam'), 'OMI-51'))).code).toBe('AA');
    const secondAck = await his.send(omiMessage(order('ACC-52', 'Võ^Thị Lan'), 'OMI-51'));
    expect(msa(secondAck).code).toBe('AA');
    expect(cache.findBySpecimen('ACC-51')).toMatchObject({ patientName: 'Lê Văn Nam' });
    expect(cache.findBySpecimen('ACC-52')).toMatchObject({ patientName: 'Võ Thị Lan' });
    const entries = messagesOf('his-orders', 'lab.order').filter((e) => e.meta.controlId === 'OMI-51');
    expect(entries.map((e) => e.meta.controlIdReused ?? false)).toEqual([true, false]);
    const keys = journalKeys(store);
    expect(await his.send(omiMessage(order('ACC-52', 'Võ^Thị Lan'), 'OMI-51'))).toBe(secondAck);
    expect(journalKeys(store)).toEqual(keys);
    his.close();
  });
});

describe('floods on the HL7 listener never lock the device out', () => {
  it("idle sockets past the caps, from other addresses and from the device's own: refused or made room from, and mllp_send is still served", async () => {
    const before = counters(flooded);
    const flood = [];
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) for (let i = 0; i < 4; i++) flood.push(await dialFrom(flooded.port, from));
    await waitFor(() => counters(flooded).refusedBusy - before.refusedBusy >= 10, 'the sockets past the caps to be refused');
    expect(flooded.status().counters!.connections).toBeLessThanOrEqual(6);
    // The listener is full of idle sockets; the device connects (after they have been idle 2 s).
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await mllpSend(dir, flooded.port, [oru('FLOOD-1', 'SID-F1', '5.0')])).toContain('MSA|AA|FLOOD-1');
    // Now from the device's own address.
    const own = [];
    for (let i = 0; i < 6; i++) own.push(await dialFrom(flooded.port, '127.0.0.1'));
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await mllpSend(dir, flooded.port, [oru('FLOOD-2', 'SID-F2', '5.1')])).toContain('MSA|AA|FLOOD-2');
    expect(
      messagesOf('flooded')
        .map((e) => e.meta.controlId)
        .sort(),
    ).toEqual(['FLOOD-1', 'FLOOD-2']);
    for (const s of [...flood, ...own]) s.destroy();
  });

  it('an MLLP frame larger than maxMessageBytes is dropped as it streams and its sender cut off, while the device keeps getting AA; RSS does not grow by the frame size', async () => {
    const device = await TestMllpClient.open(flooded.port);
    const beforeMessages = messagesOf('flooded').length;
    const rss = process.memoryUsage().rss;
    const attacker = await dialFrom(flooded.port, '127.0.0.6');
    const frame = 64 * 1024 * 1024;
    const attack = streamHugeFrame(attacker, frame);
    const acks: string[] = [];
    for (let i = 0; i < 20; i++) acks.push(msa(await device.send(oru(`DURING-${i}`, `SID-D${i}`, '4.2'))).code);
    const { written, closedByBox } = await attack;
    expect(closedByBox).toBe(true);
    // The default 1 MiB limit plus what the sockets' buffers hold: far from 64 MiB.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(process.memoryUsage().rss - rss).toBeLessThan(frame / 2);
    expect(acks.every((c) => c === 'AA')).toBe(true);
    expect(messagesOf('flooded').length).toBe(beforeMessages + 20);
    expect(counters(flooded).oversized).toBeGreaterThanOrEqual(1);
    device.close();
  });

  it('a frame that never ends (silent, or trickling a byte at a time) is closed after messageTimeoutSeconds; nothing stored', async () => {
    const before = journalKeys(store);
    const timeouts = counters(flooded).messageTimeouts;
    const silent = await dialFrom(flooded.port, '127.0.0.3');
    silent.write(Buffer.from('\x0bMSH|^~\\&|BC-5380|Mindray|||20261122080000||ORU^R01|NEVER|P|2.5\r'));
    const trickle = await dialFrom(flooded.port, '127.0.0.4');
    trickle.on('error', () => undefined);
    trickle.write(Buffer.from([0x0b]));
    const drip = setInterval(() => trickle.destroyed || trickle.write('A'), 100);
    await Promise.all([whenClosed(silent), whenClosed(trickle)]);
    clearInterval(drip);
    expect(counters(flooded).messageTimeouts - timeouts).toBe(2);
    expect(journalKeys(store)).toEqual(before);
  });
});
