import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { hl7Fixture, MINDRAY, MINDRAY_QC, withControlId } from '../../helpers/hl7Fixtures.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('edge-hl7-');
let store: Store;
let driver: Hl7Driver;
let port: number;

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  const ctx = makeDriverContext(store, { id: 'bc5380', routes: ['lis'] });
  driver = hl7DriverFactory.create(ctx, { host: '127.0.0.1', port: 0, profile: 'mindray-bc' }) as Hl7Driver;
  await driver.start();
  port = driver.port;
});
afterAll(async () => {
  await driver?.stop();
  store?.close();
  cleanup();
});

const count = (stream: string) => (store.db.prepare('SELECT count(*) AS n FROM journal WHERE stream = ?').get(stream) as { n: number }).n;

describe('HL7 MLLP listener over a real store', () => {
  it("accepts Debian python3-hl7's mllp_send (an independent sender) and stores before each AA", async () => {
    if (spawnSync('which', ['mllp_send']).status !== 0) throw new Error('mllp_send is missing: apt-get install python3-hl7');
    const file = join(dir, 'two.hl7');
    writeFileSync(file, `${hl7Fixture(MINDRAY).replace(/\r/g, '\r\n')}${withControlId(hl7Fixture(MINDRAY_QC), 'QC-1').replace(/\r/g, '\r\n')}`);
    const before = count('lab.message');
    // Asynchronous: the listener runs in this process and must keep answering.
    const r = await promisify(execFile)('mllp_send', ['--loose', '--file', file, '--port', String(port), '127.0.0.1'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toContain('MSA|AA|1');
    expect(r.stdout).toContain('MSA|AA|QC-1');
    expect(count('lab.message')).toBe(before + 2);
    const results = store.journalStore.list({ source: 'bc5380', stream: 'lab.result', limit: 1000 });
    const wbc = results.find((e) => (e.parsed as { deviceTestCode: string; qc: boolean }).deviceTestCode === '6690-2' && !(e.parsed as { qc: boolean }).qc);
    expect(wbc?.parsed).toMatchObject({ valueNumber: 9.81, specimenId: '20071207011', messageKey: 'hl7:bc5380:1' });
    expect(store.outbox.list({ journalId: wbc!.id })).toMatchObject([{ destination: 'lis', state: 'pending' }]);
    // QC results are journaled but not forwarded unless the device says so.
    const qcIds = results.filter((e) => (e.parsed as { qc: boolean }).qc).map((e) => e.id);
    expect(qcIds.length).toBeGreaterThan(0);
    expect(qcIds.every((id) => store.outbox.list({ journalId: id }).length === 0)).toBe(true);
  });

  it('N messages on one kept-open connection give exactly N entries and N ACKs, in order (node-hl7-server re-delivered)', async () => {
    const client = await TestMllpClient.open(port);
    const before = count('lab.message');
    for (let i = 0; i < 20; i++) client.write(withControlId(hl7Fixture(MINDRAY), `KEEP-${i}`));
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(msa(await client.next()));
    expect(acks.map((a) => a.controlId)).toEqual(Array.from({ length: 20 }, (_, i) => `KEEP-${i}`));
    expect(acks.every((a) => a.code === 'AA')).toBe(true);
    expect(count('lab.message')).toBe(before + 20);
    client.close();
  });

  it('1,000 back-to-back messages are all acknowledged (node-hl7-client spun the CPU here)', async () => {
    const client = await TestMllpClient.open(port);
    const cpu = process.cpuUsage();
    for (let i = 0; i < 1000; i++)
      client.write(`MSH|^~\\&|XN|LAB|||20261122080000||ORU^R01|B2B-${i}|P|2.5\rOBR|1||S${i}\rOBX|1|NM|GLU^Glucose||${5 + (i % 10) / 10}|mmol/L|||||F\r`);
    const acks = [];
    for (let i = 0; i < 1000; i++) acks.push(msa(await client.next(30_000)));
    expect(new Set(acks.map((a) => a.controlId)).size).toBe(1000);
    expect(acks.every((a) => a.code === 'AA')).toBe(true);
    const used = process.cpuUsage(cpu);
    // Not a timing assertion on the machine: a sanity bound on work per message (a spin would burn seconds).
    expect((used.user + used.system) / 1000 / 1000).toBeLessThan(20);
    client.close();
  });

  it('answers a repeated MSH-10 with the stored ACK and stores nothing twice', async () => {
    const client = await TestMllpClient.open(port);
    const msg = withControlId(hl7Fixture(MINDRAY), 'DUP-1');
    const first = await client.send(msg);
    const n = count('lab.message');
    const r = count('lab.result');
    const second = await client.send(msg);
    expect(second).toBe(first);
    expect(count('lab.message')).toBe(n);
    expect(count('lab.result')).toBe(r);
    client.close();
  });

  it('rejects a malformed message with AR and a reason, harming nothing stored', async () => {
    const client = await TestMllpClient.open(port);
    const before = store.journalStore.count();
    const ack = await client.send('MSH|^~\\&|XN|LAB|||20261122||ORU^R01|BAD-1|P|2.5\rthis is not a segment\r');
    expect(msa(ack)).toMatchObject({ code: 'AR', controlId: 'BAD-1' });
    expect(ack).toContain('not a segment id');
    expect(ack).toMatch(/\rERR\|/);
    const noId = await client.send('MSH|^~\\&|XN|LAB|||20261122||ORU^R01||P|2.5\r');
    expect(msa(noId).code).toBe('AR');
    expect(store.journalStore.count()).toBe(before);
    client.close();
  });

  it('refuses with AR what an analyzer does not send (an ADT^A04, a mangled type), storing nothing', async () => {
    const client = await TestMllpClient.open(port);
    const before = store.journalStore.count();
    for (const [id, type] of [
      ['ADT-1', 'ADT^A04'],
      ['MANGLED-1', 'P^'],
    ]) {
      const ack = await client.send(`MSH|^~\\&|XN|LAB|||20261122||${type}|${id}|P|2.5\rPID|1||BN-1||Nguyễn^Văn An\r`);
      expect(msa(ack)).toMatchObject({ code: 'AR', controlId: id });
      expect(ack).toContain('an analyzer listener accepts results');
    }
    expect(store.journalStore.count()).toBe(before);
    client.close();
  });

  it('answers enhanced-mode senders with commit ACKs (CA)', async () => {
    const client = await TestMllpClient.open(port);
    const ack = await client.send('MSH|^~\\&|XN|LAB|||20261122||ORU^R01|ENH-1|P|2.5|||AL|NE\rOBR|1||S1\rOBX|1|NM|GLU||5.1|mmol/L|||||F\r');
    expect(msa(ack)).toMatchObject({ code: 'CA', controlId: 'ENH-1' });
    client.close();
  });
});

describe('storage failure', () => {
  it('answers AE with "storage failed" so the device resends', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('edge-hl7-fail-');
    const s2 = await openStore({ dir: d2 });
    const ctx = makeDriverContext(s2, { id: 'xn', routes: [] });
    const drv = hl7DriverFactory.create(ctx, { host: '127.0.0.1', port: 0 }) as Hl7Driver;
    await drv.start();
    s2.close(); // every append now fails
    const client = await TestMllpClient.open(drv.port);
    const ack = await client.send('MSH|^~\\&|XN|LAB|||20261122||ORU^R01|FAIL-1|P|2.5\rOBR|1||S1\rOBX|1|NM|GLU||5.1|mmol/L|||||F\r');
    expect(msa(ack).code).toBe('AE');
    expect(ack).toContain('storage failed');
    client.close();
    await drv.stop();
    c2();
  });
});
