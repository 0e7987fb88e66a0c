import { createHash } from 'node:crypto';
import { der, encodeOid, parseTlvs, readTlv } from '../ber.ts';
import { encodeCommand, splitResponse, swHex, type ApduTransport } from '../apdu.ts';
import { CardError } from '../errors.ts';
import { aesCbc, aesCmac } from './aes.ts';
import { mrzInformation, type BacKey } from './bac.ts';
import { kdf, KDF_ENC, KDF_MAC, KDF_PACE } from './kdf.ts';
import { SecureMessaging, aesCipher } from './secureMessaging.ts';
import { Point, CURVE_ORDER, bytesToBigInt, pointFromBytes, pointToBytes, randomScalar, type CurvePoint } from './brainpool.ts';

/** id-PACE-ECDH-GM-AES-CBC-CMAC-128 (ICAO 9303-11 §9.2.1 / BSI TR-03110-3 A.1.1.1). */
export const PACE_ECDH_GM_AES_128 = '0.4.0.127.0.7.2.2.4.2.2';
export const PARAM_BRAINPOOL_P256R1 = 13;

/** Password references of MSE:Set AT (ICAO 9303-11 §4.4.4.1). */
export const PASSWORD_MRZ = 0x01;
export const PASSWORD_CAN = 0x02;

export interface PacePassword {
  ref: number;
  /** K: the MRZ password is SHA-1(MRZ information); a CAN is its ASCII digits, not hashed. */
  k: Buffer;
}

export function canPassword(can: string): PacePassword {
  if (!/^\d{6}$/.test(can)) throw new RangeError('a CAN has 6 digits');
  return { ref: PASSWORD_CAN, k: Buffer.from(can, 'ascii') };
}

export function mrzPassword(key: BacKey): PacePassword {
  return { ref: PASSWORD_MRZ, k: createHash('sha1').update(mrzInformation(key), 'latin1').digest() };
}

export function paceKpi(p: PacePassword): Buffer {
  return kdf(p.k, KDF_PACE, 'aes128');
}

/** s = AES-CBC-Decrypt(K_pi, IV 0, z). */
export function decryptNonce(kPi: Buffer, z: Buffer): Buffer {
  return aesCbc(kPi, z, false);
}

export function encryptNonce(kPi: Buffer, s: Buffer): Buffer {
  return aesCbc(kPi, s, true);
}

/** Generic Mapping (ICAO 9303-11 §4.4.3.3.1): H = SK_map · PK_map(other), G~ = s·G + H. */
export function mapGenerator(s: Buffer, skMap: bigint, pkMapOther: Buffer): { h: CurvePoint; g: CurvePoint } {
  const other = pointFromBytes(pkMapOther);
  const h = other.multiply(skMap);
  const sn = bytesToBigInt(s) % CURVE_ORDER;
  const g = (sn === 0n ? Point.ZERO : Point.BASE.multiply(sn)).add(h);
  return { h, g };
}

export function publicKeyOn(g: CurvePoint, sk: bigint): Buffer {
  return pointToBytes(g.multiply(sk));
}

/** Only the x coordinate of the shared point feeds the KDF (§4.4.3.4, ECKA-DH). */
export function sharedSecretX(sk: bigint, pkOther: Buffer): Buffer {
  const p = pointFromBytes(pkOther).multiply(sk);
  return Buffer.from(p.toAffine().x.toString(16).padStart(64, '0'), 'hex');
}

export function sessionKeys(k: Buffer): { ksEnc: Buffer; ksMac: Buffer } {
  return { ksEnc: kdf(k, KDF_ENC, 'aes128'), ksMac: kdf(k, KDF_MAC, 'aes128') };
}

/** Token input: 7F49 { 06 OID, 86 uncompressed point } over the OTHER party's key. */
export function tokenInput(oid: string, pk: Buffer): Buffer {
  return der(0x7f49, der(0x06, encodeOid(oid)), der(0x86, pk));
}

export function authToken(ksMac: Buffer, oid: string, pk: Buffer): Buffer {
  return aesCmac(ksMac, tokenInput(oid, pk)).subarray(0, 8);
}

export function mseSetAt(oid: string, passwordRef: number, paramId?: number): Buffer {
  const parts = [der(0x80, encodeOid(oid)), der(0x83, Buffer.from([passwordRef]))];
  if (paramId !== undefined) parts.push(der(0x84, Buffer.from([paramId])));
  return encodeCommand({ cla: 0x00, ins: 0x22, p1: 0xc1, p2: 0xa4, data: Buffer.concat(parts) });
}

