import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import { MllpDecoder, mllpFrame } from '../../../modules/hl7/mllp.ts';
import { comp, field, header, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { decodeText, encodeText } from '../../../modules/lab/encoding.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import type { ServiceRegistry } from '../../../core/contract/driver.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('edge-hl7-query-');
let store: Store;
let services: ServiceRegistry;
let orders: Hl7Driver;
let analyzer: Hl7Driver;
let cache: SqliteOrderCache;

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  const registry = new Map<string, unknown>();
  services = { get: <T>(n: string) => registry.get(n) as T | undefined, provide: (n, s) => void registry.set(n, s) };
  cache = new SqliteOrderCache(store.db);
  services.provide(ORDER_CACHE_SERVICE, cache);
  orders = hl7DriverFactory.create(makeDriverContext(store, { id: 'lis-orders', services }), { host: '127.0.0.1', port: 0, mode: 'orders' }) as Hl7Driver;
  analyzer = hl7DriverFactory.create(makeDriverContext(store, { id: 'bc5380', services, routes: ['lis'] }), {
    host: '127.0.0.1',
    port: 0,
    profile: 'mindray-bc',
  }) as Hl7Driver;
  await orders.start();
  await analyzer.start();
});
afterAll(async () => {
  await orders?.stop();
  await analyzer?.stop();
  store?.close();
  cleanup();
});

const count = (stream: string) => (store.db.prepare('SELECT count(*) AS n FROM journal WHERE stream = ?').get(stream) as { n: number }).n;

const ORM = (id: string, control = 'NW') =>
  [
    `MSH|^~\\&|LIS|BV|EDGE||20261122091500||ORM^O01|${id}|P|2.3.1||||||UNICODE`,
    'PID|1||BN-42||Nguyễn^Thị Ánh||19800101|F',
    `ORC|${control}|P1|SID-001||||^^^^^S||20261122091000`,
    'OBR|1|P1|SID-001|WBC^WBC',
    `ORC|${control}|P2|SID-001`,
    'OBR|2|P2|SID-001|HGB^HGB',
  ].join('\r') + '\r';
const QRY = (id: string, sid: string) =>
  [
    `MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|${id}|P|2.3.1||||||UNICODE`,
    `QRD|20261122100000|R|D|1|||RD|${sid}|OTH|||T`,
    'QRF|BC-5380|||||RCT|COR|ALL||',
  ].join('\r') + '\r';

describe('orders from the LIS into the cache, host queries answered from it', () => {
  it('stores ORM^O01 before AA, in the order cache and the journal; a resend gets the same ACK', async () => {
    const lis = await TestMllpClient.open(orders.port);
    const ack = await lis.send(ORM('ORD-1'));
    expect(msa(ack)).toMatchObject({ code: 'AA', controlId: 'ORD-1' });
    expect(cache.findBySpecimen('SID-001')).toMatchObject({ patientName: 'Nguyễn Thị Ánh', tests: ['WBC', 'HGB'], priority: 'S' });
    expect(count('lab.order')).toBe(1);
    expect(await lis.send(ORM('ORD-1'))).toBe(ack);
    expect(count('lab.order')).toBe(1);
    lis.close();
  });

  it('a late resend of an older order does not undo a newer one (applied only when the message is new)', async () => {
    const orm = (id: string, control: string, tests: string[]) =>
      [
        `MSH|^~\\&|LIS|BV|EDGE||20261122091500||ORM^O01|${id}|P|2.3.1||||||UNICODE`,
        'PID|1||BN-77||Trần^Văn Bình||19700101|M',
        ...tests.flatMap((t, i) => [`ORC|${control}|Q${i}|SID-077`, `OBR|${i + 1}|Q${i}|SID-077|${t}^${t}`]),
      ].join('\r') + '\r';
    const lis = await TestMllpClient.open(orders.port);
    const first = await lis.send(orm('ORD-77A', 'NW', ['WBC', 'HGB']));
    expect(msa(first).code).toBe('AA');
    expect(msa(await lis.send(orm('ORD-77B', 'CA', ['HGB']))).code).toBe('AA');
    expect(cache.findBySpecimen('SID-077')!.tests).toEqual(['WBC']);
    // The first message again (a sender that lost our ACK long ago): its stored ACK, no change.
    expect(await lis.send(orm('ORD-77A', 'NW', ['WBC', 'HGB']))).toBe(first);
    expect(cache.findBySpecimen('SID-077')!.tests).toEqual(['WBC']);
    lis.close();
  });

  it('refuses results on the orders listener and orders on the analyzer listener, with AR and a reason', async () => {
    const lis = await TestMllpClient.open(orders.port);
    const r1 = await lis.send('MSH|^~\\&|XN|LAB|||20261122||ORU^R01|X-1|P|2.5\rOBR|1||S1\rOBX|1|NM|GLU||5.1|mmol/L|||||F\r');
    expect(msa(r1).code).toBe('AR');
    const p1 = parseHl7(r1);
    expect(comp(p1, segment(p1, 'MSA'), 3)).toBe('ORU^R01: this orders listener accepts ORM^O01, OML^O21 and OMI^O23 only');
    lis.close();
    const dev = await TestMllpClient.open(analyzer.port);
    const r2 = await dev.send(ORM('ORD-X'));
    expect(msa(r2).code).toBe('AR');
    expect(r2).toMatch(/\rERR\|/);
    dev.close();
    expect(cache.findBySpecimen('SID-001')!.tests).toEqual(['WBC', 'HGB']);
  });

  it("answers QRY^Q02 with QCK^Q02 then DSR^Q03 with the LIS gone, and does not answer the device's ACK^Q03", async () => {
    await orders.stop(); // the LIS side is down: the answer comes from the local cache
    const dev = await TestMllpClient.open(analyzer.port);
    dev.write(QRY('Q-1', 'SID-001'));
    const qck = parseHl7(await dev.next());
    const dsr = parseHl7(await dev.next());
    expect(header(qck)).toMatchObject({ messageType: 'QCK', triggerEvent: 'Q02', receivingApplication: 'BC-5380', charset: 'UNICODE' });
    expect(field(segment(qck, 'QAK'), 2)).toBe('OK');
    expect(header(dsr)).toMatchObject({ messageType: 'DSR', triggerEvent: 'Q03' });
    const dsp = dsr.segments.filter((s) => s.id === 'DSP');
    expect(comp(dsr, dsp[2], 3)).toBe('Nguyễn Thị Ánh');
    expect(dsp.slice(28).map((s) => comp(dsr, s, 3))).toEqual(['WBC', 'HGB']);
    // The analyzer confirms the DSR; then asks for an unknown sample: the next reply is that answer.
    dev.write(`MSH|^~\\&|BC-5380|Mindray|||20261122100001||ACK^Q03|A-1|P|2.3.1\rMSA|AA|${header(dsr).controlId}\r`);
    const nf = parseHl7(await dev.send(QRY('Q-2', 'NOPE')));
    expect(header(nf).messageType).toBe('QCK');
    expect(field(segment(nf, 'MSA'), 2)).toBe('Q-2');
    expect(field(segment(nf, 'QAK'), 2)).toBe('NF');
    dev.close();
    expect(count('lab.message')).toBe(0);
  });

  it('answers QBP^Q11 with RSP^K11', async () => {
    const dev = await TestMllpClient.open(analyzer.port);
    const rsp = parseHl7(
      await dev.send('MSH|^~\\&|CL-900i|Mindray|||20261122100000||QBP^Q11^QBP_Q11|Q-3|P|2.5.1\rQPD|WOS^Work Order Step^IHE_LABTF|T1|SID-001\r'),
    );
    expect(header(rsp)).toMatchObject({ messageType: 'RSP', triggerEvent: 'K11' });
    expect(field(segment(rsp, 'QAK'), 2)).toBe('OK');
    expect(rsp.segments.filter((s) => s.id === 'OBR').map((s) => comp(rsp, s, 4))).toEqual(['WBC', 'HGB']);
    dev.close();
  });
});

