import { readFileSync } from 'node:fs';
/** A fixture as it travels on the wire: segments ending with CR. */
export function hl7Fixture(name) {
    return readFileSync(`fixtures/hl7/${name}`, 'utf8').replace(/\r?\n/g, '\r').replace(/\r*$/, '\r');
}
export const MINDRAY = 'openelis-bridge_mindray_bc5380-c.3.3.hl7';
export const MINDRAY_QC = 'openelis-bridge_mindray_bc5380-c.3.3-xr-qc.hl7';
/** The fixture with another MSH-10, so it counts as a new message. */
export function withControlId(text, id) {
    const lines = text.split('\r');
    const f = lines[0].split('|');
    f[9] = id;
    lines[0] = f.join('|');
    return lines.join('\r');
}
/** An HL7 segment with the given fields at their positions (`{ 4: 'CT01^CT sọ não', 24: 'CT' }`), empty between. */
export function hl7Segment(id, fields) {
    const last = Math.max(...Object.keys(fields).map(Number));
    return [id, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}
