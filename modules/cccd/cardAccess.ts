import { decodeOid, parseTlvs, readInt, readTlv, children } from './ber.ts';
import { CardParseError } from './errors.ts';
import { PACE_ECDH_GM_AES_128, PARAM_BRAINPOOL_P256R1 } from './crypto/pace.ts';

export interface PaceInfo {
  oid: string;
  version: number;
  parameterId?: number;
  /** True for the one suite this reader implements (GM, ECDH, AES-128, brainpoolP256r1). */
  supported: boolean;
}

export interface CardAccessInfo {
  pace: PaceInfo[];
  /** Every SecurityInfo OID found (Chip Authentication, Terminal Authentication...). */
  oids: string[];
}

const PACE_PREFIX = '0.4.0.127.0.7.2.2.4.';

/** EF.CardAccess: SecurityInfos ::= SET OF SecurityInfo (ICAO 9303-11 §9.2). */
export function parseCardAccess(file: Buffer): CardAccessInfo {
  const set = readTlv(file);
  if (set.tag !== 0x31) throw new CardParseError('EF.CardAccess does not start with a SET');
  const out: CardAccessInfo = { pace: [], oids: [] };
  for (const info of children(set)) {
    if (info.tag !== 0x30) continue;
    const parts = parseTlvs(info.value);
    const oidTlv = parts[0];
    if (oidTlv?.tag !== 0x06) continue;
    const oid = decodeOid(oidTlv.value);
    out.oids.push(oid);
    if (!oid.startsWith(PACE_PREFIX) || oid.split('.').length !== 11) continue;
    const version = parts[1] && parts[1].tag === 0x02 ? readInt(parts[1]) : 0;
    const pi: PaceInfo = { oid, version, supported: false };
    if (parts[2] && parts[2].tag === 0x02) pi.parameterId = readInt(parts[2]);
    pi.supported = oid === PACE_ECDH_GM_AES_128 && version === 2 && (pi.parameterId === undefined || pi.parameterId === PARAM_BRAINPOOL_P256R1);
    out.pace.push(pi);
  }
  return out;
}
