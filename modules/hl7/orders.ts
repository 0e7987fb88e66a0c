import { AE_TITLE, type LabOrder, type OrderCache, type OrderCancel, type ScheduledStep } from '../lab/index.ts';
import { deviceTimeToIso } from '../lab/index.ts';
import { comp, field, type Hl7Message, type Hl7Segment } from './message.ts';

export class Hl7OrderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7OrderError';
  }
}

/**
 * What one ORM^O01 / OML^O21 / OMI^O23 says: orders to add or replace, and tests cancelled per
 * specimen and placer order number (ORC-2, else OBR-2).
 */
export interface Hl7OrderBatch {
  orders: LabOrder[];
  cancels: OrderCancel[];
}

/** ORC-1 order control codes that withdraw a test (HL7 table 0119). */
const CANCEL_CONTROLS = new Set(['CA', 'OC', 'DC', 'OD']);

/**
 * Orders from the LIS/HIS (ORM^O01 v2.3, OML^O21 v2.5). Specimen id: SPM-2 in OML, else
 * OBR-3 (filler number, the barcode the analyzer reads back in its results), else OBR-2
 * (placer number), else ORC-3/ORC-2. Test: OBR-4.1. Priority: OBR-5 or ORC-7.6 (TQ) 'S' = stat.
 * Several ORC/OBR pairs for one specimen become one order with several tests.
 * Imaging (for the Modality Worklist): item name OBR-4.2, modality OBR-24, scheduled time OBR-36
 * or TQ1-7, station AE / name / location IPC-9 / IPC-7 / IPC-8 (OMI^O23), referring doctor PV1-8.
 */
export function ordersFromHl7(msg: Hl7Message, timeZone: string): Hl7OrderBatch {
  const byId = new Map<string, LabOrder>();
  const cancels = new Map<string, OrderCancel>();
  let pid: Hl7Segment | undefined;
  let pv1: Hl7Segment | undefined;
  let orc: Hl7Segment | undefined;
  let spm: Hl7Segment | undefined;
  let tq1: Hl7Segment | undefined;
  let obrCount = 0;
  const segs = msg.segments;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.id === 'PID') pid = seg;
    else if (seg.id === 'PV1') pv1 = seg;
    else if (seg.id === 'ORC') {
      orc = seg;
      spm = undefined;
      tq1 = undefined;
    } else if (seg.id === 'SPM') spm = seg;
    else if (seg.id === 'TQ1')
      tq1 = seg; // the ORC's timing, before its OBR
    else if (seg.id === 'OBR') {
      obrCount++;
      // OML^O21 puts SPM after OBR in the observation-request group: look ahead to the next ORC/OBR.
      let groupSpm = spm;
      let ipc: Hl7Segment | undefined;
      for (let j = i + 1; j < segs.length && segs[j]!.id !== 'ORC' && segs[j]!.id !== 'OBR'; j++) {
        const id = segs[j]!.id;
        if (id === 'SPM') groupSpm ??= segs[j];
        else if (id === 'IPC') ipc ??= segs[j];
      }
      const specimenId = (comp(msg, groupSpm, 2) || comp(msg, seg, 3) || comp(msg, seg, 2) || comp(msg, orc, 3) || comp(msg, orc, 2)).trim();
      const test = comp(msg, seg, 4, 1).trim();
      if (!specimenId) throw new Hl7OrderError(`OBR ${obrCount}: no specimen id (SPM-2, OBR-3, OBR-2 and ORC-2/3 are empty)`);
      if (!test) throw new Hl7OrderError(`OBR ${obrCount}: OBR-4 (test) is empty`);
      if (CANCEL_CONTROLS.has(field(orc, 1))) {
        const placer = (comp(msg, orc, 2) || comp(msg, seg, 2)).trim();
        const key = `${specimenId}\u0000${placer}`;
        const cancel = cancels.get(key) ?? { specimenId, ...(placer ? { orderId: placer } : {}), tests: [] };
        if (!cancel.tests.includes(test)) cancel.tests.push(test);
        cancels.set(key, cancel);
        continue;
      }
      let order = byId.get(specimenId);
      if (!order) {
        order = { specimenId, tests: [] };
        const patientId = comp(msg, pid, 3);
        if (patientId) order.patientId = patientId;
        const name = [comp(msg, pid, 5, 1), comp(msg, pid, 5, 2), comp(msg, pid, 5, 3)].filter(Boolean).join(' ');
        if (name) order.patientName = name;
        const birth = comp(msg, pid, 7);
        if (birth) order.patientBirthDate = birth;
        const sex = comp(msg, pid, 8);
        if (sex) order.patientSex = sex;
        const when = comp(msg, orc, 9) || comp(msg, seg, 6) || comp(msg, seg, 7);
        const iso = when ? deviceTimeToIso(when, timeZone) : undefined;
        if (iso) order.orderedAt = iso;
        const referrer = xcnName(msg, pv1, 8);
        if (referrer) order.referringPhysician = referrer;
        const scheduled = scheduledStep(msg, seg, tq1, ipc, timeZone);
        if (scheduled) order.scheduled = scheduled;
        byId.set(specimenId, order);
      }
      if (!order.tests.includes(test)) {
        order.tests.push(test);
        const name = comp(msg, seg, 4, 2).trim();
        const modality = dicomModality(comp(msg, seg, 24));
        (order.items ??= []).push({ code: test, ...(name ? { name } : {}), ...(modality ? { modality } : {}) });
      }
      if (field(seg, 5) === 'S' || comp(msg, orc, 7, 6) === 'S') order.priority = 'S';
    }
  }
  if (obrCount === 0) throw new Hl7OrderError('no OBR segment: nothing is ordered');
  for (const o of byId.values()) o.priority ??= 'R';
  return { orders: [...byId.values()], cancels: [...cancels.values()] };
}

