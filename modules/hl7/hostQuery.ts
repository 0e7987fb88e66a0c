import type { LabOrder } from '../lab/index.ts';
import { hl7Time, replyMsh, type ReplyOptions } from './ack.ts';
import { comp, escapeHl7, field, segment, type Hl7Header, type Hl7Message } from './message.ts';

/** An analyzer's host query: which specimen it holds, and how to echo the query back. */
export interface Hl7HostQuery {
  style: 'QRY^Q02' | 'QBP^Q11';
  specimenId: string;
  /** QRD / QRF (Q02) or QPD (Q11) exactly as received, echoed in the answer. */
  echo: string[];
  /** QBP: QPD-1 (query name) and QPD-2 (query tag) for QAK. */
  queryName?: string;
  queryTag?: string;
}

export class Hl7QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7QueryError';
  }
}

/**
 * QRY^Q02 carries the sample barcode in QRD-8 (who subject filter), the Mindray BS/BC layout;
 * QBP^Q11 carries it in QPD-3.
 */
export function parseHostQuery(msg: Hl7Message, hdr: Hl7Header): Hl7HostQuery {
  const raw = (s: { fields: string[] } | undefined) => (s ? s.fields.join(msg.delimiters.field) : '');
  if (hdr.messageType === 'QRY') {
    const qrd = segment(msg, 'QRD');
    if (!qrd) throw new Hl7QueryError('QRY^Q02 without a QRD segment');
    const specimenId = comp(msg, qrd, 8).trim();
    if (!specimenId) throw new Hl7QueryError('QRD-8 (sample barcode) is empty');
    const qrf = segment(msg, 'QRF');
    return { style: 'QRY^Q02', specimenId, echo: [raw(qrd), ...(qrf ? [raw(qrf)] : [])] };
  }
  if (hdr.messageType === 'QBP') {
    const qpd = segment(msg, 'QPD');
    if (!qpd) throw new Hl7QueryError('QBP^Q11 without a QPD segment');
    const specimenId = comp(msg, qpd, 3).trim();
    if (!specimenId) throw new Hl7QueryError('QPD-3 (specimen id) is empty');
    return { style: 'QBP^Q11', specimenId, echo: [raw(qpd)], queryName: field(qpd, 1), queryTag: field(qpd, 2) };
  }
  throw new Hl7QueryError(`${hdr.messageType}^${hdr.triggerEvent} is not a host query`);
}

export interface QueryAnswerOptions extends Omit<ReplyOptions, 'controlId'> {
  /** Two control ids: QRY^Q02 gets two messages (QCK^Q02, then DSR^Q03). */
  nextControlId: () => string;
  /** LIS test code → the device's own code (the profile's table, reversed). */
  testCodesToDevice?: Record<string, string>;
}

/**
 * The answer to a host query, from the local order cache (so it comes inside the device's
 * timeout even with the LIS down). QRY^Q02 → QCK^Q02 (QAK OK/NF), then, when the order is
 * known, DSR^Q03 with DSP lines in Mindray's numbering (1 patient id, 3 name, 4 birth date,
 * 5 sex, 21 barcode, 23 order time, 24 STAT, 29… one test each). QBP^Q11 → RSP^K11 with
 * QAK, the QPD echoed, PID, SPM and one ORC/OBR per test.
 */
export function buildQueryAnswer(incoming: Hl7Header, query: Hl7HostQuery, order: LabOrder | undefined, opts: QueryAnswerOptions): string[] {
  const d = opts.delimiters!;
  const f = d.field;
  const e = (v: string | undefined) => escapeHl7(v ?? '', d);
  const code = (t: string) => opts.testCodesToDevice?.[t] ?? t;
  const found = order !== undefined && order.tests.length > 0;
  const ordered = order?.orderedAt ? hl7Time(Date.parse(order.orderedAt), opts.timeZone) : '';
  const reply = (type: string, segments: string[]) => [replyMsh(incoming, type, { ...opts, controlId: opts.nextControlId() }), ...segments].join('\r') + '\r';

  if (query.style === 'QRY^Q02') {
    const head = [['MSA', 'AA', incoming.controlId, 'Message accepted', '', '', '0'].join(f), ['ERR', '0'].join(f), ['QAK', 'SR', found ? 'OK' : 'NF'].join(f)];
    const qck = reply(`QCK${d.component}Q02`, head);
    if (!found) return [qck];
    const dsp: string[] = [];
    const line = (n: number, value: string) => dsp.push(['DSP', String(n), '', value, '', ''].join(f));
    const values: Record<number, string> = {
      1: e(order.patientId),
      3: e(order.patientName),
      4: e(order.patientBirthDate),
      5: e(order.patientSex),
      21: e(order.specimenId),
      23: ordered,
      24: order.priority === 'S' ? 'Y' : 'N',
    };
    for (let n = 1; n <= 28; n++) line(n, values[n] ?? '');
    order.tests.forEach((t, i) => line(29 + i, `${e(code(t))}${d.component}${d.component}${d.component}`));
    const dsr = reply(`DSR${d.component}Q03`, [...head, ...query.echo, ...dsp, ['DSC', ''].join(f)]);
    return [qck, dsr];
  }

  const segments = [
    ['MSA', 'AA', incoming.controlId].join(f),
    ['QAK', query.queryTag ?? '', found ? 'OK' : 'NF', query.queryName ?? '', found ? '1' : '0'].join(f),
    ...query.echo,
  ];
  if (found) {
    const [family, ...given] = (order.patientName ?? '').trim().split(/\s+/);
    segments.push(
      [
        'PID',
        '1',
        '',
        e(order.patientId),
        '',
        [e(family), e(given.join(' '))].join(d.component).replace(new RegExp(`\\${d.component}$`), ''),
        '',
        e(order.patientBirthDate),
        e(order.patientSex),
      ].join(f),
    );
    segments.push(['SPM', '1', e(order.specimenId)].join(f));
    order.tests.forEach((t, i) => {
      segments.push(['ORC', 'NW', e(order.specimenId), '', '', '', '', '', '', ordered].join(f));
      segments.push(['OBR', String(i + 1), e(order.specimenId), '', `${e(code(t))}${d.component}${d.component}${d.component}`, order.priority ?? 'R'].join(f));
    });
  }
  return [reply(`RSP${d.component}K11${d.component}RSP_K11`, segments)];
}
