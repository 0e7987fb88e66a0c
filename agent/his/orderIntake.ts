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
  return order;
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
