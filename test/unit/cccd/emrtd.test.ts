import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCccd, minimumApdus, SHORT_READ, type EmrtdReadOptions } from '../../../modules/cccd/emrtd.ts';
import { keysFromQr, keysFromDigits } from '../../../modules/cccd/identity.ts';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { loadCertificates, parseSod } from '../../../modules/cccd/sod.ts';
import { CardError } from '../../../modules/cccd/errors.ts';
import { buildChip, qrOf, type CardBuildOptions } from '../../sim/card/card.ts';
import { buildDg13, DEFAULT_CITIZEN } from '../../sim/card/files.ts';
import { generateTestPki, type TestPki } from '../../sim/card/pki.ts';
import { fixtureHex, fixtureText } from './fixtures.ts';

let pki: TestPki;
beforeAll(() => {
  pki = generateTestPki();
});
afterAll(() => pki?.remove());

const transportOf = (chip: ReturnType<typeof buildChip>) => ({ transmit: async (a: Buffer) => chip.handle(a) });
const qrKeys = () => keysFromQr(parseCccdQr(fixtureText('qr_synthetic.txt').split('\n')[1]!));

async function read(card: Partial<CardBuildOptions>, opts: Partial<EmrtdReadOptions> = {}) {
  const chip = buildChip({ signer: pki.signer, ...card });
  return readCccd(transportOf(chip), { keys: qrKeys(), cscas: loadCertificates(pki.cscaPem), extendedLength: false, ...opts });
}

describe('simulated card files', () => {
  it('rebuilds the fixture DG13 byte for byte in both layouts', () => {
    expect(buildDg13(DEFAULT_CITIZEN)).toEqual(fixtureHex('synthetic_cccd_dg13.hex'));
    expect(buildDg13(DEFAULT_CITIZEN, 'one-sequence')).toEqual(fixtureHex('synthetic_cccd_dg13_one_parent_sequence.hex'));
    expect(buildDg13({ ...DEFAULT_CITIZEN, spouseName: 'Lê Thị Vợ Giả' })).toEqual(fixtureHex('synthetic_cccd_dg13_with_spouse.hex'));
  });
  it('the QR text of the simulated card is the fixture QR', () => {
    expect(qrOf()).toBe(fixtureText('qr_synthetic.txt').split('\n')[1]);
  });
});

