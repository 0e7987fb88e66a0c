import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent } from '../../../core/controller.ts';
import { comp, field, header, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { startMllpLis, type MllpLis } from '../../sim/mllpLis.ts';
import { TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

const { dir, cleanup } = tempDir('edge-results-');
let sink: HttpSink;
let lis: MllpLis;
let agent: Agent;
let base: string;
let analyzerPort: number;
let cookie: string;

const oru = (id: string, specimen: string, value: string) =>
  `MSH|^~\\&|BC-5380|Mindray|||20261122081500||ORU^R01|${id}|P|2.3.1||||||UNICODE\rPID|1||P-77||Trần^Thị Bích\rOBR|1||${specimen}\rOBX|1|NM|6690-2^WBC^LN||${value}|10*9/L|4.0-10.0|N|||F|||20261122081000\r`;

beforeAll(async () => {
  sink = await startHttpSink();
  lis = await startMllpLis();
  analyzerPort = await freePort();
  const file = await writeAgentConfig(dir, {
    sinkUrl: sink.url,
    extra: `  bc5380:
    driver: hl7-mllp
    profile: mindray-bc
    host: 127.0.0.1
    port: ${analyzerPort}
    routes: [lis]`,
    extraDestinations: `  lis:
    type: hl7-mllp-lis
    host: 127.0.0.1
    port: ${lis.port}
    ackTimeoutSeconds: 2
    backoff: { initialSeconds: 0.05, maxSeconds: 0.2 }`,
  });
  agent = new Agent({ modules: MODULES, configFile: file, log: pino({ level: 'silent' }) });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }),
  });
  cookie = res.headers.get('set-cookie')!.split(';')[0]!;
});

afterAll(async () => {
  await agent?.stop('test done');
  await lis?.stop();
  await sink?.stop();
  cleanup();
});

const get = (path: string) => fetch(`${base}${path}`, { headers: { cookie } });

describe('GET /api/results', () => {
  it("lists each result with its forwarding state per destination: forwarded, then parked with the LIS's reason", async () => {
    const dev = await TestMllpClient.open(analyzerPort);
    expect(msa(await dev.send(oru('R-1', 'SID-OK', '6.1'))).code).toBe('AA');
    await waitFor(() => lis.controlIds.size === 1, 'the LIS to get the first result');
    lis.mode = 'AE';
    expect(msa(await dev.send(oru('R-2', 'SID-BAD', '7.3'))).code).toBe('AA');
    dev.close();

    type Listed = {
      results: Array<{
        state: string;
        device: string;
        result: { specimenId: string; valueNumber: number; patientName: string };
        destinations: Array<{ destination: string; state: string; reason: string | null }>;
      }>;
    };
    let body: Listed = { results: [] };
    await waitFor(async () => {
      body = (await (await get('/api/results?device=bc5380')).json()) as Listed;
      return body.results.some((r) => r.state === 'parked');
    }, 'the refused result to be parked');
    expect(body.results.map((r) => [r.result.specimenId, r.state])).toEqual([
      ['SID-BAD', 'parked'],
      ['SID-OK', 'forwarded'],
    ]);
    expect(body.results[1]!.result).toMatchObject({ valueNumber: 6.1, patientName: 'Trần Thị Bích' });
    expect(body.results[0]!.destinations).toEqual([expect.objectContaining({ destination: 'lis', state: 'parked', reason: expect.stringMatching(/AE/) })]);

    const parked = (await (await get('/api/results?state=parked')).json()) as Listed;
    expect(parked.results.map((r) => r.result.specimenId)).toEqual(['SID-BAD']);
    const bySpecimen = (await (await get('/api/results?specimen=SID-OK')).json()) as Listed;
    expect(bySpecimen.results).toHaveLength(1);
  });

  it('refuses without a login and says which query field is wrong', async () => {
    expect((await fetch(`${base}/api/results`)).status).toBe(401);
    const bad = await get('/api/results?state=lost');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/state/);
  });
});

