import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache, type LabOrder } from '../../../modules/lab/orderCache.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { findElement, stringElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { MODALITY_WORKLIST_FIND } from '../../../modules/dicom/data/sopClasses.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { parseHisOrder } from '../../../modules/his/orderIntake.ts';
import { labOrderFromHis } from '../../../modules/lab/ordersRoutes.ts';
import { generateStudy, startModality } from '../../sim/modality.ts';
import { requireTool, runTool } from './dcmtkPeers.ts';

const { dir, cleanup } = tempDir('edge-dicom-mwl-');
let store: Store;
let driver: DicomScpDriver;

const ORDERS: LabOrder[] = [
  {
    specimenId: 'S1',
    patientId: 'BN0001',
    patientName: 'Nguyễn Thị Hương',
    patientBirthDate: '1980-01-01',
    patientSex: 'F',
    tests: ['US001'],
    orderedAt: '2026-11-22T01:30:00Z',
    orderId: 'ORD1',
    accessionNumber: 'ACC1',
    items: [{ code: 'US001', name: 'Siêu âm ổ bụng tổng quát', modality: 'US' }],
  },
  {
    specimenId: 'S2',
    patientId: 'BN0002',
    patientName: 'Trần Văn Đức',
    patientBirthDate: '1975-05-05',
    patientSex: 'M',
    tests: ['CT01'],
    orderedAt: '2026-11-23T03:00:00Z',
    orderId: 'ORD2',
    accessionNumber: 'ACC2',
    items: [{ code: 'CT01', name: 'CT sọ não không tiêm thuốc', modality: 'CT' }],
  },
];

beforeAll(async () => {
  requireTool('findscu', 'dcmtk');
  store = await openStore({ dir: join(dir, 'store') });
  const ctx = makeDriverContext(store, { id: 'us1', routes: [] });
  const cache = new SqliteOrderCache(store.db);
  for (const o of ORDERS) cache.upsert(o);
  ctx.services.provide(ORDER_CACHE_SERVICE, cache);
  driver = dicomScpDriverFactory.create(ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    worklistCodingScheme: 'BV-DVKT',
    allowedCallers: [{ aeTitle: 'US01' }, { aeTitle: 'CT01' }, { aeTitle: 'CT_KHOA_A' }, { aeTitle: 'CT_KHOA_B' }],
  }) as DicomScpDriver;
  await driver.start();
});
afterAll(async () => {
  await driver?.stop();
  store?.close();
  cleanup();
});

