import { randomBytes } from 'node:crypto';
import { decodeCommand, type CommandApdu } from '../../../modules/cccd/apdu.ts';
import { der, parseTlvs, readTlv, decodeOid } from '../../../modules/cccd/ber.ts';
import { bacChipRespond, bacKeys, type BacKey, type BacKeys } from '../../../modules/cccd/crypto/bac.ts';
import { SecureMessaging, aesCipher } from '../../../modules/cccd/crypto/secureMessaging.ts';
import {
  authToken,
  canPassword,
  encryptNonce,
  mapGenerator,
  paceKpi,
  publicKeyOn,
  sessionKeys,
  sharedSecretX,
  PASSWORD_CAN,
} from '../../../modules/cccd/crypto/pace.ts';
import { Point, randomScalar, type CurvePoint } from '../../../modules/cccd/crypto/brainpool.ts';
import { EMRTD_AID, FILES } from '../../../modules/cccd/emrtd.ts';

export interface ChipFiles {
  cardAccess?: Buffer;
  com: Buffer;
  dg1?: Buffer;
  dg2?: Buffer;
  dg13?: Buffer;
  sod?: Buffer;
}

export interface ChipOptions {
  files: ChipFiles;
  bacKey: BacKey;
  /** PACE CAN; PACE answers only when EF.CardAccess is present. */
  can: string;
  /** Status word for a wrong BAC key: 6300 like a real chip, 6988 like some emulators. */
  wrongKeySw?: number;
  /** Accepts extended Lc/Le. */
  extendedLength?: boolean;
}

const SW_OK = 0x9000;

type PaceState = {
  oid: string;
  s?: Buffer;
  g?: CurvePoint;
  skMap?: bigint;
  pkMapIc?: Buffer;
  skDh?: bigint;
  pkDhIc?: Buffer;
  pkDhIfd?: Buffer;
  ksEnc?: Buffer;
  ksMac?: Buffer;
};

/** The logic of a CCCD chip: files, access conditions, BAC, PACE-GM, secure messaging. */
export class SimulatedChip {
  private sm: SecureMessaging | null = null;
  private applet = false;
  private current: number | null = null;
  private rndIc: Buffer | null = null;
  private pace: PaceState | null = null;
  private readonly keys: BacKeys;
  apdus = 0;

  constructor(readonly o: ChipOptions) {
    this.keys = bacKeys(o.bacKey);
  }

  reset(): void {
    this.sm = null;
    this.applet = false;
    this.current = null;
    this.rndIc = null;
    this.pace = null;
  }

  get authenticated(): boolean {
    return this.sm !== null;
  }

  private fileByFid(fid: number): Buffer | undefined {
    const f = this.o.files;
    const map: Record<number, Buffer | undefined> = {
      [FILES.cardAccess.fid]: f.cardAccess,
      [FILES.com.fid]: f.com,
      [FILES.sod.fid]: f.sod,
      [FILES.dg1.fid]: f.dg1,
      [FILES.dg2.fid]: f.dg2,
      [FILES.dg13.fid]: f.dg13,
    };
    return map[fid];
  }

  private fidBySfi(sfi: number): number | undefined {
    return Object.values(FILES).find((f) => f.sfi === sfi)?.fid;
  }

  /** One command APDU in, one response out (data ‖ SW). */
  handle(apdu: Buffer): Buffer {
    this.apdus++;
    let c: CommandApdu;
    try {
      c = decodeCommand(apdu);
    } catch {
      return sw(0x6700);
    }
    if (c.extended && !this.o.extendedLength) return sw(0x6700);
    if ((c.cla & 0x0c) === 0x0c) {
      if (!this.sm) return sw(0x6882);
      const plain = this.sm.unprotectCommand(apdu);
      if (!plain) {
        // ICAO 9303-11 §9.8.4: a secure messaging error ends the session.
        this.sm = null;
        return sw(0x6988);
      }
      const [data, status] = this.execute(plain);
      return this.sm ? this.sm.protectResponse(data, status) : sw(status);
    }
    // A plain command during secure messaging aborts the session (as real chips do).
    if (this.sm && c.ins !== 0x22 && c.ins !== 0x86) this.sm = null;
    const [data, status] = this.execute(c);
    return Buffer.concat([data, sw(status)]);
  }

  private execute(c: CommandApdu): [Buffer, number] {
    switch (c.ins) {
      case 0xa4:
        return this.select(c);
      case 0xb0:
        return this.readBinary(c);
      case 0x84:
        this.rndIc = randomBytes(8);
        return [this.rndIc, SW_OK];
      case 0x82:
        return this.mutualAuthenticate(c);
      case 0x22:
        return this.mseSetAt(c);
      case 0x86:
        return this.generalAuthenticate(c);
      default:
        return [Buffer.alloc(0), 0x6d00];
    }
  }

