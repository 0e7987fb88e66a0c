import { describe, expect, it } from 'vitest';
import { maskCccd, maskInsuranceCard, maskName, maskText, redact } from '../../../core/mask.ts';

const CCCD = '001099012345';
const QR = `${CCCD}|025123456|Nguyễn Văn An|01011999|Nam|Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội|15082021`;

describe('personal data masking', () => {
  it('masks CCCD numbers, CMND numbers, insurance cards and names as documented', () => {
    expect(maskCccd(CCCD)).toBe('0010*****345');
    expect(maskCccd('025123456')).toBe('02*****56');
    expect(maskInsuranceCard('DN4797932194951')).toBe('DN**********951');
    expect(maskName('Nguyễn Văn An')).toBe('N. V. A.');
    expect(maskName('Đặng  Thị   Ánh')).toBe('Đ. T. Á.');
    expect(maskName('LE^VAN^TAM')).toBe('L. V. T.');
  });

  it('masks nested personal keys wherever they appear', () => {
    expect(redact({ card: { cccd: '079203001234', fullName: 'Trần Thị Bích' }, list: [{ address: 'Số 1, Hà Nội' }], count: 3 })).toEqual({
      card: { cccd: '0792*****234', fullName: 'T. T. B.' },
      list: [{ address: '[address]' }],
      count: 3,
    });
  });

  it('matches field names by pattern, whatever their case, in English and Vietnamese', () => {
    const values: Record<string, string> = {
      cccd: '079203001234',
      CCCD: '079203001234',
      soCccd: '079203001234',
      so_cccd: '079203001234',
      idNumber: 'X79203001234',
      IDNUMBER: 'X79203001234',
      cccdCb: '079190001111',
      qr: 'QR-TEXT-Tràng-Tiền',
      QR: 'QR-TEXT-Tràng-Tiền',
      qrText: 'QR-TEXT-Tràng-Tiền',
      mrz: 'IDVNM0990123456<<',
      MRZ: 'IDVNM0990123456<<',
      hoTen: 'Phạm Minh Chính',
      HoTen: 'Phạm Minh Chính',
      hoTenCb: 'Phạm Minh Chính',
      ten: 'Phạm Minh Chính',
      fullName: 'Phạm Minh Chính',
      FULLNAME: 'Phạm Minh Chính',
      patientName: 'Phạm Minh Chính',
      PatientName: 'PHAM^MINH^CHINH',
      staffName: 'Phạm Minh Chính',
      name: 'Phạm Minh Chính',
      maThe: 'GD4797932194951',
      MaThe: 'GD4797932194951',
      insuranceCode: 'GD4797932194951',
      maTheBhyt: 'GD4797932194951',
      address: 'Tràng Tiền, Hà Nội',
      permanentAddress: 'Tràng Tiền, Hà Nội',
      diaChi: 'Tràng Tiền, Hà Nội',
      DiaChi: 'Tràng Tiền, Hà Nội',
      placeOfOrigin: 'Tràng Tiền, Hà Nội',
      birthDate: '1950-02-03',
      PatientBirthDate: '19500203',
      dateOfBirth: '1950-02-03',
      ngaySinh: '03/02/1950',
      NgaySinh: '03/02/1950',
      phone: '0912 345 678',
      soDienThoai: '0912 345 678',
      password: 'hunter2-secret',
      passwordHash: 'scrypt$16384$x',
      admin_password_hash: 'scrypt$16384$x',
      token: 'tok-very-secret',
      kioskToken: 'tok-very-secret',
      'x-kiosk-token': 'tok-very-secret',
      secret: 'tok-very-secret',
      clientSecret: 'tok-very-secret',
      authorization: 'Bearer tok-very-secret',
      Authorization: 'Basic dG9rLXZlcnk=',
      'x-api-key': 'tok-very-secret',
      cookie: 'edge_session=tok-very-secret',
    };
    const out = redact(values) as Record<string, string>;
    for (const [key, value] of Object.entries(values)) {
      expect(out[key], key).not.toBe(value);
      for (const word of value.split(/[\s^,]+/).filter((w) => w.length > 3)) expect(out[key], `${key} keeps "${word}"`).not.toContain(word);
    }
    expect(out.cccd).toBe('0792*****234');
    expect(out.maThe).toBe('GD**********951');
    expect(out.PatientName).toBe('P. M. C.');
    expect(out.authorization).toBe('[secret]');
  });

  it('leaves alone what is not personal: peers, ports, ids, hashes, paths, counts', () => {
    const plain = {
      peer: '127.0.0.2',
      remoteAddress: '::ffff:10.1.2.3',
      localAddress: '127.0.0.1',
      port: 2575,
      journalId: 123456789,
      outboxId: 42,
      idempotencyKey: 'hl7:MSG00001',
      controlId: 'MSG00001',
      hash: 'a3f1001099012345bc9e',
      sha256: '0123456789012e4f',
      secretsFile: 'demo.secrets.yaml',
      tokenPath: '/api/token/take',
      key: '/etc/edge-agent/tls/box.key',
      stream: 'lab.result',
      aeTitle: 'EDGE',
      device: 'xn1',
    };
    expect(redact(plain)).toEqual(plain);
  });

  it('masks value shapes in any string: CCCD, CMND, BHYT card and CCCD QR text', () => {
    expect(maskText(`card ${CCCD} read`)).toBe('card 0010*****345 read');
    expect(maskText('PID|1||001099012345^^^HIS||LE^VAN^TAM')).toBe('PID|1||0010*****345^^^HIS||LE^VAN^TAM');
    expect(maskText('old id 025123456 given')).toBe('old id 02*****56 given');
    expect(maskText('the card DN4797932194951 is valid')).toBe('the card DN**********951 is valid');
    expect(maskText('card dn4797932194951')).toBe('card dn**********951');
    expect(maskText(`scanned ${QR}`)).toBe('scanned [card text]');
    expect(maskText(`line one\n${QR}\nline three`)).toBe('line one\n[card text]\nline three');
    // Inside objects under keys no pattern names, too.
    expect(redact({ detail: `lookup ${CCCD} failed`, list: ['DN4797932194951'] })).toEqual({ detail: 'lookup 0010*****345 failed', list: ['DN**********951'] });
  });

  it('never takes a token out of a longer run: hashes, timestamps, UIDs, UUIDs, byte counts', () => {
    for (const text of [
      'blob a3f1001099012345bc stored',
      'sha 001099012345abcdef',
      'at 1764000000000 ms',
      'OBR-7 20261122101500 and 202611221015',
      'sop 1.2.826.0.1.3680043.8.498.123456789 and 2.25.001099012345',
      'uuid 123e4567-e89b-12d3-a456-001099012345',
      'wrote 123456789 bytes',
      'size 123456789B',
      'took 123456789 ms',
      'envelope box-1:lab.result:123456789',
      'port 11112, pid 4242, journal 1234567',
      'card 1001099012345 is 13 digits',
      'DN47979321949511 is 14 digits',
      'XDN4797932194951 is 3 letters',
    ]) {
      expect(maskText(text), text).toBe(text);
    }
  });

  it("keeps an error's type, message, stack and code, masked like any text", () => {
    const err = Object.assign(new TypeError(`no appointment for ${CCCD}`), { code: 'EDGE_HIS_NOT_FOUND', statusCode: 404 });
    const out = redact({ err }) as { err: Record<string, unknown> };
    expect(out.err).toMatchObject({ type: 'TypeError', message: 'no appointment for 0010*****345', code: 'EDGE_HIS_NOT_FOUND', statusCode: 404 });
    expect(out.err.stack).toMatch(/^TypeError: no appointment for 0010\*\*\*\*\*345\n\s+at /);
    expect(JSON.stringify(out)).not.toContain(CCCD);
    const wrapped = redact(new Error('lookup failed', { cause: new Error(`socket closed for ${CCCD}`) })) as { cause: { message: string } };
    expect(wrapped.cause.message).toBe('socket closed for 0010*****345');
  });

  it('survives cycles, depth, buffers and dates', () => {
    const a: Record<string, unknown> = { name: 'Lê Văn Tám' };
    a.self = a;
    expect(redact(a)).toEqual({ name: 'L. V. T.', self: '[circular]' });
    expect(redact({ raw: Buffer.from('PID|Lê Văn Tám'), at: new Date(0) })).toEqual({ raw: '[17 bytes]', at: '1970-01-01T00:00:00.000Z' });
    let deep: Record<string, unknown> = { cccd: CCCD };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    expect(JSON.stringify(redact(deep))).not.toContain(CCCD);
  });
});
