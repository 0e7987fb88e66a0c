import { createHash } from 'node:crypto';
import { isoWithOffset } from '../../core/contract/clock.ts';
import { comp, escapeHl7, parseHl7, segment, type Hl7Delimiters, type Hl7Header, type Hl7Message, DEFAULT_DELIMITERS } from './message.ts';

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 time stamp YYYYMMDDHHMMSS+ZZZZ in the given zone. */
export function hl7Time(ms: number, timeZone: string): string {
  return hl7TimeFromIso(isoWithOffset(ms, timeZone));
}

/** '2026-11-22T07:31:05.120+07:00' → '20261122073105+0700': the local time as written, with its offset ('Z' → +0000). */
export function hl7TimeFromIso(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.exec(iso);
  if (!m) return iso.replace(/\D/g, '').slice(0, 14);
  const zone = !m[7] || m[7] === 'Z' ? '+0000' : m[7].replace(':', '');
  return `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6]}${zone}`;
}

export interface ReplyOptions {
  delimiters?: Hl7Delimiters;
  controlId: string;
  nowMs: number;
  timeZone: string;
  /** Our MSH-3 when the sender left MSH-5 empty. */
  application?: string;
}

/**
 * MSH of any reply (ACK, QCK, DSR, RSP) in the sender's dialect: applications swapped from the
 * incoming MSH-3..6, MSH-11/12 (processing id, version) and MSH-18 (charset) mirrored.
 */
export function replyMsh(incoming: Partial<Hl7Header>, messageType: string, opts: ReplyOptions): string {
  const d = opts.delimiters ?? DEFAULT_DELIMITERS;
  const enc = `${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
  const msh = [
    'MSH',
    enc,
    incoming.receivingApplication || (opts.application ?? ''),
    incoming.receivingFacility ?? '',
    incoming.sendingApplication ?? '',
    incoming.sendingFacility ?? '',
    hl7Time(opts.nowMs, opts.timeZone),
    '',
    messageType,
    opts.controlId,
    incoming.processingId || 'P',
    incoming.version || '2.5',
    '',
    '',
    '',
    '',
    '', // MSH-13..17
    incoming.charset ?? '', // MSH-18
  ];
  while (msh.length > 12 && msh[msh.length - 1] === '') msh.pop();
  return msh.join(d.field);
}

/**
 * An acknowledgement that fits the sender's dialect: applications swapped, MSH-12 (version) and
 * MSH-18 (charset) mirrored, MSA-2 = the incoming MSH-10, MSH-9 ACK^<event>, an ERR segment
 * saying what was wrong on AE/AR/CE/CR (HL7 2.5 layout with the text in ERR-1 as well, which
 * 2.3-era receivers read).
 */
export function buildAck(incoming: Partial<Hl7Header>, code: AckCode, opts: ReplyOptions & { text?: string; errorCode?: string }): string {
  const d = opts.delimiters ?? DEFAULT_DELIMITERS;
  const f = d.field;
  const event = incoming.triggerEvent ?? '';
  const msh = replyMsh(incoming, `ACK${event ? `${d.component}${event}` : ''}${d.component}ACK`, opts);
  const segments = [
    msh,
    ['MSA', code, incoming.controlId ?? '', opts.text && code !== 'AA' && code !== 'CA' ? escapeHl7(opts.text, d) : '']
      .join(f)
      .replace(new RegExp(`\\${f}+$`), ''),
  ];
  if (code !== 'AA' && code !== 'CA') {
    const text = escapeHl7(opts.text ?? 'message rejected', d);
    const errCode = opts.errorCode ?? (code === 'AR' || code === 'CR' ? '200' : '207');
    segments.push(
      [
        'ERR',
        `${d.component}${d.component}${d.component}${errCode}${d.subcomponent}${text}${d.subcomponent}HL70357`,
        '',
        `${errCode}${d.component}${text}${d.component}HL70357`,
        'E',
        '',
        '',
        text,
      ].join(f),
    );
  }
  return segments.join('\r') + '\r';
}

/** What a sender needs from an acknowledgement: MSA-1, MSA-2 and the receiver's reason. */
export interface Hl7Ack {
  /** AA/AE/AR (original mode) or CA/CE/CR (enhanced mode commit acknowledgements). */
  code: string;
  /** MSA-2: the control id of the message acknowledged. */
  controlId: string;
  /** MSA-3 and the ERR segment's text (ERR-8 user message, else ERR-3.2 v2.5, else ERR-1.4's v2.3 text), joined when they differ. */
  text: string;
}

export class Hl7AckError extends Error {
  readonly code = 'HL7_BAD_ACK';
}

/** Reads an acknowledgement in the receiver's own delimiters (segments split on CR, LF tolerated). */
export function parseAck(text: string): Hl7Ack {
  if (!text.startsWith('MSH')) throw new Hl7AckError('acknowledgement without MSH');
  let msg: Hl7Message;
  try {
    msg = parseHl7(text.replace(/\r\n|\n/g, '\r'));
  } catch (err) {
    throw new Hl7AckError(`unreadable acknowledgement: ${(err as Error).message}`);
  }
  const msa = segment(msg, 'MSA');
  if (!msa) throw new Hl7AckError('acknowledgement without MSA');
  const err = segment(msg, 'ERR');
  // ERR-1.4 (v2.3) is code&text&system: its text is the second subcomponent.
  const errText = comp(msg, err, 8) || comp(msg, err, 3, 2) || (comp(msg, err, 1, 4).split(msg.delimiters.subcomponent)[1] ?? '');
  const texts = [comp(msg, msa, 3), errText].map((t) => t.trim()).filter(Boolean);
  return { code: comp(msg, msa, 1).trim(), controlId: comp(msg, msa, 2).trim(), text: [...new Set(texts)].join(' ') };
}

/**
 * MSH-10 from the outbox idempotency key, so a retry after an unknown outcome carries the same
 * id and the receiver can drop the repeat (HL7 v2.5 2.10.2); at most 20 characters (the ST
 * length many receivers enforce). Keys that are digests already (results `res2:<hex>`, reports
 * `rep:<hex>`) keep their first 20 hex digits; any other key is hashed, never cut (two keys
 * sharing a prefix must not share an id).
 */
export function controlIdFor(idempotencyKey: string): string {
  const digest = /^[a-z0-9]+:([0-9a-f]{20,})$/.exec(idempotencyKey);
  if (digest) return digest[1]!.slice(0, 20);
  return `K${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 19).toUpperCase()}`;
}