  private select(c: CommandApdu): [Buffer, number] {
    const data = c.data ?? Buffer.alloc(0);
    if (c.p1 === 0x04) {
      if (!data.equals(EMRTD_AID)) return [Buffer.alloc(0), 0x6a82];
      this.applet = true;
      this.current = null;
      return [Buffer.alloc(0), SW_OK];
    }
    if (data.length !== 2) return [Buffer.alloc(0), 0x6a86];
    const fid = data.readUInt16BE(0);
    // The CCCD does not know SELECT MF.
    if (fid === 0x3f00) return [Buffer.alloc(0), 0x6d00];
    if (fid === FILES.cardAccess.fid && !this.applet) {
      if (!this.o.files.cardAccess) return [Buffer.alloc(0), 0x6a82];
      this.current = fid;
      return [Buffer.alloc(0), SW_OK];
    }
    if (!this.applet || !this.fileByFid(fid)) return [Buffer.alloc(0), 0x6a82];
    this.current = fid;
    return [Buffer.alloc(0), SW_OK];
  }

  private readBinary(c: CommandApdu): [Buffer, number] {
    let fid = this.current;
    let offset: number;
    if (c.p1 & 0x80) {
      fid = this.fidBySfi(c.p1 & 0x1f) ?? null;
      offset = c.p2;
      if (fid === null || !this.fileByFid(fid) || (fid !== FILES.cardAccess.fid && !this.applet)) return [Buffer.alloc(0), 0x6a82];
      this.current = fid;
    } else offset = ((c.p1 & 0x7f) << 8) | c.p2;
    if (fid === null) return [Buffer.alloc(0), 0x6986];
    if (fid !== FILES.cardAccess.fid && !this.sm) return [Buffer.alloc(0), 0x6982];
    const file = this.fileByFid(fid)!;
    if (offset > file.length) return [Buffer.alloc(0), 0x6b00];
    const le = c.le ?? 256;
    const out = file.subarray(offset, offset + le);
    return [Buffer.from(out), out.length < le ? 0x6282 : SW_OK];
  }

  private mutualAuthenticate(c: CommandApdu): [Buffer, number] {
    if (!this.rndIc || !c.data) return [Buffer.alloc(0), 0x6985];
    const r = bacChipRespond(this.keys, this.rndIc, c.data);
    this.rndIc = null;
    if (!r) return [Buffer.alloc(0), this.o.wrongKeySw ?? 0x6300];
    this.sm = r.session.sm;
    return [r.response, SW_OK];
  }

  private mseSetAt(c: CommandApdu): [Buffer, number] {
    if (c.p1 !== 0xc1 || c.p2 !== 0xa4 || !c.data || !this.o.files.cardAccess) return [Buffer.alloc(0), 0x6a80];
    const objs = parseTlvs(c.data);
    const oid = objs.find((o) => o.tag === 0x80);
    const ref = objs.find((o) => o.tag === 0x83);
    if (!oid || !ref || ref.value[0] !== PASSWORD_CAN) return [Buffer.alloc(0), 0x6a80];
    this.sm = null;
    this.pace = { oid: decodeOid(oid.value) };
    return [Buffer.alloc(0), SW_OK];
  }

  private generalAuthenticate(c: CommandApdu): [Buffer, number] {
    const p = this.pace;
    if (!p || !c.data) return [Buffer.alloc(0), 0x6985];
    const inner = parseTlvs(readTlv(c.data).value);
    const fail = (): [Buffer, number] => {
      this.pace = null;
      return [Buffer.alloc(0), 0x6300];
    };
    if (inner.length === 0) {
      p.s = randomBytes(16);
      return [der(0x7c, der(0x80, encryptNonce(paceKpi(canPassword(this.o.can)), p.s))), SW_OK];
    }
    const t = inner[0]!;
    if (t.tag === 0x81 && p.s) {
      p.skMap = randomScalar();
      p.pkMapIc = publicKeyOn(Point.BASE, p.skMap);
      p.g = mapGenerator(p.s, p.skMap, t.value).g;
      return [der(0x7c, der(0x82, p.pkMapIc)), SW_OK];
    }
    if (t.tag === 0x83 && p.g) {
      p.skDh = randomScalar();
      p.pkDhIc = publicKeyOn(p.g, p.skDh);
      p.pkDhIfd = Buffer.from(t.value);
      const keys = sessionKeys(sharedSecretX(p.skDh, p.pkDhIfd));
      p.ksEnc = keys.ksEnc;
      p.ksMac = keys.ksMac;
      return [der(0x7c, der(0x84, p.pkDhIc)), SW_OK];
    }
    if (t.tag === 0x85 && p.ksMac && p.ksEnc && p.pkDhIc && p.pkDhIfd) {
      // A wrong CAN gives a different nonce, generator and key: the terminal's token fails here.
      if (!t.value.equals(authToken(p.ksMac, p.oid, p.pkDhIc))) return fail();
      const tIc = authToken(p.ksMac, p.oid, p.pkDhIfd);
      this.sm = new SecureMessaging(aesCipher(p.ksEnc, p.ksMac), Buffer.alloc(16));
      this.pace = null;
      return [der(0x7c, der(0x86, tIc)), SW_OK];
    }
    return fail();
  }
}

function sw(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}
