import { describe, expect, it } from 'vitest';
import { hl7ContentHash, isSameMessage, primaryMessageKey, reusedMessageKey } from '../../../modules/hl7/identity.ts';

const msg = (msh7: string, obx5 = '6.4', sep = '\r') =>
  Buffer.from([`MSH|^~\\&|BC|LAB|||${msh7}||ORU^R01|C-1|P|2.5`, 'OBR|1||S-1', `OBX|1|NM|WBC^WBC||${obx5}|10*9/L`].join(sep) + sep, 'latin1');

describe('HL7 message identity (control id + content)', () => {
  it('a resend hashes the same: other line ends, empty lines, a restamped MSH-7', () => {
    const h = hl7ContentHash(msg('20261122080000'));
    expect(hl7ContentHash(msg('20261122080000', '6.4', '\r\n'))).toBe(h);
    expect(hl7ContentHash(msg('20261122080000', '6.4', '\n'))).toBe(h);
    expect(hl7ContentHash(msg('20261122091500'))).toBe(h);
    expect(hl7ContentHash(Buffer.concat([msg('20261122080000'), Buffer.from('\r\r')]))).toBe(h);
  });

  it('any other change is another message', () => {
    const h = hl7ContentHash(msg('20261122080000'));
    expect(hl7ContentHash(msg('20261122080000', '6.5'))).not.toBe(h);
    expect(hl7ContentHash(Buffer.from(msg('20261122080000').toString('latin1').replace('S-1', 'S-2'), 'latin1'))).not.toBe(h);
    // Bytes, not decoded text: the same letters in another encoding differ.
    expect(hl7ContentHash(Buffer.from('MSH|^~\\&|A\rPID|||||Nguyễn\r', 'utf8'))).not.toBe(hl7ContentHash(Buffer.from('MSH|^~\\&|A\rPID|||||Nguyen\r', 'utf8')));
  });

  it('keys: the first copy keeps hl7:<device>:<MSH-10>; a reuse adds the hash; entries without a hash count as the same', () => {
    const h = hl7ContentHash(msg('20261122080000'));
    expect(primaryMessageKey('bc5380', 'C-1')).toBe('hl7:bc5380:C-1');
    expect(reusedMessageKey('bc5380', 'C-1', h)).toBe(`hl7:bc5380:C-1:${h.slice(0, 16)}`);
    expect(isSameMessage({ contentHash: h }, h)).toBe(true);
    expect(isSameMessage({ contentHash: 'other' }, h)).toBe(false);
    expect(isSameMessage({ ack: 'MSH|…' }, h)).toBe(true);
  });
});
