import type { X509Certificate } from 'node:crypto';
import { encodeCommand, splitResponse, swHex, type ApduTransport, type CommandApdu } from './apdu.ts';
import { tlvTotalLength } from './ber.ts';
import { CardError } from './errors.ts';
import { cccdNumberProblem } from './idNumber.ts';
import { bacKeys, bacTerminalChallenge, bacTerminalComplete, type BacKey } from './crypto/bac.ts';
import { canPassword, runPace, PACE_ECDH_GM_AES_128 } from './crypto/pace.ts';
import type { SecureMessaging } from './crypto/secureMessaging.ts';
import { parseCardAccess } from './cardAccess.ts';
import { parseEfCom } from './efCom.ts';
import { parseDg13, type Dg13 } from './dg13.ts';
import { parseDg1, type Td1Mrz } from './dg1.ts';
import { parseDg2, type FaceImage } from './dg2.ts';
import { parseSod, checkDataGroupHashes, checkSodSignature, type HashCheck, type SignatureOutcome } from './sod.ts';
import { identityFromDg13, identityFromMrz, type CardKeys, type CccdIdentity } from './identity.ts';
import { atrSupportsExtendedLength } from './atr.ts';

/** eMRTD application (ICAO 9303-10 §3.11.2); the CCCD uses it too. */
export const EMRTD_AID = Buffer.from('A0000002471001', 'hex');

/** File identifiers (ICAO 9303-10 Table 38) and short EF identifiers. */
export const FILES = {
  cardAccess: { fid: 0x011c, sfi: 0x1c },
  com: { fid: 0x011e, sfi: 0x1e },
  sod: { fid: 0x011d, sfi: 0x1d },
  dg1: { fid: 0x0101, sfi: 0x01 },
  dg2: { fid: 0x0102, sfi: 0x02 },
  dg13: { fid: 0x010d, sfi: 0x0d },
} as const;

/** Largest short-APDU read under secure messaging: DO87 + DO99 + DO8E must fit in 256 bytes. */
export const SHORT_READ = 0xdf;

export type AccessMethod = 'PACE' | 'BAC';

export interface EmrtdReadOptions {
  keys: CardKeys;
  /** Access control order; PACE is used only when EF.CardAccess announces it. */
  order?: Array<'pace' | 'bac'>;
  readDg1?: boolean;
  readDg2?: boolean;
  readSod?: boolean;
  readEfCom?: boolean;
  cscas?: X509Certificate[];
  /** 'auto' reads the ATR's card capabilities. */
  extendedLength?: 'auto' | boolean;
  atr?: Buffer;
  /** Largest extended-length read (card buffers differ). */
  maxExtendedRead?: number;
  /** 'fid' selects each file (what every public CCCD reader does); 'sfi' reads by short EF id without a SELECT. */
  fileAccess?: 'fid' | 'sfi';
  now?: Date;
}

export interface EmrtdReadResult {
  identity: CccdIdentity;
  access: AccessMethod;
  dg13?: Dg13;
  dg1?: Td1Mrz;
  face?: FaceImage;
  dataGroups: number[];
  verification: { hashes: HashCheck | null; signature: SignatureOutcome };
  apduCount: number;
  bytesRead: Record<string, number>;
}

interface Channel {
  sm: SecureMessaging | null;
}

/**
 * The reading sequence of an ICAO 9303 eMRTD (TD1 CCCD) over any APDU transport:
 * EF.CardAccess → PACE (or BAC) → eMRTD applet → EF.COM, DG13, [DG1, DG2], EF.SOD → passive
 * authentication. Never selects the master file (the CCCD answers 6D00).
 */
export class EmrtdSession {
  apduCount = 0;
  private readonly ch: Channel = { sm: null };
  private readonly extended: boolean;
  private readonly o: EmrtdReadOptions;

