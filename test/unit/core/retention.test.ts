import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { DeviceAlarms } from '../../../core/deviceAlarms.ts';
import type { RetentionPolicy } from '../../../core/store/retention.ts';
import { StoreAlarms } from '../../../core/store/storeAlarms.ts';
import { openStore, type Store, type StoreOptions } from '../../../core/store/store.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

async function setup(
  retention: RetentionPolicy = { deliveredDays: 30, personalHours: 72, personalMaxDays: 90 },
  extra: Partial<StoreOptions> = {},
): Promise<{ store: Store; clock: ManualClock; dir: string }> {
  const { dir, cleanup } = tempDir();
  const clock = new ManualClock();
  const store = await openStore({ dir, clock, retention, ...extra });
  cleanups.push(() => (store.close(), cleanup()));
  return { store, clock, dir };
}

const outboxId = (store: Store, destination: string, key: string) => store.outbox.list({ destination }).find((o) => o.idempotencyKey === key)!.outboxId;

describe('retention', () => {
  it('scrubs personal data after its retention once delivered, purges delivered items after theirs, never touches pending or parked ones', async () => {
    const { store, clock } = await setup();
    const journal = store.journalFor('xn1', ['lis']);
    const delivered = await journal.append({
      stream: 'lab.result',
      kind: 'r',
      idempotencyKey: 'delivered',
      raw: Buffer.from('PID|||001099012345||Nguyễn Văn An'),
      parsed: { patientName: 'Nguyễn Văn An' },
      personal: true,
    });
    const pending = await journal.append({
      stream: 'lab.result',
      kind: 'r',
      idempotencyKey: 'pending',
      raw: Buffer.from('PID|||079203001234||Trần Thị Bích'),
      personal: true,
    });
    const parked = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'parked', raw: Buffer.from('bad'), personal: true });
    await store.outbox.markDone(outboxId(store, 'lis', 'delivered'));
    await store.outbox.park(outboxId(store, 'lis', 'parked'), 'lis', 'AE: unknown test code');

    clock.advance(71 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ personalScrubbed: 0, journalPurged: 0 });

    clock.advance(2 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ personalScrubbed: 1, journalPurged: 0 });
    expect(store.journalStore.get(delivered.id)).toMatchObject({ raw: null, parsed: null, scrubbed: true });
    expect(store.journalStore.get(pending.id)!.raw?.toString()).toContain('Trần Thị Bích');
    expect(store.journalStore.get(parked.id)!.raw?.toString()).toBe('bad');

    clock.advance(31 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, outboxPurged: 1, parkedScrubbed: 0 });
    expect(store.journalStore.get(delivered.id)).toBeUndefined();
    // Clinical data never expires from the outbox.
    expect(store.outbox.status(['lis'])[0]).toMatchObject({ pending: 1, parked: 1 });
    expect(store.journalStore.get(pending.id)).toBeDefined();
    expect(store.journalStore.get(parked.id)!.raw?.toString()).toBe('bad');
  });

  it('keeps a delivered entry and its file while a module holds it, and purges it once released', async () => {
    const { store, clock } = await setup();
    const ref = await store.blobs.write(Buffer.from('CT slice'));
    const entry = await store
      .journalFor('ct1', ['pacs'])
      .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop-9', blob: ref, personal: true });
    await store.outbox.markDone(store.outbox.list({ destination: 'pacs' })[0]!.outboxId);
    store.outbox.hold(entry.id, 'dicom-commit:pacs');
    clock.advance(40 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 0, blobsRemoved: 0 });
    expect(existsSync(store.blobs.path(ref))).toBe(true);
    store.outbox.release(entry.id, 'dicom-commit:pacs');
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
    expect(existsSync(store.blobs.path(ref))).toBe(false);
  });

  it('purges raw captures after the personal-data retention', async () => {
    const { store, clock } = await setup();
    const s = store.captureFor('astm1').open('tcp 127.0.0.1:4010');
    s.inbound(Buffer.from('\x05'));
    s.close();
    store.committer.flush();
    clock.advance(73 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ capturesPurged: 1 });
    expect(store.captures.list()).toEqual([]);
  });

  it('keeps a blob file that another, still-kept entry shares', async () => {
    const { store, clock } = await setup();
    const ref = await store.blobs.write(Buffer.from('same image'));
    const a = store.journalFor('mod1', []);
    await a.append({ stream: 'dicom.instance', kind: 'CT', idempotencyKey: 'uid-1:old', blob: ref });
    clock.advance(31 * DAY);
    await store.journalFor('mod1', ['pacs']).append({ stream: 'dicom.instance', kind: 'CT', idempotencyKey: 'uid-1:new', blob: ref });
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 0 });
    expect(existsSync(store.blobs.path(ref))).toBe(true);
  });
});

