import { isoWithOffset } from '../../agent/clock.ts';
import { escapeHl7, type Hl7Delimiters, type Hl7Header, DEFAULT_DELIMITERS } from './message.ts';

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 time stamp YYYYMMDDHHMMSS+ZZZZ in the given zone. */
export function hl7Time(ms: number, timeZone: string): string {
  const iso = isoWithOffset(ms, timeZone); // 2026-11-22T17:05:00.000+07:00
  return iso.slice(0, 19).replace(/[-T:]/g, '') + iso.slice(23).replace(':', '');
}

/**
 * An acknowledgement that fits the sender's dialect: applications swapped, MSH-12 (version) and
 * MSH-18 (charset) mirrored, MSA-2 = the incoming MSH-10, MSH-9 ACK^<event>, an ERR segment
 * saying what was wrong on AE/AR/CE/CR (HL7 2.5 layout with the text in ERR-1 as well, which
 * 2.3-era receivers read).
 */
export function buildAck(
  incoming: Partial<Hl7Header>,
  code: AckCode,
  opts: { delimiters?: Hl7Delimiters; controlId: string; nowMs: number; timeZone: string; text?: string; errorCode?: string; application?: string },
): string {
  const d = opts.delimiters ?? DEFAULT_DELIMITERS;
  const f = d.field;
  const enc = `${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
  const event = incoming.triggerEvent ?? '';
  const msh = [
    'MSH',
    enc,
    incoming.receivingApplication || (opts.application ?? ''),
    incoming.receivingFacility ?? '',
    incoming.sendingApplication ?? '',
    incoming.sendingFacility ?? '',
    hl7Time(opts.nowMs, opts.timeZone),
    '',
    `ACK${event ? `${d.component}${event}` : ''}${d.component}ACK`,
    opts.controlId,
    incoming.processingId || 'P',
    incoming.version || '2.5',
    '', '', '', '', '', '',
    incoming.charset ?? '',
  ];
  while (msh.length > 12 && msh[msh.length - 1] === '') msh.pop();
  const segments = [msh.join(f), ['MSA', code, incoming.controlId ?? '', opts.text && code !== 'AA' && code !== 'CA' ? escapeHl7(opts.text, d) : ''].join(f).replace(new RegExp(`\\${f}+$`), '')];
  if (code !== 'AA' && code !== 'CA') {
    const text = escapeHl7(opts.text ?? 'message rejected', d);
    const errCode = opts.errorCode ?? (code === 'AR' || code === 'CR' ? '200' : '207');
    segments.push(['ERR', `${d.component}${d.component}${d.component}${errCode}${d.subcomponent}${text}${d.subcomponent}HL70357`, '', `${errCode}${d.component}${text}${d.component}HL70357`, 'E', '', '', text].join(f));
  }
  return segments.join('\r') + '\r';
}