/** An XCN's family^given^middle (components 2–4, after the ID) as a DICOM person name. */
function xcnName(msg: Hl7Message, seg: Hl7Segment | undefined, n: number): string | undefined {
  const parts = [2, 3, 4].map((c) => comp(msg, seg, n, c).trim());
  while (parts.length && !parts[parts.length - 1]) parts.pop();
  return parts.length ? parts.join('^') : undefined;
}

/** HL7 table 0074 diagnostic service sections that name a DICOM modality. */
const DICOM_MODALITIES = new Set(['CR', 'CT', 'DX', 'MR', 'US', 'XA', 'RF', 'MG', 'NM', 'PT', 'OT', 'ES', 'IO', 'PX', 'RG', 'BMD']);

function dicomModality(section: string): string | undefined {
  const s = section.trim().toUpperCase();
  if (s === 'NMR') return 'MR';
  return DICOM_MODALITIES.has(s) ? s : undefined;
}

function scheduledStep(
  msg: Hl7Message,
  obr: Hl7Segment,
  tq1: Hl7Segment | undefined,
  ipc: Hl7Segment | undefined,
  timeZone: string,
): ScheduledStep | undefined {
  const step: ScheduledStep = {};
  const when = comp(msg, obr, 36) || comp(msg, tq1, 7);
  const at = when ? deviceTimeToIso(when, timeZone) : undefined;
  if (at) step.at = at;
  const station = comp(msg, ipc, 9).trim();
  if (station && !AE_TITLE.test(station))
    throw new Hl7OrderError(`IPC-9 (scheduled station AE title) must be 1–16 ASCII characters without backslash, got "${station}"`);
  if (station) step.stationAeTitle = station;
  const name = comp(msg, ipc, 7).trim();
  if (name) step.stationName = name.slice(0, 16);
  const location = comp(msg, ipc, 8).trim();
  if (location) step.location = location.slice(0, 16);
  return Object.keys(step).length ? step : undefined;
}

/**
 * Applies a batch: a new order replaces what the cache knew of that specimen (the LIS's latest
 * word); a cancel goes through the cache's one cancel rule (`OrderCache.cancelOrder`, the same as
 * the HIS push). Idempotent, so a resent message does no harm.
 */
export function applyOrders(cache: OrderCache, batch: Hl7OrderBatch): void {
  for (const o of batch.orders) cache.upsert(o);
  for (const c of batch.cancels) cache.cancelOrder(c);
}