describe('retention of images', () => {
  it('removes a delivered image with personal data after personalHours when shorter than imagesDays, other files after imagesDays, never an unacknowledged image', async () => {
    const { store, clock } = await setup({ deliveredDays: 30, personalHours: 72, imagesDays: 7 });
    const journal = store.journalFor('ct1', ['pacs']);
    const forwarded = await store.blobs.write(Buffer.from('forwarded image, PatientName LE^VAN^TAM'));
    const waiting = await store.blobs.write(Buffer.from('image the PACS has not taken'));
    const plainFile = await store.blobs.write(Buffer.from('a calibration file, nobody in it'));
    await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'forwarded', blob: forwarded, personal: true });
    const unacked = await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'waiting', blob: waiting, personal: true });
    await journal.append({ stream: 'device.file', kind: 'cal', idempotencyKey: 'plain', blob: plainFile });
    const result = await store
      .journalFor('xn1', ['pacs'])
      .append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'result', raw: Buffer.from('OBX'), personal: true });
    for (const key of ['forwarded', 'plain', 'result']) await store.outbox.markDone(outboxId(store, 'pacs', key));

    clock.advance(71 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 0, blobsRemoved: 0 });
    clock.advance(2 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
    expect(existsSync(store.blobs.path(forwarded))).toBe(false);
    expect(existsSync(store.blobs.path(plainFile))).toBe(true);
    clock.advance(5 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
    expect(existsSync(store.blobs.path(plainFile))).toBe(false);
    expect(existsSync(store.blobs.path(waiting))).toBe(true);
    expect(store.journalStore.get(unacked.id)).toBeDefined();
    expect(store.journalStore.get(result.id)).toBeDefined();
    clock.advance(23 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 0 });
    expect(store.journalStore.get(result.id)).toBeUndefined();
    expect(existsSync(store.blobs.path(waiting))).toBe(true);
  });

  it('keeps imagesDays when it is the shorter one', async () => {
    const { store, clock } = await setup({ deliveredDays: 30, personalHours: 240, imagesDays: 2 });
    const ref = await store.blobs.write(Buffer.from('CT slice of LE^VAN^TAM'));
    await store.journalFor('ct1', ['pacs']).append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop-1', blob: ref, personal: true });
    await store.outbox.markDone(outboxId(store, 'pacs', 'sop-1'));
    clock.advance(2 * DAY + HOUR);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
  });
});

