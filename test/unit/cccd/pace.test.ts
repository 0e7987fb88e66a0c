import { describe, expect, it } from 'vitest';
import {
  authToken,
  canPassword,
  decryptNonce,
  mapGenerator,
  mrzPassword,
  paceKpi,
  publicKeyOn,
  runPace,
  sessionKeys,
  sharedSecretX,
  tokenInput,
} from '../../../modules/cccd/crypto/pace.ts';
import { Point, bytesToBigInt, pointToBytes } from '../../../modules/cccd/crypto/brainpool.ts';
import { parseCardAccess } from '../../../modules/cccd/cardAccess.ts';
import { fixtureHex, fixtureJson, h } from './fixtures.ts';

const v = fixtureJson('pace_worked_example.json');
const g1 = v.icao_9303_p11_appendix_G1;
const bsi = v.bsi_eac_worked_example_pin_123456;
const hex = (b: Buffer): string => b.toString('hex').toUpperCase();

describe('PACE-ECDH-GM-AES-128, ICAO 9303-11 Appendix G.1', () => {
  const pw = mrzPassword({ documentNumber: g1.password.document_number, dateOfBirth: g1.password.date_of_birth, dateOfExpiry: g1.password.date_of_expiry });

  it('derives K and K_pi from the MRZ and decrypts the nonce', () => {
    expect(hex(pw.k)).toBe(g1.password.K_sha1_of_mrz_information);
    expect(hex(paceKpi(pw))).toBe(g1.K_pi);
    expect(hex(decryptNonce(h(g1.K_pi), h(g1.encrypted_nonce_z)))).toBe(g1.decrypted_nonce_s);
  });

  it('maps the generator, agrees the key and computes both tokens', () => {
    const m = g1.mapping;
    expect(hex(publicKeyOn(Point.BASE, bytesToBigInt(h(m.SK_map_IFD))))).toBe(m.PK_map_IFD);
    expect(hex(publicKeyOn(Point.BASE, bytesToBigInt(h(m.SK_map_IC))))).toBe(m.PK_map_IC);
    const { h: H, g } = mapGenerator(h(g1.decrypted_nonce_s), bytesToBigInt(h(m.SK_map_IFD)), h(m.PK_map_IC));
    expect(hex(pointToBytes(H))).toBe(m.H_shared_point);
    expect(hex(pointToBytes(g))).toBe(m.G_tilde_mapped_generator);
    // The chip computes the same generator from its side.
    expect(hex(pointToBytes(mapGenerator(h(g1.decrypted_nonce_s), bytesToBigInt(h(m.SK_map_IC)), h(m.PK_map_IFD)).g))).toBe(m.G_tilde_mapped_generator);
    const ka = g1.key_agreement;
    expect(hex(publicKeyOn(g, bytesToBigInt(h(ka.SK_DH_IFD))))).toBe(ka.PK_DH_IFD);
    expect(hex(publicKeyOn(g, bytesToBigInt(h(ka.SK_DH_IC))))).toBe(ka.PK_DH_IC);
    expect(hex(sharedSecretX(bytesToBigInt(h(ka.SK_DH_IFD)), h(ka.PK_DH_IC)))).toBe(ka.shared_secret_K_x);
    expect(hex(sharedSecretX(bytesToBigInt(h(ka.SK_DH_IC)), h(ka.PK_DH_IFD)))).toBe(ka.shared_secret_K_x);
    const ks = sessionKeys(h(ka.shared_secret_K_x));
    expect(hex(ks.ksEnc)).toBe(g1.session_keys.KS_enc);
    expect(hex(ks.ksMac)).toBe(g1.session_keys.KS_mac);
    const t = g1.authentication_tokens;
    expect(hex(tokenInput(g1.protocol.oid, h(ka.PK_DH_IC)))).toBe(t.T_IFD_input_over_PK_DH_IC);
    expect(hex(authToken(ks.ksMac, g1.protocol.oid, h(ka.PK_DH_IC)))).toBe(t.T_IFD);
    expect(hex(authToken(ks.ksMac, g1.protocol.oid, h(ka.PK_DH_IFD)))).toBe(t.T_IC);
  });

  it('sends exactly the APDU transcript of the worked example', async () => {
    const script = g1.apdu_transcript.filter((s: { step: string }) => !s.step.includes('84 01 0D'));
    const sent: string[] = [];
    let i = 0;
    const transport = {
      transmit: async (apdu: Buffer) => {
        sent.push(hex(apdu));
        return h(script[i++].response);
      },
    };
    const r = await runPace(transport, { password: pw, skMap: bytesToBigInt(h(g1.mapping.SK_map_IFD)), skDh: bytesToBigInt(h(g1.key_agreement.SK_DH_IFD)) });
    expect(sent).toEqual(script.map((s: { command: string }) => s.command));
    expect(hex(r.ksEnc)).toBe(g1.session_keys.KS_enc);
  });

  it('fails plainly when the chip token does not verify', async () => {
    const script = g1.apdu_transcript.filter((s: { step: string }) => !s.step.includes('84 01 0D'));
    let i = 0;
    const transport = {
      transmit: async () => {
        const r = h(script[i++].response);
        if (i === script.length) r[5] = r[5]! ^ 1;
        return r;
      },
    };
    await expect(
      runPace(transport, { password: pw, skMap: bytesToBigInt(h(g1.mapping.SK_map_IFD)), skDh: bytesToBigInt(h(g1.key_agreement.SK_DH_IFD)) }),
    ).rejects.toThrow(/token/);
  });
});