export function generalAuthenticate(tag: number | null, value: Buffer | null, last: boolean): Buffer {
  const inner = tag === null || value === null ? Buffer.alloc(0) : der(tag, value);
  return encodeCommand({ cla: last ? 0x00 : 0x10, ins: 0x86, p1: 0, p2: 0, data: der(0x7c, inner), le: 256 });
}

/** Reads the single data object inside a 7C dynamic authentication data answer. */
export function dynamicAuthData(data: Buffer, expectTag: number): Buffer {
  const outer = readTlv(data);
  if (outer.tag !== 0x7c) throw new CardError('CARD_PROTOCOL', 'GENERAL AUTHENTICATE answer is not dynamic authentication data');
  const inner = parseTlvs(outer.value).find((t) => t.tag === expectTag);
  if (!inner) throw new CardError('CARD_PROTOCOL', `GENERAL AUTHENTICATE answer lacks tag ${expectTag.toString(16)}`);
  return Buffer.from(inner.value);
}

export interface PaceOptions {
  password: PacePassword;
  oid?: string;
  /** Sends 84 01 <id> in MSE:Set AT; needed by cards whose EF.CardAccess lists several. */
  parameterId?: number;
  /** Test hooks: fixed ephemeral keys (the ICAO worked example's). */
  skMap?: bigint;
  skDh?: bigint;
  /** Called after each APDU (for counting). */
  onApdu?: () => void;
}

export interface PaceResult {
  sm: SecureMessaging;
  ksEnc: Buffer;
  ksMac: Buffer;
}

/** PACE with Generic Mapping over ECDH, AES-128 (ICAO 9303-11 §4.4). */
export async function runPace(t: ApduTransport, o: PaceOptions): Promise<PaceResult> {
  const oid = o.oid ?? PACE_ECDH_GM_AES_128;
  const send = async (apdu: Buffer, step: string): Promise<Buffer> => {
    const r = splitResponse(await t.transmit(apdu));
    o.onApdu?.();
    if (r.sw === 0x6300 || (r.sw & 0xfff0) === 0x63c0) throw new CardError('CARD_WRONG_KEY', `PACE ${step}: the card refused the password (${swHex(r.sw)})`);
    if (r.sw !== 0x9000) throw new CardError('CARD_PROTOCOL', `PACE ${step} failed with ${swHex(r.sw)}`);
    return r.data;
  };
  await send(mseSetAt(oid, o.password.ref, o.parameterId), 'MSE:Set AT');
  const z = dynamicAuthData(await send(generalAuthenticate(null, null, false), 'nonce'), 0x80);
  const s = decryptNonce(paceKpi(o.password), z);
  const skMap = o.skMap ?? randomScalar();
  const pkMapIfd = publicKeyOn(Point.BASE, skMap);
  const pkMapIc = dynamicAuthData(await send(generalAuthenticate(0x81, pkMapIfd, false), 'mapping'), 0x82);
  const { g } = mapGenerator(s, skMap, pkMapIc);
  const skDh = o.skDh ?? randomScalar();
  const pkDhIfd = publicKeyOn(g, skDh);
  const pkDhIc = dynamicAuthData(await send(generalAuthenticate(0x83, pkDhIfd, false), 'key agreement'), 0x84);
  // §4.4.3.3.2: the chip's ephemeral key must differ from its mapping key.
  if (pkDhIc.equals(pkMapIc)) throw new CardError('CARD_PROTOCOL', 'PACE: the chip reused its mapping key');
  const k = sharedSecretX(skDh, pkDhIc);
  const { ksEnc, ksMac } = sessionKeys(k);
  const tIfd = authToken(ksMac, oid, pkDhIc);
  const tIc = dynamicAuthData(await send(generalAuthenticate(0x85, tIfd, true), 'mutual authentication'), 0x86);
  if (!tIc.equals(authToken(ksMac, oid, pkDhIfd))) throw new CardError('CARD_WRONG_KEY', 'PACE: the chip authentication token does not verify');
  return { sm: new SecureMessaging(aesCipher(ksEnc, ksMac), Buffer.alloc(16)), ksEnc, ksMac };
}