describe('maximum age of personal data in pending and parked entries', () => {
  const policy: RetentionPolicy = { deliveredDays: 60, personalHours: 72, imagesDays: 7, personalMaxDays: 30, personalAlarmPercent: 80 };

  it('alarms at 80 % of personalMaxDays, scrubs a parked entry at the limit (reason kept, no requeue), keeps a pending one and alarms critical', async () => {
    const { store, clock } = await setup(policy);
    const bus = new EventBus();
    const alarms = new DeviceAlarms(bus);
    const storeAlarms = new StoreAlarms(bus, pino({ level: 'silent' }), { personalMaxDays: 30, personalAlarmPercent: 80 });
    const check = async () => {
      const outcome = await store.applyRetention();
      storeAlarms.personalDataAge(store.personalDataAge(), clock.now());
      return outcome;
    };
    const lab = store.journalFor('xn1', ['lis']);
    const image = await store.blobs.write(Buffer.from('DICM PatientName NGUYEN^VAN^AN'));
    const parked = await lab.append({
      stream: 'lab.result',
      kind: 'r',
      idempotencyKey: 'refused',
      raw: Buffer.from('PID|||001099012345||Nguyễn Văn An'),
      parsed: { patientName: 'Nguyễn Văn An' },
      personal: true,
    });
    const parkedImage = await store
      .journalFor('ct1', ['pacs'])
      .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop-x', blob: image, personal: true });
    const pending = await store
      .journalFor('kiosk', ['his'])
      .append({ stream: 'his.checkin', kind: 'checkin', idempotencyKey: 'c1', parsed: { fullName: 'Trần Thị Bích' }, personal: true });
    await store.outbox.park(outboxId(store, 'lis', 'refused'), 'lis', 'AR: unknown test code GLU2');
    await store.outbox.park(outboxId(store, 'pacs', 'sop-x'), 'pacs', 'SOP class not supported');

    clock.advance(23 * DAY);
    await check();
    expect(store.personalDataAge()).toEqual([]);
    expect(alarms.for('xn1')).toEqual([]);

    clock.advance(2 * DAY); // 25 days: past 80 % of 30
    await check();
    expect(store.personalDataAge()).toEqual([
      expect.objectContaining({ source: 'ct1', state: 'parked', entries: 1, level: 'warn' }),
      expect.objectContaining({ source: 'kiosk', state: 'pending', entries: 1, level: 'warn' }),
      expect.objectContaining({ source: 'xn1', state: 'parked', entries: 1, level: 'warn', ageDays: 25 }),
    ]);
    expect(alarms.for('xn1')).toEqual([
      expect.objectContaining({ name: 'personal-data-age', level: 'warn', parked: 1, pending: 0, oldestDays: 25, alarmDays: 24, maxDays: 30 }),
    ]);
    expect(alarms.for('kiosk')).toEqual([expect.objectContaining({ name: 'personal-data-age', level: 'warn', pending: 1 })]);
    // Nothing scrubbed before the limit.
    expect(store.journalStore.get(parked.id)!.raw?.toString()).toContain('Nguyễn Văn An');
    expect(existsSync(store.blobs.path(image))).toBe(true);

    clock.advance(5 * DAY + HOUR); // past 30 days
    expect(await check()).toMatchObject({ parkedScrubbed: 2, blobsRemoved: 1, personalScrubbed: 0, journalPurged: 0 });
    expect(store.journalStore.get(parked.id)).toMatchObject({ raw: null, parsed: null, blob: null, scrubbed: true });
    expect(store.journalStore.get(parkedImage.id)).toMatchObject({ blob: null, scrubbed: true });
    expect(existsSync(store.blobs.path(image))).toBe(false);
    // The evidence stays: still parked, with the destination's reason; it cannot be requeued empty.
    const deadLetter = store.outbox.list({ destination: 'lis', state: 'parked' })[0]!;
    expect(deadLetter.deadLetterReason).toBe('AR: unknown test code GLU2');
    expect(await store.outbox.requeue(deadLetter.outboxId)).toBe(false);
    expect(store.outbox.status(['lis'])[0]).toMatchObject({ parked: 1, pending: 0 });
    // The pending check-in is kept whole (nothing a device sent is lost) and the alarm turns critical.
    expect(store.journalStore.get(pending.id)!.parsed).toEqual({ fullName: 'Trần Thị Bích' });
    expect(store.personalDataAge()).toEqual([expect.objectContaining({ source: 'kiosk', state: 'pending', level: 'critical' })]);
    expect(alarms.for('kiosk')).toEqual([expect.objectContaining({ name: 'personal-data-age', level: 'critical', pending: 1 })]);
    // Scrubbed parked entries no longer count: their alarms clear.
    expect(alarms.for('xn1')).toEqual([]);
    expect(alarms.for('ct1')).toEqual([]);

    await store.outbox.markDone(outboxId(store, 'his', 'c1'));
    await check();
    expect(alarms.for('kiosk')).toEqual([]);
  });

  it('counts an entry pending at one destination and parked at another as pending, and never scrubs it', async () => {
    const { store, clock } = await setup(policy);
    const e = await store
      .journalFor('hl7a', ['lis', 'province'])
      .append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'k', raw: Buffer.from('PID||LE^VAN^TAM'), personal: true });
    await store.outbox.park(outboxId(store, 'lis', 'k'), 'lis', 'AR');
    clock.advance(31 * DAY);
    expect(await store.applyRetention()).toMatchObject({ parkedScrubbed: 0 });
    expect(store.journalStore.get(e.id)!.raw?.toString()).toContain('LE^VAN^TAM');
    expect(store.personalDataAge()).toEqual([expect.objectContaining({ source: 'hl7a', state: 'pending', level: 'critical', entries: 1 })]);
  });
});

