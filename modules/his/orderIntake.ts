import { AE_TITLE, type OrderCancel, type ScheduledStep } from '../lab/index.ts';
import type { HisOrder, HisOrderListener, HisOrderReceiver } from './contract.ts';

export class HisOrderError extends Error {
  readonly code = 'HIS_ORDER_INVALID';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined;
}

/** Validates one pushed order (our JSON shape) or throws HisOrderError naming the field. */
export function parseHisOrder(raw: unknown, index = 0): HisOrder {
  if (!raw || typeof raw !== 'object') throw new HisOrderError(`orders[${index}] is not an object`);
  const o = raw as Record<string, unknown>;
  const orderId = str(o.orderId);
  if (!orderId) throw new HisOrderError(`orders[${index}].orderId is missing`);
  const action = o.action === undefined ? 'new' : o.action;
  if (action !== 'new' && action !== 'cancel') throw new HisOrderError(`orders[${index}].action must be new or cancel`);
  const p = (o.patient && typeof o.patient === 'object' ? o.patient : {}) as Record<string, unknown>;
  const items = Array.isArray(o.items) ? o.items : [];
  if (action === 'new' && items.length === 0) throw new HisOrderError(`orders[${index}].items is empty`);
  const order: HisOrder = {
    orderId,
    action,
    patient: {},
    items: items.map((it, j) => {
      const code = str((it as Record<string, unknown> | null)?.code);
      if (!code) throw new HisOrderError(`orders[${index}].items[${j}].code is missing`);
      const item: HisOrder['items'][number] = { code };
      const name = str((it as Record<string, unknown>).name);
      const modality = str((it as Record<string, unknown>).modality);
      if (name) item.name = name;
      if (modality) item.modality = modality;
      return item;
    }),
  };
  for (const k of ['cccd', 'hisPatientId', 'fullName', 'dateOfBirth'] as const) {
    const v = str(p[k]);
    if (v) order.patient[k] = v;
  }
  if (p.sex === 'male' || p.sex === 'female' || p.sex === 'unknown') order.patient.sex = p.sex;
  if (order.patient.cccd && !/^\d{12}$/.test(order.patient.cccd)) throw new HisOrderError(`orders[${index}].patient.cccd must be 12 digits`);
  for (const k of ['accessionNumber', 'serviceCode', 'orderedAt'] as const) {
    const v = str(o[k]);
    if (v) order[k] = v;
  }
  if (o.priority === 'urgent' || o.priority === 'routine') order.priority = o.priority;
  if (o.scheduled !== undefined) order.scheduled = parseScheduled(o.scheduled, `orders[${index}].scheduled`);
  const referrer = str(o.referringPhysician);
  if (referrer) order.referringPhysician = referrer;
  return order;
}

function parseScheduled(raw: unknown, at: string): ScheduledStep {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new HisOrderError(`${at} must be an object`);
  const s = raw as Record<string, unknown>;
  const step: ScheduledStep = {};
  const when = str(s.at);
  if (when !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(when) || Number.isNaN(Date.parse(when)))
      throw new HisOrderError(`${at}.at must be an ISO 8601 date and time (e.g. 2026-12-03T09:30:00+07:00), got "${when}"`);
    step.at = when;
  }
  const station = str(s.stationAeTitle);
  if (station !== undefined) {
    if (!AE_TITLE.test(station))
      throw new HisOrderError(`${at}.stationAeTitle must be a DICOM AE title (1–16 ASCII characters, no backslash), got "${station}"`);
    step.stationAeTitle = station;
  }
  // SH values: 16 characters at most, as the modality will show them.
  for (const k of ['stationName', 'location'] as const) {
    const v = str(s[k]);
    if (v === undefined) continue;
    if ([...v].length > 16 || /[\\\x00-\x1f]/.test(v))
      throw new HisOrderError(`${at}.${k} must be at most 16 characters without backslash (DICOM SH), got "${v}"`);
    step[k] = v;
  }
  return step;
}

/**
 * A HIS cancel as the order cache's one cancel rule takes it (`OrderCache.cancelOrder`, the same
 * as an HL7 ORC-1 CA): the order kept under its accession number (else its order number), else the
 * one with its order number; the listed items, all of them when none are listed.
 */
export function hisCancelOf(o: HisOrder): OrderCancel {
  return {
    specimenId: o.accessionNumber ?? o.orderId,
    orderId: o.orderId,
    ...(o.accessionNumber ? { accessionNumber: o.accessionNumber } : {}),
    tests: o.items.map((i) => i.code),
  };
}

/**
 * Orders pushed by the HIS (an HTTP route on the agent hands each body to `accept`). Every
 * listener gets the validated batch; a batch with one invalid order is refused whole, so the
 * HIS can resend it corrected without half of it applied.
 */
export class HisOrderIntake implements HisOrderReceiver {
  private readonly listeners = new Set<HisOrderListener>();

  receiveOrders(listener: HisOrderListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async accept(body: unknown): Promise<HisOrder[]> {
    const list = Array.isArray(body) ? body : Array.isArray((body as { orders?: unknown })?.orders) ? (body as { orders: unknown[] }).orders : [body];
    const orders = list.map((o, i) => parseHisOrder(o, i));
    for (const l of this.listeners) await l(orders);
    return orders;
  }
}