  constructor(
    private readonly transport: ApduTransport,
    options: EmrtdReadOptions,
  ) {
    this.o = options;
    this.extended = options.extendedLength === 'auto' || options.extendedLength === undefined ? atrSupportsExtendedLength(options.atr) : options.extendedLength;
  }

  private async raw(apdu: Buffer): Promise<{ data: Buffer; sw: number }> {
    let r: Buffer;
    try {
      r = await this.transport.transmit(apdu);
    } catch (err) {
      if (err instanceof CardError) throw err;
      throw new CardError('CARD_REMOVED', 'the card stopped answering (removed?)', { cause: err });
    }
    this.apduCount++;
    return splitResponse(r);
  }

  /** Sends a command, protected when a secure messaging session is up. */
  async send(c: CommandApdu): Promise<{ data: Buffer; sw: number }> {
    if (!this.ch.sm) return this.raw(encodeCommand(c));
    let r: Buffer;
    try {
      r = await this.transport.transmit(this.ch.sm.protectCommand(c));
    } catch (err) {
      if (err instanceof CardError) throw err;
      throw new CardError('CARD_REMOVED', 'the card stopped answering (removed?)', { cause: err });
    }
    this.apduCount++;
    return this.ch.sm.unprotectResponse(r);
  }

  async selectFile(fid: number): Promise<number> {
    const r = await this.send({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: Buffer.from([fid >> 8, fid & 0xff]) });
    return r.sw;
  }

  /** Reads a whole transparent EF in the fewest READ BINARY commands the card allows. */
  async readFile(file: { fid: number; sfi: number }, name: string): Promise<Buffer | null> {
    const bySfi = this.o.fileAccess === 'sfi';
    if (!bySfi) {
      const sw = await this.selectFile(file.fid);
      if (sw === 0x6a82) return null;
      if (sw === 0x6982) throw new CardError('CARD_ACCESS_DENIED', `${name}: access denied (6982)`);
      if (sw !== 0x9000) throw new CardError('CARD_PROTOCOL', `${name}: SELECT answered ${swHex(sw)}`);
    }
    const chunk = this.extended ? Math.min(this.o.maxExtendedRead ?? 0x2000, 0xfff0) : SHORT_READ;
    const parts: Buffer[] = [];
    let have = 0;
    let total: number | null = null;
    for (;;) {
      const want = total === null ? chunk : Math.min(chunk, total - have);
      const cmd: CommandApdu =
        bySfi && have === 0
          ? { cla: 0, ins: 0xb0, p1: 0x80 | file.sfi, p2: 0, le: want }
          : { cla: 0, ins: 0xb0, p1: (have >> 8) & 0x7f, p2: have & 0xff, le: want };
      if (have > 0x7fff) throw new CardError('CARD_PROTOCOL', `${name} is larger than READ BINARY can address`);
      let r = await this.send(cmd);
      if ((r.sw & 0xff00) === 0x6c00) r = await this.send({ ...cmd, le: r.sw & 0xff || 256 });
      if (have === 0 && bySfi && r.sw === 0x6a82) return null;
      if (r.sw === 0x6982) throw new CardError('CARD_ACCESS_DENIED', `${name}: access denied (6982)`);
      // 6282: end of file reached before Le bytes; the data is still valid.
      if (r.sw !== 0x9000 && r.sw !== 0x6282) throw new CardError('CARD_PROTOCOL', `${name}: READ BINARY answered ${swHex(r.sw)}`);
      if (r.data.length === 0) break;
      parts.push(r.data);
      have += r.data.length;
      if (total === null) {
        total = tlvTotalLength(Buffer.concat(parts));
        if (total === null) throw new CardError('CARD_PROTOCOL', `${name} does not start with a readable TLV header`);
      }
      if (have >= total || r.sw === 0x6282) break;
    }
    const file2 = Buffer.concat(parts);
    return total !== null && file2.length > total ? file2.subarray(0, total) : file2;
  }

