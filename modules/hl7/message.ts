/** HL7 v2 message: segments, fields, repetitions, components, escapes — read from MSH-1/MSH-2. */

export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export interface Hl7Segment {
  id: string;
  /** fields[n] is field n as on the wire (MSH: fields[1] is the field separator, like the standard counts). */
  fields: string[];
}

export interface Hl7Message {
  delimiters: Hl7Delimiters;
  segments: Hl7Segment[];
}

export class Hl7ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7ParseError';
  }
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

/** Parses message text (segments separated by CR; LF and CRLF tolerated). */
export function parseHl7(text: string): Hl7Message {
  const start = text.indexOf('MSH');
  if (start < 0) throw new Hl7ParseError('no MSH segment');
  if (text.slice(0, start).trim() !== '') throw new Hl7ParseError('text before the MSH segment');
  const body = text.slice(start);
  if (body.length < 8) throw new Hl7ParseError('MSH segment too short to hold the delimiters');
  const field = body[3]!;
  const enc = body.slice(4, 8);
  const encEnd = enc.indexOf(field);
  const encChars = encEnd >= 0 ? enc.slice(0, encEnd) : enc;
  if (encChars.length < 2) throw new Hl7ParseError('MSH-2 must hold at least the component and repetition characters');
  const delimiters: Hl7Delimiters = {
    field,
    component: encChars[0]!,
    repetition: encChars[1]!,
    escape: encChars[2] ?? '\\',
    subcomponent: encChars[3] ?? '&',
  };
  if (new Set(Object.values(delimiters)).size !== 5 || /[A-Za-z0-9\r\n]/.test(Object.values(delimiters).join(''))) {
    throw new Hl7ParseError('MSH-1/MSH-2 delimiters are not five distinct punctuation characters');
  }
  const segments: Hl7Segment[] = [];
  for (const line of body.split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    const parts = line.split(field);
    const id = parts[0]!;
    if (!/^[A-Z][A-Z0-9]{2}$/.test(id)) throw new Hl7ParseError(`segment "${id.slice(0, 10)}" is not a segment id (three capitals/digits)`);
    // MSH-1 is the field separator itself: shift so fields[n] is MSH-n.
    const fields = id === 'MSH' ? ['MSH', field, ...parts.slice(1)] : parts;
    segments.push({ id, fields });
  }
  return { delimiters, segments };
}

export function segment(msg: Hl7Message, id: string, index = 0): Hl7Segment | undefined {
  return msg.segments.filter((s) => s.id === id)[index];
}

/** Raw field n of a segment ('' when absent). */
export function field(seg: Hl7Segment | undefined, n: number): string {
  return seg?.fields[n] ?? '';
}

/** Component c (1-based) of the first repetition of field n, unescaped. */
export function comp(msg: Hl7Message, seg: Hl7Segment | undefined, n: number, c = 1): string {
  const first = field(seg, n).split(msg.delimiters.repetition)[0] ?? '';
  return unescapeHl7(first.split(msg.delimiters.component)[c - 1] ?? '', msg.delimiters);
}

/** HL7 escapes: \F\ \S\ \T\ \R\ \E\ \Xhh..\ ; formatting escapes (\H\ \N\ .br…) dropped. */
export function unescapeHl7(value: string, d: Hl7Delimiters): string {
  if (!value.includes(d.escape)) return value;
  const e = d.escape;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch !== e) {
      out += ch;
      continue;
    }
    const end = value.indexOf(e, i + 1);
    if (end < 0) {
      out += value.slice(i);
      break;
    }
    const code = value.slice(i + 1, end);
    i = end;
    switch (code[0]) {
      case 'F':
        out += d.field;
        break;
      case 'S':
        out += d.component;
        break;
      case 'T':
        out += d.subcomponent;
        break;
      case 'R':
        out += d.repetition;
        break;
      case 'E':
        out += d.escape;
        break;
      case 'X': {
        const hex = code.slice(1);
        if (/^([0-9A-Fa-f]{2})+$/.test(hex)) out += Buffer.from(hex, 'hex').toString('latin1');
        break;
      }
      default:
        break; // \H\, \N\, .br and friends: formatting, not text
    }
  }
  return out;
}

export function escapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  let out = '';
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === '\r' || ch === '\n') out += ' ';
    else out += ch;
  }
  return out;
}

/** Message header facts every ACK and every log line needs. */
export interface Hl7Header {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  messageType: string;
  triggerEvent: string;
  controlId: string;
  processingId: string;
  version: string;
  acceptAckType: string;
  applicationAckType: string;
  charset: string;
  time: string;
}

export function header(msg: Hl7Message): Hl7Header {
  const msh = msg.segments[0]!;
  return {
    sendingApplication: field(msh, 3),
    sendingFacility: field(msh, 4),
    receivingApplication: field(msh, 5),
    receivingFacility: field(msh, 6),
    time: comp(msg, msh, 7),
    messageType: comp(msg, msh, 9, 1),
    triggerEvent: comp(msg, msh, 9, 2),
    controlId: field(msh, 10),
    processingId: comp(msg, msh, 11),
    version: comp(msg, msh, 12),
    acceptAckType: field(msh, 15),
    applicationAckType: field(msh, 16),
    charset: field(msh, 18),
  };
}

/** Every repetition of field n, each as its unescaped components (trailing empty components dropped). */
export function repetitions(msg: Hl7Message, seg: Hl7Segment | undefined, n: number): string[][] {
  const raw = field(seg, n);
  if (raw === '') return [];
  return raw.split(msg.delimiters.repetition).map((rep) => trimTrailing(rep.split(msg.delimiters.component).map((c) => unescapeHl7(c, msg.delimiters))));
}

/** The components of the first repetition of field n, unescaped (trailing empty ones dropped). */
export function components(msg: Hl7Message, seg: Hl7Segment | undefined, n: number): string[] {
  return repetitions(msg, seg, n)[0] ?? [];
}

function trimTrailing(parts: string[]): string[] {
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '') end--;
  return parts.slice(0, end);
}