describe('reading sequence over the simulated chip', () => {
  it('reads by PACE with the CAN, verifies hashes and the signature chain', async () => {
    const r = await read({});
    expect(r.access).toBe('PACE');
    expect(r.identity).toMatchObject({ idNumber: '001099012345', fullName: 'Nguyễn Văn Thử', source: 'chip-verified' });
    expect(r.verification.hashes).toMatchObject({ ok: true, checked: [13] });
    expect(r.verification.signature.status).toBe('verified');
  });

  it('reads by BAC when the card announces no PACE, with the expiry derived from the QR', async () => {
    const r = await read({ pace: false }, { readDg1: true });
    expect(r.access).toBe('BAC');
    expect(r.dg1?.idNumber).toBe('001099012345');
    expect(r.verification.hashes?.checked.sort()).toEqual([1, 13]);
    expect(r.identity.source).toBe('chip-verified');
  });

  it('falls back to a neighbouring renewal age when the derived expiry is wrong', async () => {
    const r = await read({ pace: false, bacExpiry: '390101' });
    expect(r.access).toBe('BAC');
  });

  it('falls back to BAC when the CAN is refused', async () => {
    const r = await read({}, { keys: { ...qrKeys(), can: '999999' } });
    expect(r.access).toBe('BAC');
    expect(r.identity.source).toBe('chip-verified');
  });

  it('honours the configured order (BAC first)', async () => {
    const r = await read({}, { order: ['bac', 'pace'] });
    expect(r.access).toBe('BAC');
  });

  it('says "signature not checked" without a CSCA, and the identity is chip-unverified', async () => {
    const r = await read({}, { cscas: [] });
    expect(r.verification.signature).toEqual({ status: 'not-checked', detail: 'signature not checked: no CSCA certificate configured' });
    expect(r.identity.source).toBe('chip-unverified');
    expect(r.identity.warnings).toContain('signature not checked: no CSCA certificate configured');
  });

  it('rejects a card whose DG13 does not match EF.SOD, plainly', async () => {
    await expect(read({ tamperDataGroup: 13 })).rejects.toThrow(/card rejected: the data on the chip does not match its signed hashes \(DG13\)/);
  });

  it('rejects a card signed under another CSCA', async () => {
    const other = generateTestPki();
    other.remove();
    await expect(read({}, { cscas: loadCertificates(other.cscaPem) })).rejects.toMatchObject({ code: 'CARD_REJECTED' });
  });

  it('a wrong key: PACE refused, then every BAC candidate refused with 6300', async () => {
    const keys = keysFromDigits('001099999999');
    const err = await read({}, { keys: { ...keys, bac: [{ documentNumber: '099999999', dateOfBirth: '990101', dateOfExpiry: '240101' }] } }).catch((e) => e);
    expect(err).toBeInstanceOf(CardError);
    expect(err.code).toBe('CARD_WRONG_KEY');
    const err2 = await read(
      { pace: false, wrongKeySw: 0x6988 },
      { keys: { bac: [{ documentNumber: '099999999', dateOfBirth: '990101', dateOfExpiry: '240101' }] } },
    ).catch((e) => e);
    expect(err2.code).toBe('CARD_WRONG_KEY');
  });

  it('reads the one-SEQUENCE layout of field 13 and a spouse from the chip', async () => {
    const r = await read({ parents: 'one-sequence', citizen: { ...DEFAULT_CITIZEN, spouseName: 'Lê Thị Vợ Giả' } });
    expect(r.dg13).toMatchObject({ fatherName: 'Nguyễn Văn Cha', motherName: 'Trần Thị Mẹ', spouseName: 'Lê Thị Vợ Giả' });
  });

  it('reads DG2 and extracts the JPEG', async () => {
    const r = await read({ dg2ImageBytes: 15_000 }, { readDg2: true, extendedLength: true });
    expect(r.face?.mime).toBe('image/jpeg');
    expect(r.face?.image.length).toBe(15_000);
  });

  it('uses no more APDUs than the file sizes require', async () => {
    for (const extendedLength of [false, true]) {
      const r = await read({}, { extendedLength });
      const chunk = extendedLength ? 0x2000 : SHORT_READ;
      const sizes = [r.bytesRead.cardAccess!, r.bytesRead.com!, r.bytesRead.dg13!, r.bytesRead.sod!];
      // PACE: MSE:Set AT + 4 GENERAL AUTHENTICATE + SELECT applet.
      expect(r.apduCount).toBe(minimumApdus(sizes, chunk) + 6);
    }
    const sfi = await read({}, { extendedLength: true, fileAccess: 'sfi' });
    expect(sfi.apduCount).toBe(4 + 6);
  });

  it('errors plainly when the card stops answering mid-read', async () => {
    const chip = buildChip({ signer: pki.signer });
    let n = 0;
    const transport = {
      transmit: async (a: Buffer) => {
        if (++n === 9) throw new Error('SCardTransmit error: Card was removed.(0x80100069)');
        return chip.handle(a);
      },
    };
    await expect(readCccd(transport, { keys: qrKeys() })).rejects.toMatchObject({ code: 'CARD_REMOVED' });
  });

  it('EF.SOD lists DG1, DG2 and DG13 hashes', async () => {
    const chip = buildChip({ signer: pki.signer });
    const sod = parseSod(chip.o.files.sod!);
    expect([...sod.dataGroupHashes.keys()]).toEqual([1, 2, 13]);
    expect(sod.hashAlgorithm).toBe('sha256');
  });
});