  private async selectApplet(): Promise<void> {
    const r = await this.send({ cla: 0, ins: 0xa4, p1: 0x04, p2: 0x0c, data: EMRTD_AID });
    if (r.sw !== 0x9000) throw new CardError('CARD_NOT_CCCD', `the eMRTD application is not on this card (${swHex(r.sw)})`);
  }

  private async tryBac(key: BacKey): Promise<boolean> {
    const keys = bacKeys(key);
    const ch = await this.raw(encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 }));
    if (ch.sw !== 0x9000 || ch.data.length !== 8) throw new CardError('CARD_PROTOCOL', `GET CHALLENGE answered ${swHex(ch.sw)}`);
    const t = bacTerminalChallenge(keys, ch.data);
    const r = await this.raw(encodeCommand({ cla: 0, ins: 0x82, p1: 0, p2: 0, data: t.data, le: 40 }));
    // 6300 on real chips, 6988 on some emulators: the key is wrong.
    if (r.sw === 0x6300 || r.sw === 0x6988 || r.sw === 0x6982) return false;
    if (r.sw !== 0x9000) throw new CardError('CARD_PROTOCOL', `MUTUAL AUTHENTICATE answered ${swHex(r.sw)}`);
    this.ch.sm = bacTerminalComplete(keys, t, ch.data, r.data).sm;
    return true;
  }

  /** Access control: PACE with the CAN when announced, else BAC with each candidate key. */
  async authenticate(cardAccess: Buffer | null): Promise<AccessMethod> {
    const order = this.o.order ?? ['pace', 'bac'];
    const pace = cardAccess ? parseCardAccess(cardAccess).pace.find((p) => p.supported) : undefined;
    let wrongKey = false;
    let appletSelected = false;
    for (const method of order) {
      if (method === 'pace' && pace && this.o.keys.can) {
        try {
          const r = await runPace(
            { transmit: (a) => this.transport.transmit(a) },
            {
              password: canPassword(this.o.keys.can),
              oid: pace.oid ?? PACE_ECDH_GM_AES_128,
              ...(pace.parameterId !== undefined ? { parameterId: pace.parameterId } : {}),
              onApdu: () => this.apduCount++,
            },
          );
          this.ch.sm = r.sm;
          await this.selectApplet();
          return 'PACE';
        } catch (err) {
          if (err instanceof CardError && err.code === 'CARD_WRONG_KEY') {
            wrongKey = true;
            continue;
          }
          if (err instanceof CardError) throw err;
          throw new CardError('CARD_REMOVED', 'the card stopped answering (removed?)', { cause: err });
        }
      }
      if (method === 'bac' && this.o.keys.bac.length > 0) {
        if (!appletSelected) {
          await this.selectApplet();
          appletSelected = true;
        }
        for (const key of this.o.keys.bac) {
          if (await this.tryBac(key)) return 'BAC';
          wrongKey = true;
        }
      }
    }
    if (wrongKey) throw new CardError('CARD_WRONG_KEY', 'the card refused every key (wrong number, date of birth or expiry)');
    throw new CardError('CARD_NO_KEY', 'no key that this card accepts: scan the QR code or type the 12-digit number');
  }

  async read(): Promise<EmrtdReadResult> {
    const bytesRead: Record<string, number> = {};
    // EF.CardAccess sits in the master file; selecting it by FID needs no SELECT of 3F00.
    let cardAccess: Buffer | null = null;
    try {
      cardAccess = await this.readFile(FILES.cardAccess, 'EF.CardAccess');
    } catch (err) {
      if (!(err instanceof CardError) || err.code === 'CARD_REMOVED') throw err;
      cardAccess = null; // a BAC-only chip may not have it
    }
    if (cardAccess) bytesRead.cardAccess = cardAccess.length;
    const access = await this.authenticate(cardAccess);
    let dataGroups = [1, 2, 13];
    if (this.o.readEfCom !== false) {
      const com = await this.readFile(FILES.com, 'EF.COM');
      if (com) {
        bytesRead.com = com.length;
        dataGroups = parseEfCom(com).dataGroups;
      }
    }
    const files = new Map<number, Buffer>();
    const result: Partial<EmrtdReadResult> = { access, dataGroups };
    if (dataGroups.includes(13)) {
      const dg13 = await this.readFile(FILES.dg13, 'DG13');
      if (dg13) {
        files.set(13, dg13);
        bytesRead.dg13 = dg13.length;
        result.dg13 = parseDg13(dg13);
      }
    }
    if ((this.o.readDg1 || !result.dg13) && dataGroups.includes(1)) {
      const dg1 = await this.readFile(FILES.dg1, 'DG1');
      if (dg1) {
        files.set(1, dg1);
        bytesRead.dg1 = dg1.length;
        result.dg1 = parseDg1(dg1);
      }
    }
    if (this.o.readDg2 && dataGroups.includes(2)) {
      const dg2 = await this.readFile(FILES.dg2, 'DG2');
      if (dg2) {
        files.set(2, dg2);
        bytesRead.dg2 = dg2.length;
        result.face = parseDg2(dg2);
      }
    }
    let hashes: HashCheck | null = null;
    let signature: SignatureOutcome = { status: 'not-checked', detail: 'EF.SOD not read' };
    if (this.o.readSod !== false) {
      const sodFile = await this.readFile(FILES.sod, 'EF.SOD');
      if (sodFile) {
        bytesRead.sod = sodFile.length;
        const sod = parseSod(sodFile);
        hashes = checkDataGroupHashes(sod, files);
        if (!hashes.ok) {
          const which = [...hashes.mismatched.map((n) => `DG${n}`), ...hashes.unlisted.map((n) => `DG${n} (not listed)`)].join(', ');
          throw new CardError('CARD_REJECTED', `card rejected: the data on the chip does not match its signed hashes (${which})`);
        }
        signature = checkSodSignature(sod, this.o.cscas ?? []);
        if (signature.status === 'failed') throw new CardError('CARD_REJECTED', `card rejected: ${signature.detail}`);
      }
    }
    const verified = hashes?.ok === true && signature.status === 'verified';
    const warnings: string[] = [];
    if (signature.status === 'not-checked') warnings.push(signature.detail);
    let identity: CccdIdentity;
    if (result.dg13) identity = identityFromDg13(result.dg13, verified, this.o.now, warnings);
    else if (result.dg1) identity = identityFromMrz(result.dg1, verified ? 'chip-verified' : 'chip-unverified', this.o.now);
    else throw new CardError('CARD_NOT_CCCD', 'the card holds neither DG13 nor DG1');
    // The same number rule as a QR or a typed number (idNumber.ts): a chip whose number breaks it
    // is not a CCCD this box can register, signed or not.
    const numberProblem = identity.idNumber ? cccdNumberProblem(identity.idNumber) : null;
    if (numberProblem) throw new CardError('CARD_NOT_CCCD', `the chip's ID number is not a CCCD number: ${numberProblem.reason}`);
    if (this.o.keys.idNumber && identity.idNumber && identity.idNumber !== this.o.keys.idNumber)
      identity.warnings.push('the chip belongs to a different ID number than the one scanned or typed');
    return { ...(result as EmrtdReadResult), identity, verification: { hashes, signature }, apduCount: this.apduCount, bytesRead };
  }
}

/** Reads a card: one call for the reader driver, the CLI and the bench. */
export async function readCccd(transport: ApduTransport, options: EmrtdReadOptions): Promise<EmrtdReadResult> {
  return new EmrtdSession(transport, options).read();
}

/** Fewest APDUs a read needs: per file one SELECT (unless by SFI) + ceil(size / chunk). */
export function minimumApdus(sizes: number[], chunk: number, selectEach = true): number {
  return sizes.reduce((n, s) => n + (selectEach ? 1 : 0) + Math.max(1, Math.ceil(s / chunk)), 0);
}