describe('purged personal data is gone from the database bytes', () => {
  const NAME = 'Hoàng Thị Xuyến';
  const contains = (file: string, text: string) => existsSync(file) && readFileSync(file).includes(Buffer.from(text, 'utf8'));

  it('secure_delete and a WAL checkpoint: not in journal.db, not in journal.db-wal, not in the captures', async () => {
    const { store, clock, dir } = await setup({ deliveredDays: 30, personalHours: 1, personalMaxDays: 30 });
    expect(store.db.pragma('secure_delete', { simple: true })).toBe(1);
    // Longer than a page: the raw message spills into overflow pages (what secure_delete=FAST would leave).
    const raw = Buffer.from(`MSH|^~\\&|XN|LAB\rPID|1||001099012345||${NAME}||19500203|F\r${'OBX|1|NM|WBC||7.1\r'.repeat(400)}`);
    const e = await store
      .journalFor('xn1', ['lis'])
      .append({ stream: 'lab.result', kind: 'ORU', idempotencyKey: 'm1', raw, parsed: { patientName: NAME }, personal: true });
    const cap = store.captureFor('xn1').open('tcp 127.0.0.2:40000');
    cap.inbound(raw);
    cap.close();
    store.committer.flush();
    await store.outbox.markDone(outboxId(store, 'lis', 'm1'));
    const db = join(dir, 'journal.db');
    const wal = `${db}-wal`;
    // The test can fail: the name is in the files now.
    expect(contains(db, NAME) || contains(wal, NAME)).toBe(true);

    clock.advance(2 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ personalScrubbed: 1, capturesPurged: 1 });
    expect(store.journalStore.get(e.id)).toMatchObject({ raw: null, scrubbed: true });
    expect(contains(db, NAME)).toBe(false);
    expect(contains(wal, NAME)).toBe(false);
    expect(contains(db, '001099012345')).toBe(false);
  });

  it('zeroes, once, the free pages a database had before secure_delete was on', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'journal.db');
    // An older agent: rows deleted without secure_delete leave their bytes in free pages.
    const old = new Database(file);
    old.pragma('secure_delete = OFF');
    old.exec('CREATE TABLE leftover (t TEXT)');
    const insert = old.prepare('INSERT INTO leftover VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run(`PID|${i}||${NAME}||${'x'.repeat(3000)}`);
    old.exec('DROP TABLE leftover');
    old.pragma('wal_checkpoint(TRUNCATE)');
    old.close();
    expect(contains(file, NAME)).toBe(true);

    const clock = new ManualClock();
    const store = await openStore({ dir, clock, retention: { deliveredDays: 30, personalHours: 72 } });
    cleanups.unshift(() => store.close());
    const first = await store.applyRetention();
    expect(first.freePagesZeroed).toBeGreaterThan(100);
    expect(contains(file, NAME)).toBe(false);
    expect(contains(`${file}-wal`, NAME)).toBe(false);
    expect((await store.applyRetention()).freePagesZeroed).toBe(0);
  });
});

describe('raw capture quota', () => {
  it('stops captures at the quota under a flood (one alarm per device), clinical appends go on, and resumes after retention', async () => {
    const stops: Array<[string, string | null]> = [];
    const { store, clock } = await setup(
      { deliveredDays: 30, personalHours: 1 },
      { captureBytes: 64 * 1024, onCaptureStop: (device, stopped) => stops.push([device, stopped]) },
    );
    const flood = store.captureFor('astm1').open('tcp 127.0.0.2:5000');
    const other = store.captureFor('hl7a').open('tcp 127.0.0.3:5000');
    const journal = store.journalFor('astm1', ['lis']);
    const chunk = Buffer.alloc(4096, 0x41);
    const appends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 100; i++) {
      flood.inbound(chunk);
      if (i % 10 === 0) appends.push(journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `r${i}`, raw: Buffer.from(`result ${i}`) }));
    }
    other.inbound(chunk);
    await Promise.all(appends);
    store.committer.flush();
    const usage = store.captures.usage();
    expect(usage.stopped).toBe('quota');
    expect(usage.usedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(usage.droppedBytes).toBeGreaterThan(0);
    const held = store.captures.list().reduce((n, c) => n + c.bytesIn, 0);
    expect(held).toBeLessThanOrEqual(64 * 1024);
    expect(stops).toEqual([
      ['astm1', 'quota'],
      ['hl7a', 'quota'],
    ]);
    expect(store.journalStore.count()).toBe(10);

    clock.advance(2 * HOUR);
    await store.applyRetention();
    expect(store.captures.usage()).toMatchObject({ stopped: null, usedBytes: 0 });
    expect(stops.slice(2)).toEqual([
      ['astm1', null],
      ['hl7a', null],
    ]);
    flood.inbound(Buffer.from('after'));
    store.committer.flush();
    expect(store.captures.usage().usedBytes).toBe(5);
  });

  it('stops captures when the disk budget is critical, before any clinical data is refused', async () => {
    const { store } = await setup(undefined, { budgetBytes: 1, captureBytes: 1024 * 1024 });
    store.budget.read();
    expect(store.budget.current.level).toBe('full');
    const s = store.captureFor('astm1').open('tcp 127.0.0.2:5000');
    s.inbound(Buffer.from('ENQ'));
    store.committer.flush();
    expect(store.captures.usage()).toMatchObject({ stopped: 'disk', usedBytes: 0 });
    await expect(
      store.journalFor('astm1', ['lis']).append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'k', raw: Buffer.from('r') }),
    ).resolves.toMatchObject({ duplicate: false });
  });
});