/** Raw MLLP exchange: bytes out, the first framed reply's bytes back. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(mllpFrame(bytes)));
    const d = new MllpDecoder();
    s.on('data', (b: Buffer) => {
      const [m] = d.push(b).messages;
      if (m) {
        s.destroy();
        resolve(m);
      }
    });
    s.on('error', reject);
  });
}

describe('per-device dialect', () => {
  it('a Windows-1258 analyzer (no MSH-18) gets its host-query answer in Windows-1258', async () => {
    const drv = hl7DriverFactory.create(makeDriverContext(store, { id: 'w1258', services }), {
      host: '127.0.0.1',
      port: 0,
      encoding: 'windows-1258',
    }) as Hl7Driver;
    await drv.start();
    cache.upsert({ specimenId: 'SID-W', patientName: 'Trần Văn Bình', tests: ['GLU'] });
    const reply = await exchange(drv.port, encodeText('MSH|^~\\&|URIT|LAB|||20261122||QBP^Q11|W-1|P|2.5\rQPD|Q11|T|SID-W\r', 'windows-1258'));
    // Read as UTF-8 it would be broken; read as Windows-1258 it is the name.
    expect(reply.toString('utf8')).not.toContain('Trần');
    expect(decodeText(reply, 'windows-1258')).toContain('PID|1||||Trần^Văn Bình');
    await drv.stop();
  });

  it('MLLP release 2 devices get the commit byte 06 once stored, 15 when storage fails', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('edge-hl7-r2-');
    const s2 = await openStore({ dir: d2 });
    const drv = hl7DriverFactory.create(makeDriverContext(s2, { id: 'r2' }), { host: '127.0.0.1', port: 0, mllpRelease2: true }) as Hl7Driver;
    await drv.start();
    const oru = (id: string) => Buffer.from(`MSH|^~\\&|XN|LAB|||20261122||ORU^R01|${id}|P|2.5\rOBR|1||S1\rOBX|1|NM|GLU||5.1|mmol/L|||||F\r`);
    expect([...(await exchange(drv.port, oru('R2-1')))]).toEqual([0x06]);
    expect((s2.db.prepare("SELECT count(*) AS n FROM journal WHERE stream = 'lab.result'").get() as { n: number }).n).toBe(1);
    s2.close();
    expect([...(await exchange(drv.port, oru('R2-2')))]).toEqual([0x15]);
    await drv.stop();
    c2();
  });

  it('enhanced-mode senders get CE with "storage failed" when the store refuses', async () => {
    const { dir: d3, cleanup: c3 } = tempDir('edge-hl7-ce-');
    const s3 = await openStore({ dir: d3 });
    const drv = hl7DriverFactory.create(makeDriverContext(s3, { id: 'ce' }), { host: '127.0.0.1', port: 0 }) as Hl7Driver;
    await drv.start();
    s3.close();
    const ack = (
      await exchange(drv.port, Buffer.from('MSH|^~\\&|XN|LAB|||20261122||ORU^R01|CE-1|P|2.5|||AL|NE\rOBR|1||S1\rOBX|1|NM|GLU||5.1|mmol/L|||||F\r'))
    ).toString('utf8');
    expect(msa(ack)).toMatchObject({ code: 'CE', controlId: 'CE-1' });
    expect(ack).toContain('storage failed');
    await drv.stop();
    c3();
  });
});
