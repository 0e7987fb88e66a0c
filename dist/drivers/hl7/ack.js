import { isoWithOffset } from "../../agent/clock.js";
import { escapeHl7, DEFAULT_DELIMITERS } from "./message.js";
/** HL7 time stamp YYYYMMDDHHMMSS+ZZZZ in the given zone. */
export function hl7Time(ms, timeZone) {
    const iso = isoWithOffset(ms, timeZone); // 2026-11-22T17:05:00.000+07:00
    return iso.slice(0, 19).replace(/[-T:]/g, '') + iso.slice(23).replace(':', '');
}
/**
 * MSH of any reply (ACK, QCK, DSR, RSP) in the sender's dialect: applications swapped from the
 * incoming MSH-3..6, MSH-11/12 (processing id, version) and MSH-18 (charset) mirrored.
 */
export function replyMsh(incoming, messageType, opts) {
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
        '', '', '', '', '', // MSH-13..17
        incoming.charset ?? '', // MSH-18
    ];
    while (msh.length > 12 && msh[msh.length - 1] === '')
        msh.pop();
    return msh.join(d.field);
}
/**
 * An acknowledgement that fits the sender's dialect: applications swapped, MSH-12 (version) and
 * MSH-18 (charset) mirrored, MSA-2 = the incoming MSH-10, MSH-9 ACK^<event>, an ERR segment
 * saying what was wrong on AE/AR/CE/CR (HL7 2.5 layout with the text in ERR-1 as well, which
 * 2.3-era receivers read).
 */
export function buildAck(incoming, code, opts) {
    const d = opts.delimiters ?? DEFAULT_DELIMITERS;
    const f = d.field;
    const event = incoming.triggerEvent ?? '';
    const msh = replyMsh(incoming, `ACK${event ? `${d.component}${event}` : ''}${d.component}ACK`, opts);
    const segments = [msh, ['MSA', code, incoming.controlId ?? '', opts.text && code !== 'AA' && code !== 'CA' ? escapeHl7(opts.text, d) : ''].join(f).replace(new RegExp(`\\${f}+$`), '')];
    if (code !== 'AA' && code !== 'CA') {
        const text = escapeHl7(opts.text ?? 'message rejected', d);
        const errCode = opts.errorCode ?? (code === 'AR' || code === 'CR' ? '200' : '207');
        segments.push(['ERR', `${d.component}${d.component}${d.component}${errCode}${d.subcomponent}${text}${d.subcomponent}HL70357`, '', `${errCode}${d.component}${text}${d.component}HL70357`, 'E', '', '', text].join(f));
    }
    return segments.join('\r') + '\r';
}