describe('POST /api/orders', () => {
  const post = (body: unknown, withLogin = true) =>
    fetch(`${base}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(withLogin ? { cookie, origin: base } : {}) },
      body: JSON.stringify(body),
    });

  it("puts HIS orders into the order cache, where the analyzer's host query finds them", async () => {
    const firstBatch = {
      orders: [
        {
          orderId: 'HIS-1',
          accessionNumber: 'SID-900',
          patient: { hisPatientId: 'BN-1', fullName: 'Lê Văn Đức', dateOfBirth: '1950-02-03', sex: 'male' },
          items: [{ code: 'WBC' }, { code: 'HGB' }],
          priority: 'urgent',
        },
      ],
    };
    const res = await post(firstBatch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1 });

    const dev = await TestMllpClient.open(analyzerPort);
    dev.write(
      `MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|Q-9|P|2.3.1||||||UNICODE\rQRD|20261122100000|R|D|1|||RD|SID-900|OTH|||T\rQRF|BC-5380|||||RCT|COR|ALL||\r`,
    );
    const qck = parseHl7(await dev.next());
    const dsr = parseHl7(await dev.next());
    dev.close();
    expect(field(segment(qck, 'QAK'), 2)).toBe('OK');
    expect(header(dsr).messageType).toBe('DSR');
    const dsp = dsr.segments.filter((s) => s.id === 'DSP');
    expect(comp(dsr, dsp[2], 3)).toBe('Lê Văn Đức');
    expect(dsp.slice(28).map((s) => comp(dsr, s, 3))).toEqual(['WBC', 'HGB']);

    // A cancel of one item withdraws it; the journal keeps both batches for audit.
    expect((await post([{ orderId: 'HIS-1', accessionNumber: 'SID-900', action: 'cancel', items: [{ code: 'HGB' }] }])).status).toBe(200);
    const journal = (await (await get('/api/journal?stream=lab.order')).json()) as { entries: unknown[] };
    expect(journal.entries).toHaveLength(2);

    // The first batch sent again late (a HIS retrying after a lost answer): accepted, but it does
    // not undo the newer cancel.
    expect((await post(firstBatch)).status).toBe(200);
    const again = await TestMllpClient.open(analyzerPort);
    again.write(
      `MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|Q-11|P|2.3.1||||||UNICODE\rQRD|20261122100000|R|D|1|||RD|SID-900|OTH|||T\rQRF|BC-5380|||||RCT|COR|ALL||\r`,
    );
    await again.next();
    const dsr2 = parseHl7(await again.next());
    again.close();
    expect(
      dsr2.segments
        .filter((s) => s.id === 'DSP')
        .slice(28)
        .map((s) => comp(dsr2, s, 3)),
    ).toEqual(['WBC']);
  });

  it('refuses a batch with one bad order, naming it, and applies none of it', async () => {
    const res = await post([
      { orderId: 'HIS-2', accessionNumber: 'SID-901', items: [{ code: 'WBC' }] },
      { orderId: 'HIS-3', items: [] },
    ]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('orders[1].items is empty');
    const dev = await TestMllpClient.open(analyzerPort);
    dev.write(
      `MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|Q-10|P|2.3.1||||||UNICODE\rQRD|20261122100000|R|D|1|||RD|SID-901|OTH|||T\rQRF|BC-5380|||||RCT|COR|ALL||\r`,
    );
    expect(field(segment(parseHl7(await dev.next()), 'QAK'), 2)).toBe('NF');
    dev.close();
    expect((await post([{ orderId: 'X', items: [{ code: 'A' }] }], false)).status).toBe(401);
  });
});

describe('GET /api/orders', () => {
  it('lists what the cache holds, newest first, by the start of a specimen, accession or patient id; login required', async () => {
    const post = (body: unknown) =>
      fetch(`${base}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: base }, body: JSON.stringify(body) });
    expect(
      (
        await post({
          orderId: 'HIS-20',
          accessionNumber: 'CT-20',
          patient: { hisPatientId: 'BN-20', fullName: 'Đỗ Thị Hạnh' },
          items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
          scheduled: { stationAeTitle: 'CT_KHOA_A' },
        })
      ).status,
    ).toBe(200);
    expect((await post({ orderId: 'HIS-21', accessionNumber: 'CT_21', patient: { hisPatientId: 'BN-21' }, items: [{ code: 'CT01' }] })).status).toBe(200);
    const all = (await (await get('/api/orders')).json()) as {
      total: number;
      orders: Array<{ order: { specimenId: string; patientName?: string; scheduled?: { stationAeTitle?: string } }; updatedAt: string }>;
    };
    expect(all.total).toBeGreaterThanOrEqual(3);
    expect(all.orders[0]!.order.specimenId).toBe('CT_21');
    const byPatient = (await (await get('/api/orders?q=BN-20')).json()) as typeof all;
    expect(byPatient.orders.map((o) => [o.order.specimenId, o.order.patientName, o.order.scheduled?.stationAeTitle])).toEqual([
      ['CT-20', 'Đỗ Thị Hạnh', 'CT_KHOA_A'],
    ]);
    // "_" and "%" are the characters typed, not LIKE wildcards.
    expect(((await (await get('/api/orders?q=CT_')).json()) as typeof all).orders.map((o) => o.order.specimenId)).toEqual(['CT_21']);
    expect((await get('/api/orders?limit=0')).status).toBe(400);
    expect((await fetch(`${base}/api/orders`)).status).toBe(401);
  });
});
