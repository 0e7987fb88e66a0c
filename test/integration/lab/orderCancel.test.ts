// One order-cancel rule, whichever way the cancel comes: an HL7 ORM^O01 with ORC-1 CA from the
// LIS (a real MLLP client) or a HIS push over POST /api/orders with "action": "cancel". The same
// orders are placed twice, each pair is cancelled once each way, and what an analyzer's host query,
// a modality's worklist and the console's Orders list then see must be the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findElement } from '../../../modules/dicom/data/codec.ts';
import { comp, field, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { startTestAgent, type TestAgent } from '../../helpers/testAgent.ts';
import { startModality } from '../../sim/modality.ts';

let box: TestAgent;
let cookie: string;
let ordersPort: number;
let analyzerPort: number;
let scpPort: number;

beforeAll(async () => {
  [ordersPort, analyzerPort, scpPort] = [await freePort(), await freePort(), await freePort()];
  box = await startTestAgent(
    'cancel-box',
    `devices:
  lis-orders: { driver: hl7-mllp, mode: orders, host: 127.0.0.1, port: ${ordersPort} }
  bc5380: { driver: hl7-mllp, profile: mindray-bc, host: 127.0.0.1, port: ${analyzerPort} }
  us1: { driver: dicom-scp, host: 127.0.0.1, port: ${scpPort}, aeTitle: EDGE, allowedCallers: [{ aeTitle: US01, addresses: [127.0.0.1] }] }
`,
  );
  cookie = await box.login();
});
afterAll(async () => {
  await box?.close();
});

const pushOrders = async (body: unknown): Promise<number> =>
  (
    await fetch(`${box.url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: box.url },
      body: JSON.stringify(body),
    })
  ).status;

/** The HIS places an order with two items, a lab test and an ultrasound, under its accession number. */
const place = (orderId: string, accession: string, orderedAt?: string) =>
  pushOrders({
    orderId,
    accessionNumber: accession,
    ...(orderedAt ? { orderedAt } : {}),
    patient: { hisPatientId: `BN-${accession}`, fullName: 'Hoàng Thị Thu' },
    items: [
      { code: 'US01', name: 'Siêu âm bụng', modality: 'US' },
      { code: 'US02', name: 'Siêu âm tim', modality: 'US' },
    ],
  });

let controlId = 0;
/** The LIS's cancel: ORM^O01, one ORC|CA / OBR pair per test; the accession number in OBR-3 unless `placerOnly`. */
async function cancelOverHl7(orderId: string, accession: string, tests: string[], placerOnly = false): Promise<string> {
  const lis = await TestMllpClient.open(ordersPort);
  try {
    const text =
      [
        `MSH|^~\\&|LIS|BV|EDGE||20261203090000||ORM^O01|CA-${++controlId}|P|2.3.1||||||UNICODE`,
        `PID|1||BN-${accession}`,
        ...tests.flatMap((t, i) => [`ORC|CA|${orderId}|${placerOnly ? '' : accession}`, `OBR|${i + 1}|${orderId}|${placerOnly ? '' : accession}|${t}`]),
      ].join('\r') + '\r';
    return msa(await lis.send(text)).code;
  } finally {
    lis.close();
  }
}

/** The HIS's cancel of the same tests (none listed: the whole order). */
const cancelOverHis = (orderId: string, accession: string | undefined, tests: string[]) =>
  pushOrders({ orderId, action: 'cancel', ...(accession ? { accessionNumber: accession } : {}), items: tests.map((code) => ({ code })) });

/** What the analyzer's host query (QRY^Q02) answers for a specimen: its tests, or NF. */
async function hostQuery(specimen: string): Promise<string[] | 'NF'> {
  const dev = await TestMllpClient.open(analyzerPort);
  try {
    const qck = parseHl7(
      await dev.send(
        `MSH|^~\\&|BC-5380|Mindray|||20261203100000||QRY^Q02|Q-${++controlId}|P|2.3.1||||||UNICODE\rQRD|20261203100000|R|D|1|||RD|${specimen}|OTH|||T\rQRF|BC-5380|||||RCT|COR|ALL||\r`,
      ),
    );
    if (field(segment(qck, 'QAK'), 2) !== 'OK') return 'NF';
    const dsr = parseHl7(await dev.next());
    return dsr.segments
      .filter((s) => s.id === 'DSP')
      .slice(28)
      .map((s) => comp(dsr, s, 3));
  } finally {
    dev.close();
  }
}

/** The worklist steps (Scheduled Procedure Step Description) a modality sees for an accession number. */
async function worklist(accession: string): Promise<string[]> {
  const modality = await startModality({ port: scpPort, callingAe: 'US01' });
  try {
    const { status, answers } = await modality.queryWorklist();
    expect(status).toBe(0);
    const text = (el: { value: Buffer } | undefined) => el?.value.toString('utf8').replace(/[\0 ]+$/, '') ?? '';
    return answers
      .filter((a) => text(findElement(a, 0x00080050)) === accession)
      .map((a) => text(findElement(findElement(a, 0x00400100)!.items![0]!, 0x00400007)))
      .sort();
  } finally {
    await modality.stop();
  }
}

interface Listed {
  order: { specimenId: string; tests: string[]; items?: Array<{ code: string }>; cancelled?: { items: Array<{ code: string }>; unknownOrder?: true } };
}
/** What the console's Orders tab lists for a specimen: live tests and cancelled items. */
async function consoleRow(specimen: string): Promise<{ tests: string[]; cancelled: string[]; unknownOrder: boolean } | undefined> {
  const r = (await (await fetch(`${box.url}/api/orders?q=${encodeURIComponent(specimen)}`, { headers: { cookie } })).json()) as { orders: Listed[] };
  const o = r.orders.find((x) => x.order.specimenId === specimen)?.order;
  return o && { tests: o.tests, cancelled: (o.cancelled?.items ?? []).map((i) => i.code), unknownOrder: o.cancelled?.unknownOrder === true };
}

const outcome = async (accession: string) => ({
  hostQuery: await hostQuery(accession),
  worklist: await worklist(accession),
  console: await consoleRow(accession),
});

describe('an order cancel has one outcome, by HL7 from the LIS or by the HIS push', () => {
  it('one item cancelled: withdrawn from host queries and the worklist, listed as cancelled in the console', async () => {
    expect(await place('HIS-A1', 'ACC-A1')).toBe(200);
    expect(await place('HIS-A2', 'ACC-A2')).toBe(200);
    expect(await cancelOverHl7('HIS-A1', 'ACC-A1', ['US02'])).toBe('AA');
    expect(await cancelOverHis('HIS-A2', 'ACC-A2', ['US02'])).toBe(200);
    const expected = { hostQuery: ['US01'], worklist: ['Siêu âm bụng'], console: { tests: ['US01'], cancelled: ['US02'], unknownOrder: false } };
    expect(await outcome('ACC-A1')).toEqual(expected);
    expect(await outcome('ACC-A2')).toEqual(expected);
  });

  it('every item cancelled: the order is no longer offered to host queries nor the worklist, and stays listed as cancelled', async () => {
    expect(await place('HIS-B1', 'ACC-B1')).toBe(200);
    expect(await place('HIS-B2', 'ACC-B2')).toBe(200);
    expect(await outcome('ACC-B1')).toMatchObject({ hostQuery: ['US01', 'US02'], worklist: ['Siêu âm bụng', 'Siêu âm tim'] });
    expect(await cancelOverHl7('HIS-B1', 'ACC-B1', ['US01', 'US02'])).toBe('AA');
    expect(await cancelOverHis('HIS-B2', 'ACC-B2', [])).toBe(200);
    const expected = { hostQuery: 'NF', worklist: [], console: { tests: [], cancelled: ['US01', 'US02'], unknownOrder: false } };
    expect(await outcome('ACC-B1')).toEqual(expected);
    expect(await outcome('ACC-B2')).toEqual(expected);
  });

  it('a cancel naming only the placer order number finds the order kept under its accession number', async () => {
    expect(await place('HIS-C1', 'ACC-C1')).toBe(200);
    expect(await place('HIS-C2', 'ACC-C2')).toBe(200);
    expect(await cancelOverHl7('HIS-C1', 'ACC-C1', ['US01', 'US02'], true)).toBe('AA');
    expect(await cancelOverHis('HIS-C2', undefined, [])).toBe(200);
    const expected = { hostQuery: 'NF', worklist: [], console: { tests: [], cancelled: ['US01', 'US02'], unknownOrder: false } };
    expect(await outcome('ACC-C1')).toEqual(expected);
    expect(await outcome('ACC-C2')).toEqual(expected);
  });

  it('a cancel for an order the box never had is acknowledged and recorded, not offered', async () => {
    expect(await cancelOverHl7('HIS-D1', 'ACC-D1', ['US01'])).toBe('AA');
    expect(await cancelOverHis('HIS-D2', 'ACC-D2', ['US01'])).toBe(200);
    const expected = { hostQuery: 'NF', worklist: [], console: { tests: [], cancelled: ['US01'], unknownOrder: true } };
    expect(await outcome('ACC-D1')).toEqual(expected);
    expect(await outcome('ACC-D2')).toEqual(expected);
  });

  it('a re-order after the cancel revives the order', async () => {
    // A re-order is a new batch (the very same batch again is a late resend, and changes nothing).
    expect(await place('HIS-B1', 'ACC-B1', '2026-12-03T10:00:00+07:00')).toBe(200);
    expect(await place('HIS-B2', 'ACC-B2', '2026-12-03T10:00:00+07:00')).toBe(200);
    const expected = {
      hostQuery: ['US01', 'US02'],
      worklist: ['Siêu âm bụng', 'Siêu âm tim'],
      console: { tests: ['US01', 'US02'], cancelled: [], unknownOrder: false },
    };
    expect(await outcome('ACC-B1')).toEqual(expected);
    expect(await outcome('ACC-B2')).toEqual(expected);
  });
});
