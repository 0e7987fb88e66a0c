import { describe, expect, it } from 'vitest';
import {
  bacKeys,
  bacKeySeed,
  bacTerminalChallenge,
  bacTerminalComplete,
  bacChipRespond,
  checkDigit,
  mrzInformation,
  bacKeyForCccd,
} from '../../../modules/cccd/crypto/bac.ts';
import { tdesCbc, retailMac } from '../../../modules/cccd/crypto/des.ts';
import { SecureMessaging, tdesCipher } from '../../../modules/cccd/crypto/secureMessaging.ts';
import { decodeCommand } from '../../../modules/cccd/apdu.ts';
import { fixtureJson, h } from './fixtures.ts';

const d = fixtureJson('icao_9303_p11_bac_worked_example.json');
const key = { documentNumber: 'L898902C', dateOfBirth: d.mrz.dateOfBirth, dateOfExpiry: d.mrz.dateOfExpiry };

describe('ICAO 9303-11 Appendix D: BAC', () => {
  it('computes the check digits and MRZ information', () => {
    expect(checkDigit('L898902C<')).toBe(d.mrz.documentNumberCheckDigit);
    expect(checkDigit('690806')).toBe(d.mrz.dobCheckDigit);
    expect(checkDigit('940623')).toBe(d.mrz.doeCheckDigit);
    expect(mrzInformation(key)).toBe(d.MRZ_information);
  });

  it('derives K_seed, K_enc and K_mac (D.2)', () => {
    const k = bacKeys(key);
    expect(bacKeySeed(key).toString('hex').toUpperCase()).toBe(d.Kseed);
    expect(k.kEnc.toString('hex').toUpperCase()).toBe(d.KEnc);
    expect(k.kMac.toString('hex').toUpperCase()).toBe(d.KMAC);
  });

  it('builds the MUTUAL AUTHENTICATE command and derives the session keys (D.3)', () => {
    const k = bacKeys(key);
    const ch = bacTerminalChallenge(k, h(d.RND_IC), h(d.RND_IFD), h(d.K_IFD));
    expect(ch.eIfd.toString('hex').toUpperCase()).toBe(d.E_IFD);
    expect(ch.mIfd.toString('hex').toUpperCase()).toBe(d.M_IFD);
    expect(tdesCbc(k.kEnc, h(d.MUTUAL_AUTHENTICATE_resp_data).subarray(0, 32), false).toString('hex').toUpperCase()).toBe(d.R_decrypted);
    const s = bacTerminalComplete(k, ch, h(d.RND_IC), h(d.MUTUAL_AUTHENTICATE_resp_data));
    expect(s.ksEnc.toString('hex').toUpperCase()).toBe(d.KSEnc);
    expect(s.ksMac.toString('hex').toUpperCase()).toBe(d.KSMAC);
    expect(s.ssc.toString('hex').toUpperCase()).toBe(d.SSC);
  });

  it('plays the chip side with the worked example values', () => {
    const k = bacKeys(key);
    const r = bacChipRespond(k, h(d.RND_IC), h(d.MUTUAL_AUTHENTICATE_cmd).subarray(5, 45), h(d.K_IC));
    expect(r?.response.toString('hex').toUpperCase()).toBe(d.MUTUAL_AUTHENTICATE_resp_data);
    expect(r?.session.ksEnc.toString('hex').toUpperCase()).toBe(d.KSEnc);
  });

  it('rejects a wrong MRZ on the chip side and on the terminal side', () => {
    const wrong = bacKeys({ ...key, dateOfExpiry: '940624' });
    const ch = bacTerminalChallenge(wrong, h(d.RND_IC));
    expect(bacChipRespond(bacKeys(key), h(d.RND_IC), ch.data)).toBeNull();
    expect(() => bacTerminalComplete(wrong, ch, h(d.RND_IC), h(d.MUTUAL_AUTHENTICATE_resp_data))).toThrow(/MUTUAL AUTHENTICATE/);
  });

  it('protects the three APDUs and verifies the responses exactly (D.4)', () => {
    const sm = new SecureMessaging(tdesCipher(h(d.KSEnc), h(d.KSMAC)), h(d.SSC));
    const chip = new SecureMessaging(tdesCipher(h(d.KSEnc), h(d.KSMAC)), h(d.SSC));
    for (const step of d.secure_messaging) {
      const plain = decodeCommand(h(step.plain));
      const protectedApdu = sm.protectCommand(plain);
      expect(protectedApdu.toString('hex').toUpperCase(), step.step).toBe(step.protected);
      expect(sm.counter.toString('hex').toUpperCase()).toBe(step.SSC);
      expect(retailMac(h(d.KSMAC), h(step.N)).toString('hex').toUpperCase()).toBe(step.CC);
      const unwrapped = chip.unprotectCommand(protectedApdu);
      expect(unwrapped).not.toBeNull();
      expect(unwrapped!.ins).toBe(plain.ins);
      const r = sm.unprotectResponse(h(step.response));
      expect(sm.counter.toString('hex').toUpperCase()).toBe(step.resp_SSC);
      expect(r.sw).toBe(0x9000);
      expect(r.data.toString('hex').toUpperCase()).toBe(step.data ?? '');
      const again = chip.protectResponse(r.data, 0x9000);
      expect(again.toString('hex').toUpperCase()).toBe(step.response);
    }
  });

  it('refuses a response with a changed MAC', () => {
    const sm = new SecureMessaging(tdesCipher(h(d.KSEnc), h(d.KSMAC)), h(d.SSC));
    sm.protectCommand(decodeCommand(h(d.secure_messaging[0].plain)));
    const bad = h(d.secure_messaging[0].response);
    bad[6] = bad[6]! ^ 1;
    expect(() => sm.unprotectResponse(bad)).toThrow(/MAC/);
  });
});

describe('CCCD BAC key (synthetic vector)', () => {
  const v = fixtureJson('synthetic_cccd_bac_vector.json');
  it('uses the last 9 digits of the ID as document number', () => {
    const k = bacKeyForCccd('001099012345', '990101', '240101');
    expect(mrzInformation(k)).toBe(v.MRZ_information);
    const keys = bacKeys(k);
    expect(keys.kSeed.toString('hex').toUpperCase()).toBe(v.Kseed);
    expect(keys.kEnc.toString('hex').toUpperCase()).toBe(v.KEnc_parity_adjusted);
    expect(keys.kMac.toString('hex').toUpperCase()).toBe(v.KMAC_parity_adjusted);
  });
});