describe('Modality Worklist C-FIND from the order cache', () => {
  it('answers findscu -W with one pending answer per matching step, Vietnamese text in UTF-8', async () => {
    const out = join(dir, 'rsp');
    mkdirSync(out);
    const r = await runTool('findscu', [
      '-W',
      '-X',
      '-od',
      out,
      '-aet',
      'US01',
      '-aec',
      'EDGE',
      '-k',
      '0008,0005=ISO_IR 192',
      '-k',
      '0010,0010',
      '-k',
      '0010,0020',
      '-k',
      '0008,0050',
      '-k',
      '0040,0100[0].0008,0060=US',
      '-k',
      '0040,0100[0].0040,0007',
      '127.0.0.1',
      String(driver.port),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const dump = await runTool('dcmdump', ['+U8', join(out, files[0]!)]);
    expect(dump.stdout).toContain('BN0001');
    expect(dump.stdout).toContain('ACC1');
    expect(dump.stdout).toContain('Siêu âm ổ bụng tổng quát');
  });

  it('answers the modality simulator with every scheduled step when no key restricts it', async () => {
    const modality = await startModality({ port: driver.port, callingAe: 'CT01' });
    const r = await modality.queryWorklist();
    expect(r.status).toBe(0);
    expect(r.answers.length).toBe(2);
    expect(r.answers.map((a) => findElement(a, 0x00080050)!.value.toString('latin1').trim()).sort()).toEqual(['ACC1', 'ACC2']);
    // And the simulator's C-STORE path works end to end.
    const sent = await modality.sendGenerated(generateStudy({ instances: 3, pixelBytes: 8192 }));
    expect(sent).toMatchObject({ sent: 3, failed: [] });
  });

  it('honours C-CANCEL: answers stop and the final status is FE00', async () => {
    const cache = new SqliteOrderCache(store.db);
    for (let i = 0; i < 300; i++)
      cache.upsert({
        specimenId: `C${i}`,
        patientId: `BN9${i}`,
        patientName: 'Lê Văn Bình',
        tests: ['US001'],
        orderedAt: '2026-11-22T02:00:00Z',
        accessionNumber: `ACCX${i}`,
        items: [{ code: 'US001', name: 'Siêu âm', modality: 'US' }],
      });
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port: driver.port,
      callingAe: 'US01',
      calledAe: 'EDGE',
      contexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
    });
    let answers = 0;
    const status = await assoc.find(MODALITY_WORKLIST_FIND, writeDataset([stringElement(0x00080050, 'SH', '')], EXPLICIT_LE), () => {
      if (++answers === 1) assoc.cancelFind(MODALITY_WORKLIST_FIND);
    });
    await assoc.release();
    expect(status).toBe(0xfe00);
    expect(answers).toBeGreaterThanOrEqual(1);
    expect(answers).toBeLessThan(300);
  });

  it('an order pushed with its scheduled station reaches findscu at that station only, on its scheduled day, with its procedure code', async () => {
    const pushed = parseHisOrder({
      orderId: 'ORD5',
      accessionNumber: 'ACC5',
      patient: { hisPatientId: 'BN0005', fullName: 'Lê Thị Mai' },
      referringPhysician: 'Phạm Minh Quang',
      items: [{ code: 'CT02', name: 'CT ngực', modality: 'CT' }],
      scheduled: { at: '2026-12-05T09:10:00+07:00', stationAeTitle: 'CT_KHOA_A', stationName: 'CT phòng 2', location: 'P.012' },
    });
    new SqliteOrderCache(store.db).upsert(labOrderFromHis(pushed));
    const ask = async (station: string): Promise<string[]> => {
      const out = join(dir, `rsp-${station}`);
      mkdirSync(out);
      const r = await runTool('findscu', [
        '-W',
        '-X',
        '-od',
        out,
        '-aet',
        station,
        '-aec',
        'EDGE',
        '-k',
        '0008,0005=ISO_IR 192',
        '-k',
        '0010,0010',
        '-k',
        '0008,0050',
        '-k',
        '0008,0090',
        '-k',
        `0040,0100[0].0040,0001=${station}`,
        '-k',
        '0040,0100[0].0040,0002=20261205',
        '-k',
        '0040,0100[0].0040,0003',
        '-k',
        '0040,0100[0].0040,0010',
        '-k',
        '0040,0100[0].0040,0011',
        '-k',
        '0032,1064[0].0008,0100',
        '-k',
        '0032,1064[0].0008,0102',
        '-k',
        '0032,1064[0].0008,0104',
        '127.0.0.1',
        String(driver.port),
      ]);
      expect(r.code, r.stderr).toBe(0);
      return Promise.all(readdirSync(out).map(async (f) => (await runTool('dcmdump', ['+U8', join(out, f)])).stdout));
    };
    const [dump, ...more] = await ask('CT_KHOA_A');
    expect(more).toEqual([]);
    expect(dump).toContain('ACC5');
    expect(dump).toMatch(/\(0040,0003\) TM \[091000\]/);
    expect(dump).toContain('CT phòng 2');
    expect(dump).toContain('P.012');
    expect(dump).toContain('Phạm^Minh Quang');
    expect(dump).toMatch(/\(0008,0100\) SH \[CT02\]/); // the HIS's procedure code, for the modality's protocol
    expect(dump).toContain('CT ngực');
    expect(dump).toMatch(/\(0008,0102\) SH \[BV-DVKT\]/); // the device's worklistCodingScheme
    expect(await ask('CT_KHOA_B')).toEqual([]);
  });
});
