import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCardRead } from '../../../modules/cccd/cli.ts';
import { startCardSimulator, type CardSimulatorOptions } from '../../sim/cardSimulator.ts';
import { generateTestPki, type TestPki } from '../../sim/card/pki.ts';
import { buildMrz, DEFAULT_CITIZEN } from '../../sim/card/files.ts';
import { startPcscd, type PcscdHandle } from './pcscd.ts';

// Every APDU goes: this process (pcsclite binding) → real pcscd → vpcd driver → TCP →
// the TypeScript card simulator, and back.
let pcscd: PcscdHandle;
let pki: TestPki;

beforeAll(async () => {
  pki = generateTestPki();
  pcscd = await startPcscd();
});
afterAll(async () => {
  await pcscd?.stop();
  pki?.remove();
});

async function readWith(card: CardSimulatorOptions, args: string[], slot: 0 | 1 = 0) {
  const removedBefore = pcscd.removals(slot);
  const sim = await startCardSimulator({ pki, port: pcscd.port + slot, ...card });
  let out = '';
  let err = '';
  try {
    const code = await runCardRead(['card', 'read', '--reader', pcscd.readerNames[slot], '--timeout', '15', ...args], {
      out: (s) => (out += s),
      err: (s) => (err += s),
    });
    return { code, out, err, json: code === 0 ? JSON.parse(out) : null, chipApdus: sim.apduCount };
  } finally {
    await sim.stop();
    await pcscd.waitRemoved(slot, removedBefore);
  }
}

describe('card read through the real pcscd, pcsclite and the simulated chip', () => {
  it('reads by PACE with the CAN from the QR code, verifies EF.SOD against the CSCA', async () => {
    const sim = { pace: true };
    const r = await readWith(sim, ['--qr', qrText(), '--csca', pki.cscaPath, '--show-pii']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.json.access).toBe('PACE');
    expect(r.json.identity).toMatchObject({ idNumber: '001099012345', fullName: 'Nguyễn Văn Thử', dateOfBirth: '1999-01-01', source: 'chip-verified' });
    expect(r.json.verification).toMatchObject({ hashes: { ok: true, checked: ['DG13'] }, signature: 'verified' });
    // The reader counted exactly what the chip received.
    expect(r.json.apduCount).toBe(r.chipApdus);
  });

  it('reads by BAC on a BAC-only card, with DG1, on the second reader', async () => {
    const r = await readWith({ pace: false }, ['--qr', qrText(), '--dg1', '--csca', pki.cscaPath], 1);
    expect(r.code, r.err).toBe(0);
    expect(r.json.access).toBe('BAC');
    expect(r.json.verification.hashes.checked.sort()).toEqual(['DG1', 'DG13']);
  });

  it('opens the chip with the MRZ text (BAC) and with a typed number (PACE)', async () => {
    const mrz = await readWith({ pace: false }, ['--mrz', buildMrz(DEFAULT_CITIZEN)]);
    expect(mrz.code, mrz.err).toBe(0);
    expect(mrz.json.access).toBe('BAC');
    expect(mrz.json.verification.signature).toBe('not-checked');
    expect(mrz.json.identity.source).toBe('chip-unverified');
    const can = await readWith({}, ['--can', '001099012345']);
    expect(can.code, can.err).toBe(0);
    expect(can.json.access).toBe('PACE');
  });

  it('masks personal data unless --show-pii', async () => {
    const r = await readWith({}, ['--qr', qrText()]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('001099012345');
    expect(r.out).not.toContain('Nguyễn');
    expect(r.out).not.toContain('1999-01-01');
    expect(r.json.identity.idNumber).toBe('0010*****345');
  });

  it('a wrong key: the chip answers 6300 and the reader says so plainly', async () => {
    const r = await readWith({ pace: false }, ['--mrz', buildMrz({ ...DEFAULT_CITIZEN, dateOfBirth: '02/01/1999' })]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('[CARD_WRONG_KEY]');
    expect(r.err).toContain('The card refused the key');
  });

  it('a card removed in the middle of the read gives a plain error', async () => {
    const r = await readWith({ removeAtApdu: 9 }, ['--qr', qrText()]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('[CARD_REMOVED]');
    expect(r.err).toContain('The card was removed before it was read');
  });

  it('rejects a card whose DG13 was altered after signing', async () => {
    const r = await readWith({ tamperDataGroup: 13 }, ['--qr', qrText(), '--csca', pki.cscaPath]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('[CARD_REJECTED]');
    expect(r.err).toContain('does not match its signed hashes (DG13)');
  });

  it('reads DG2 in extended-length and in short APDUs, extended needing fewer', async () => {
    const ext = await readWith({ dg2ImageBytes: 16_000 }, ['--qr', qrText(), '--dg2']);
    const short = await readWith({ dg2ImageBytes: 16_000, extendedLength: false }, ['--qr', qrText(), '--dg2']);
    expect(ext.code, ext.err).toBe(0);
    expect(short.code, short.err).toBe(0);
    expect(ext.json.face).toEqual({ mime: 'image/jpeg', bytes: 16_000 });
    expect(short.json.face).toEqual({ mime: 'image/jpeg', bytes: 16_000 });
    expect(ext.json.apduCount).toBeLessThan(short.json.apduCount);
  });
});

function qrText(): string {
  return [
    DEFAULT_CITIZEN.idNumber,
    DEFAULT_CITIZEN.oldIdNumber,
    DEFAULT_CITIZEN.fullName,
    '01011999',
    'Nam',
    DEFAULT_CITIZEN.placeOfResidence,
    '15042021',
  ].join('|');
}
