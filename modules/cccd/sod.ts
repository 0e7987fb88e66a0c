import { createHash, verify as verifySig, X509Certificate, constants } from 'node:crypto';
import { readTlv, children, decodeOid, readInt, type Tlv } from './ber.ts';
import { CardParseError } from './errors.ts';

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const SIG_HASH: Record<string, string | null> = {
  '1.2.840.113549.1.1.1': null, // rsaEncryption: hash from digestAlgorithm
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.10': null, // RSASSA-PSS
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_RSA_PSS = '1.2.840.113549.1.1.10';

export interface SecurityObject {
  /** Node hash name of the data group hashes. */
  hashAlgorithm: string;
  dataGroupHashes: Map<number, Buffer>;
  /** The DER LDSSecurityObject the signature covers (through messageDigest). */
  eContent: Buffer;
  signedAttrs: Buffer | null;
  digestAlgorithm: string;
  signatureAlgorithmOid: string;
  signature: Buffer;
  certificates: Buffer[];
}

function seq(t: Tlv | undefined, what: string): Tlv[] {
  if (!t || (t.tag !== 0x30 && t.tag !== 0x31 && t.tag !== 0xa0 && t.tag !== 0xa1)) throw new CardParseError(`EF.SOD: ${what} missing`);
  return children(t);
}

function algOid(t: Tlv | undefined, what: string): string {
  const first = seq(t, what)[0];
  if (first?.tag !== 0x06) throw new CardParseError(`EF.SOD: ${what} has no OID`);
  return decodeOid(first.value);
}

function hashName(oid: string): string {
  const n = HASHES[oid];
  if (!n) throw new CardParseError(`EF.SOD: unsupported hash algorithm ${oid}`);
  return n;
}

/** EF.SOD: 77 { ContentInfo { signedData, [0] SignedData } } (ICAO 9303-10 §4.6.2, RFC 5652). */
export function parseSod(file: Buffer): SecurityObject {
  const top = readTlv(file);
  if (top.tag !== 0x77) throw new CardParseError('EF.SOD does not start with tag 77');
  const ci = seq(children(top)[0], 'ContentInfo');
  if (ci[0]?.tag !== 0x06 || decodeOid(ci[0].value) !== OID_SIGNED_DATA) throw new CardParseError('EF.SOD is not CMS SignedData');
  const sd = seq(seq(ci[1], 'SignedData wrapper')[0], 'SignedData');
  const encap = seq(sd[2], 'encapContentInfo');
  if (encap[0]?.tag !== 0x06 || decodeOid(encap[0].value) !== OID_LDS_SECURITY_OBJECT) throw new CardParseError('EF.SOD does not hold an LDS security object');
  const octets = seq(encap[1], 'eContent')[0];
  if (octets?.tag !== 0x04) throw new CardParseError('EF.SOD eContent is not an OCTET STRING');
  const eContent = Buffer.from(octets.value);
  const lso = seq(readTlv(eContent), 'LDSSecurityObject');
  const hashAlgorithm = hashName(algOid(lso[1], 'hash algorithm'));
  const dataGroupHashes = new Map<number, Buffer>();
  for (const dgh of seq(lso[2], 'data group hashes')) {
    const [num, hash] = seq(dgh, 'data group hash');
    if (!num || !hash || hash.tag !== 0x04) throw new CardParseError('EF.SOD: malformed data group hash');
    dataGroupHashes.set(readInt(num), Buffer.from(hash.value));
  }
  let i = 3;
  const certificates: Buffer[] = [];
  if (sd[i]?.tag === 0xa0) {
    for (const c of children(sd[i]!)) certificates.push(Buffer.from(c.raw));
    i++;
  }
  if (sd[i]?.tag === 0xa1) i++;
  const signers = seq(sd[i], 'signerInfos');
  const si = seq(signers[0], 'SignerInfo');
  let j = 2;
  const digestAlgorithm = hashName(algOid(si[j++], 'digest algorithm'));
  let signedAttrs: Buffer | null = null;
  if (si[j]?.tag === 0xa0) {
    signedAttrs = Buffer.from(si[j]!.raw);
    j++;
  }
  const signatureAlgorithmOid = algOid(si[j++], 'signature algorithm');
  const sig = si[j];
  if (sig?.tag !== 0x04) throw new CardParseError('EF.SOD: signature missing');
  return { hashAlgorithm, dataGroupHashes, eContent, signedAttrs, digestAlgorithm, signatureAlgorithmOid, signature: Buffer.from(sig.value), certificates };
}

export interface HashCheck {
  ok: boolean;
  checked: number[];
  mismatched: number[];
  /** Data groups read that EF.SOD does not list. */
  unlisted: number[];
}

/** Passive authentication, hash part: every data group read must hash to EF.SOD's value. */
export function checkDataGroupHashes(sod: SecurityObject, groups: Map<number, Buffer>): HashCheck {
  const out: HashCheck = { ok: true, checked: [], mismatched: [], unlisted: [] };
  for (const [n, bytes] of groups) {
    const expected = sod.dataGroupHashes.get(n);
    if (!expected) {
      out.unlisted.push(n);
      out.ok = false;
      continue;
    }
    out.checked.push(n);
    if (!createHash(sod.hashAlgorithm).update(bytes).digest().equals(expected)) {
      out.mismatched.push(n);
      out.ok = false;
    }
  }
  return out;
}

export type SignatureOutcome = { status: 'verified'; detail: string } | { status: 'not-checked'; detail: string } | { status: 'failed'; detail: string };

function messageDigestOf(signedAttrs: Buffer): Buffer | null {
  for (const attr of children(readTlv(signedAttrs))) {
    const [oid, values] = children(attr);
    if (oid?.tag === 0x06 && decodeOid(oid.value) === OID_MESSAGE_DIGEST && values) {
      const v = children(values)[0];
      if (v?.tag === 0x04) return Buffer.from(v.value);
    }
  }
  return null;
}

/** Loads every certificate of a PEM bundle (a CSCA master list in PEM, or one certificate). */
export function loadCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Signature part of passive authentication: the document signer signed the attributes
 * (whose messageDigest is the LDS object's hash), and a configured CSCA issued the signer.
 */
export function checkSodSignature(sod: SecurityObject, cscas: X509Certificate[]): SignatureOutcome {
  if (cscas.length === 0) return { status: 'not-checked', detail: 'signature not checked: no CSCA certificate configured' };
  try {
    let signedBytes = sod.eContent;
    if (sod.signedAttrs) {
      const md = messageDigestOf(sod.signedAttrs);
      if (!md || !createHash(sod.digestAlgorithm).update(sod.eContent).digest().equals(md))
        return { status: 'failed', detail: 'messageDigest does not match the security object' };
      // RFC 5652 §5.4: the signature covers the attributes re-tagged as a SET (31).
      signedBytes = Buffer.concat([Buffer.from([0x31]), sod.signedAttrs.subarray(1)]);
    }
    const hash = SIG_HASH[sod.signatureAlgorithmOid] === undefined ? undefined : (SIG_HASH[sod.signatureAlgorithmOid] ?? sod.digestAlgorithm);
    if (!hash) return { status: 'failed', detail: `unsupported signature algorithm ${sod.signatureAlgorithmOid}` };
    const certs = sod.certificates.map((c) => new X509Certificate(c));
    if (certs.length === 0) return { status: 'failed', detail: 'EF.SOD carries no document signer certificate' };
    for (const ds of certs) {
      const key =
        sod.signatureAlgorithmOid === OID_RSA_PSS
          ? { key: ds.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
          : ds.publicKey;
      if (!verifySig(hash, signedBytes, key, sod.signature)) continue;
      const issuer = cscas.find((c) => ds.checkIssued(c) && ds.verify(c.publicKey));
      if (!issuer) return { status: 'failed', detail: 'the document signer was not issued by a configured CSCA' };
      return { status: 'verified', detail: `signed by "${ds.subject.replace(/\n/g, ', ')}" under CSCA "${issuer.subject.replace(/\n/g, ', ')}"` };
    }
    return { status: 'failed', detail: 'the security object signature does not verify' };
  } catch (err) {
    return { status: 'failed', detail: `signature check error: ${(err as Error).message}` };
  }
}
