import { createHash } from 'node:crypto';
/** HL7 escape sequences (v2.5 2.7.4) for text that may hold the delimiters. */
export function escapeHl7(text) {
    return text.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\').replace(/[\r\n]+/g, ' ');
}
/** MSH-10 from the idempotency key: deterministic and at most 20 characters (the ST length many receivers enforce). */
export function controlIdFor(idempotencyKey) {
    return `K${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 19).toUpperCase()}`;
}
/** '2026-11-22T07:31:05.120+07:00' → '20261122073105+0700' (the local time as written, with its offset). */
export function hl7Timestamp(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.exec(iso);
    if (!m)
        return iso.replace(/\D/g, '').slice(0, 14);
    const zone = !m[7] || m[7] === 'Z' ? '+0000' : m[7].replace(':', '');
    return `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6]}${zone}`;
}
/** Vietnamese names are written family, middle, given: 'Nguyễn Văn An' → XPN 'Nguyễn^An^Văn'. */
export function vietnameseXpn(fullName) {
    const parts = fullName.normalize('NFC').trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0)
        return '';
    if (parts.length === 1)
        return escapeHl7(parts[0]);
    const family = parts[0];
    const given = parts[parts.length - 1];
    const middle = parts.slice(1, -1).join(' ');
    return [family, given, middle].map(escapeHl7).join('^').replace(/\^+$/, '');
}
const SEX = { male: 'M', female: 'F', unknown: 'U' };
export function buildAdtA04(checkIn, idempotencyKey, now, options = {}) {
    const controlId = controlIdFor(idempotencyKey);
    const id = checkIn.identity;
    const birth = id.dateOfBirth.replace(/-/g, '');
    const msh = [
        'MSH',
        '^~\\&',
        escapeHl7(options.sendingApplication ?? 'EDGE-KIOSK'),
        escapeHl7(options.sendingFacility ?? ''),
        escapeHl7(options.receivingApplication ?? 'HIS'),
        escapeHl7(options.receivingFacility ?? ''),
        hl7Timestamp(now),
        '',
        'ADT^A04^ADT_A01',
        controlId,
        options.processingId ?? 'P',
        '2.5',
        '',
        '',
        'AL',
        'NE',
        'VNM',
        'UNICODE UTF-8',
    ].join('|');
    const evn = ['EVN', 'A04', hl7Timestamp(checkIn.ticket.issuedAt)].join('|');
    const pid = [
        'PID',
        '1',
        '',
        // PID-3: the CCCD as a national identifier (identifier type NNVNM, HL7 table 0203).
        `${escapeHl7(id.idNumber)}^^^${escapeHl7(options.idAuthority ?? 'BCA')}^NNVNM`,
        '',
        vietnameseXpn(id.fullName),
        '',
        birth,
        SEX[id.sex] ?? 'U',
        '',
        '',
        // PID-11: the address as one line, country VNM.
        id.permanentAddress ? `${escapeHl7(id.permanentAddress)}^^^^^VNM` : '',
    ].join('|');
    const pv1 = new Array(51).fill('');
    pv1[0] = 'PV1';
    pv1[1] = '1';
    pv1[2] = 'O'; // outpatient
    pv1[3] = escapeHl7(checkIn.service.code) + (checkIn.service.name ? `^^^^^^^^${escapeHl7(checkIn.service.name)}` : '');
    pv1[19] = escapeHl7(checkIn.ticket.number); // visit number: the queue ticket
    pv1[44] = hl7Timestamp(checkIn.ticket.issuedAt);
    // ADT_A01 has no SCH segment: a booked appointment's id travels as the alternate visit id.
    if (checkIn.appointmentId)
        pv1[50] = escapeHl7(checkIn.appointmentId);
    const segments = [msh, evn, pid, pv1.join('|').replace(/\|+$/, '')];
    return { message: segments.join('\r') + '\r', controlId };
}
export class Hl7AckError extends Error {
    code = 'HIS_HL7_BAD_ACK';
}
/** Reads MSA from an acknowledgement message (segments separated by CR; LF tolerated). */
export function parseAck(message) {
    const segments = message.split(/\r\n|\r|\n/).filter(Boolean);
    const msh = segments.find((s) => s.startsWith('MSH'));
    if (!msh || msh.length < 4)
        throw new Hl7AckError('acknowledgement without MSH');
    const sep = msh[3];
    const msa = segments.find((s) => s.startsWith(`MSA${sep}`));
    if (!msa)
        throw new Hl7AckError('acknowledgement without MSA');
    const f = msa.split(sep);
    const err = segments.find((s) => s.startsWith(`ERR${sep}`));
    const errText = err ? err.split(sep).slice(1).filter(Boolean).join(' ') : '';
    return { code: (f[1] ?? '').trim(), controlId: (f[2] ?? '').trim(), text: [f[3] ?? '', errText].filter(Boolean).join(' ').trim() };
}