describe('PACE BSI worked example (PIN 123456, derived like a CAN)', () => {
  it('derives K_pi without pre-hashing, and every later value', () => {
    const pw = { ...canPassword('123456'), ref: 3 };
    expect(hex(pw.k)).toBe(bsi.password.K_password);
    expect(hex(paceKpi(pw))).toBe(bsi.K_pi);
    expect(hex(decryptNonce(h(bsi.K_pi), h(bsi.encrypted_nonce_z)))).toBe(bsi.decrypted_nonce_s);
    const m = bsi.mapping;
    const { g } = mapGenerator(h(bsi.decrypted_nonce_s), bytesToBigInt(h(m.SK_map_PCD)), h(m.PK_map_PICC));
    expect(hex(pointToBytes(g))).toBe(m.G_tilde_mapped_generator);
    const ka = bsi.key_agreement;
    expect(hex(publicKeyOn(g, bytesToBigInt(h(ka.SK_DH_PCD))))).toBe(ka.PK_DH_PCD);
    expect(hex(sharedSecretX(bytesToBigInt(h(ka.SK_DH_PCD)), h(ka.PK_DH_PICC)))).toBe(ka.shared_secret_K_x);
    const ks = sessionKeys(h(ka.shared_secret_K_x));
    expect(hex(ks.ksEnc)).toBe(bsi.session_keys.KS_enc);
    expect(hex(ks.ksMac)).toBe(bsi.session_keys.KS_mac);
    expect(hex(authToken(ks.ksMac, bsi.protocol.oid, h(ka.PK_DH_PICC)))).toBe(bsi.authentication_tokens.T_PCD_over_PK_DH_PICC);
    expect(hex(authToken(ks.ksMac, bsi.protocol.oid, h(ka.PK_DH_PCD)))).toBe(bsi.authentication_tokens.T_PICC_over_PK_DH_PCD);
  });
});

describe('EF.CardAccess', () => {
  it('finds PACE ECDH-GM-AES-128 on brainpoolP256r1 in the real CCCD file', () => {
    const infos = parseCardAccess(fixtureHex('cccd_ef_cardaccess.hex'));
    expect(infos.pace).toEqual([{ oid: '0.4.0.127.0.7.2.2.4.2.2', version: 2, parameterId: 13, supported: true }]);
  });
  it('reads the ICAO example file', () => {
    const infos = parseCardAccess(h(g1.protocol.ef_cardaccess));
    expect(infos.pace[0]?.supported).toBe(true);
  });
});
