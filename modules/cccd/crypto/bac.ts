import { createHash, randomBytes } from 'node:crypto';
import { tdesCbc, retailMacPadded } from './des.ts';
import { kdf, KDF_ENC, KDF_MAC } from './kdf.ts';
import { xor } from './padding.ts';
import { SecureMessaging, tdesCipher } from './secureMessaging.ts';
import { CardError } from '../errors.ts';

/** ICAO 9303-3 §4.9 check digit: weights 7-3-1, digits as values, A–Z = 10–35, '<' = 0. */
export function checkDigit(s: string): string {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    let v: number;
    if (ch >= '0' && ch <= '9') v = ch.charCodeAt(0) - 48;
    else if (ch >= 'A' && ch <= 'Z') v = ch.charCodeAt(0) - 55;
    else if (ch === '<') v = 0;
    else throw new RangeError(`character not allowed in an MRZ field: ${JSON.stringify(ch)}`);
    sum += v * weights[i % 3]!;
  }
  return String(sum % 10);
}

/** The three MRZ fields BAC keys are derived from (dates YYMMDD). */
export interface BacKey {
  documentNumber: string;
  dateOfBirth: string;
  dateOfExpiry: string;
}

/** For a CCCD the document number is the LAST 9 digits of the 12-digit ID. */
export function bacKeyForCccd(id12: string, dateOfBirth: string, dateOfExpiry: string): BacKey {
  if (!/^\d{12}$/.test(id12)) throw new RangeError('a CCCD number has 12 digits');
  return { documentNumber: id12.slice(3), dateOfBirth, dateOfExpiry };
}

/** ICAO 9303-11 §9.7.2: document number (padded with '<' to 9) + cd, DOB + cd, DOE + cd. */
export function mrzInformation(k: BacKey): string {
  const doc = k.documentNumber.padEnd(9, '<');
  if (!/^\d{6}$/.test(k.dateOfBirth) || !/^\d{6}$/.test(k.dateOfExpiry)) throw new RangeError('MRZ dates are YYMMDD');
  return doc + checkDigit(doc) + k.dateOfBirth + checkDigit(k.dateOfBirth) + k.dateOfExpiry + checkDigit(k.dateOfExpiry);
}

export function bacKeySeed(k: BacKey): Buffer {
  return createHash('sha1').update(mrzInformation(k), 'latin1').digest().subarray(0, 16);
}

export interface BacKeys {
  kSeed: Buffer;
  kEnc: Buffer;
  kMac: Buffer;
}

export function bacKeys(k: BacKey): BacKeys {
  const kSeed = bacKeySeed(k);
  return { kSeed, kEnc: kdf(kSeed, KDF_ENC, '3des'), kMac: kdf(kSeed, KDF_MAC, '3des') };
}

/** Terminal half of BAC mutual authentication (ICAO 9303-11 §9.7.2, §D.3). */
export function bacTerminalChallenge(keys: BacKeys, rndIc: Buffer, rndIfd: Buffer = randomBytes(8), kIfd: Buffer = randomBytes(16)) {
  const s = Buffer.concat([rndIfd, rndIc, kIfd]);
  const eIfd = tdesCbc(keys.kEnc, s, true);
  const mIfd = retailMacPadded(keys.kMac, eIfd);
  return { rndIfd, kIfd, eIfd, mIfd, data: Buffer.concat([eIfd, mIfd]) };
}

export interface BacSession {
  ksEnc: Buffer;
  ksMac: Buffer;
  ssc: Buffer;
  sm: SecureMessaging;
}

function session(kIfd: Buffer, kIc: Buffer, rndIc: Buffer, rndIfd: Buffer): BacSession {
  const seed = xor(kIfd, kIc);
  const ksEnc = kdf(seed, KDF_ENC, '3des');
  const ksMac = kdf(seed, KDF_MAC, '3des');
  const ssc = Buffer.concat([rndIc.subarray(4, 8), rndIfd.subarray(4, 8)]);
  return { ksEnc, ksMac, ssc, sm: new SecureMessaging(tdesCipher(ksEnc, ksMac), ssc) };
}

/** Checks the chip's answer to MUTUAL AUTHENTICATE and derives the session. */
export function bacTerminalComplete(keys: BacKeys, challenge: { rndIfd: Buffer; kIfd: Buffer }, rndIc: Buffer, response: Buffer): BacSession {
  if (response.length !== 40) throw new CardError('CARD_WRONG_KEY', 'MUTUAL AUTHENTICATE answer has the wrong length');
  const eIc = response.subarray(0, 32);
  if (!retailMacPadded(keys.kMac, eIc).equals(response.subarray(32))) throw new CardError('CARD_WRONG_KEY', 'MUTUAL AUTHENTICATE answer MAC does not verify');
  const r = tdesCbc(keys.kEnc, eIc, false);
  if (!r.subarray(0, 8).equals(rndIc) || !r.subarray(8, 16).equals(challenge.rndIfd))
    throw new CardError('CARD_WRONG_KEY', 'MUTUAL AUTHENTICATE nonces do not match');
  return session(challenge.kIfd, r.subarray(16, 32), rndIc, challenge.rndIfd);
}

/** Chip half (the simulator): returns the answer and session, or null for a wrong key. */
export function bacChipRespond(keys: BacKeys, rndIc: Buffer, command: Buffer, kIc: Buffer = randomBytes(16)): { response: Buffer; session: BacSession } | null {
  if (command.length !== 40) return null;
  const eIfd = command.subarray(0, 32);
  if (!retailMacPadded(keys.kMac, eIfd).equals(command.subarray(32))) return null;
  const s = tdesCbc(keys.kEnc, eIfd, false);
  if (!s.subarray(8, 16).equals(rndIc)) return null;
  const rndIfd = s.subarray(0, 8);
  const r = Buffer.concat([rndIc, rndIfd, kIc]);
  const eIc = tdesCbc(keys.kEnc, r, true);
  return { response: Buffer.concat([eIc, retailMacPadded(keys.kMac, eIc)]), session: session(s.subarray(16, 32), kIc, rndIc, rndIfd) };
}
