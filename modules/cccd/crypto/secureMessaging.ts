import { encodeCommand, decodeCommand, type CommandApdu } from '../apdu.ts';
import { CardError } from '../errors.ts';
import { parseTlvs } from '../ber.ts';
import { tdesCbc, retailMac } from './des.ts';
import { aesCbc, aesCmac, aesEcbBlock } from './aes.ts';
import { pad, unpad } from './padding.ts';

/** The cipher suite of a secure messaging session (ICAO 9303-11 §9.8). */
export interface SmCipher {
  readonly blockSize: 8 | 16;
  encrypt(ssc: Buffer, data: Buffer): Buffer;
  decrypt(ssc: Buffer, data: Buffer): Buffer;
  /** MAC over input already padded to the block size. */
  mac(paddedInput: Buffer): Buffer;
}

/** 3DES with retail MAC, IV zero (BAC, §9.8.6.1). */
export function tdesCipher(kEnc: Buffer, kMac: Buffer): SmCipher {
  return {
    blockSize: 8,
    encrypt: (_ssc, data) => tdesCbc(kEnc, data, true),
    decrypt: (_ssc, data) => tdesCbc(kEnc, data, false),
    mac: (input) => retailMac(kMac, input),
  };
}

/** AES-CBC with IV = E(K_enc, SSC) and CMAC truncated to 8 bytes (PACE, §9.8.6.3). */
export function aesCipher(kEnc: Buffer, kMac: Buffer): SmCipher {
  return {
    blockSize: 16,
    encrypt: (ssc, data) => aesCbc(kEnc, data, true, aesEcbBlock(kEnc, ssc)),
    decrypt: (ssc, data) => aesCbc(kEnc, data, false, aesEcbBlock(kEnc, ssc)),
    mac: (input) => aesCmac(kMac, input).subarray(0, 8),
  };
}

function tlv(tag: number, value: Buffer): Buffer {
  const len = value.length;
  const l = len < 0x80 ? Buffer.from([len]) : len < 0x100 ? Buffer.from([0x81, len]) : Buffer.from([0x82, len >> 8, len & 0xff]);
  return Buffer.concat([Buffer.from([tag]), l, value]);
}

function leBytes(le: number, extended: boolean): Buffer {
  if (!extended) return Buffer.from([le >= 256 ? 0 : le]);
  return Buffer.from([(le >= 65536 ? 0 : le) >> 8, (le >= 65536 ? 0 : le) & 0xff]);
}

/**
 * One secure messaging session: the send sequence counter increments before each command
 * and before each response (§9.8.3). Both ends use this class: the terminal calls
 * protectCommand/unprotectResponse, the simulated chip unprotectCommand/protectResponse.
 */
export class SecureMessaging {
  private readonly ssc: Buffer;

  constructor(
    private readonly cipher: SmCipher,
    ssc: Buffer,
  ) {
    this.ssc = Buffer.from(ssc);
  }

  get counter(): Buffer {
    return Buffer.from(this.ssc);
  }

  private increment(): void {
    for (let i = this.ssc.length - 1; i >= 0; i--) {
      this.ssc[i] = (this.ssc[i]! + 1) & 0xff;
      if (this.ssc[i] !== 0) break;
    }
  }

  private macOver(parts: Buffer[]): Buffer {
    return this.cipher.mac(pad(Buffer.concat([this.ssc, ...parts]), this.cipher.blockSize));
  }

  protectCommand(c: CommandApdu): Buffer {
    this.increment();
    const cla = c.cla | 0x0c;
    const header = Buffer.from([cla, c.ins, c.p1, c.p2]);
    const extended = c.extended === true || (c.le !== undefined && c.le > 256);
    let do87: Buffer = Buffer.alloc(0);
    if (c.data && c.data.length > 0) {
      const enc = this.cipher.encrypt(this.ssc, pad(c.data, this.cipher.blockSize));
      do87 = tlv(0x87, Buffer.concat([Buffer.from([0x01]), enc]));
    }
    const do97 = c.le !== undefined ? tlv(0x97, leBytes(c.le, extended)) : Buffer.alloc(0);
    const cc = this.macOver([pad(header, this.cipher.blockSize), do87, do97]);
    const body = Buffer.concat([do87, do97, tlv(0x8e, cc)]);
    return encodeCommand({ cla, ins: c.ins, p1: c.p1, p2: c.p2, data: body, le: extended ? 65536 : 256, extended: extended || body.length > 255 });
  }

  unprotectResponse(response: Buffer): { data: Buffer; sw: number } {
    this.increment();
    if (response.length < 2) throw new CardError('CARD_SM_FAILED', 'secure messaging response without status word');
    const outerSw = response.readUInt16BE(response.length - 2);
    const body = response.subarray(0, response.length - 2);
    if (body.length === 0) return { data: Buffer.alloc(0), sw: outerSw }; // plain error: session is over
    const objs = parseTlvs(body);
    const do87 = objs.find((o) => o.tag === 0x87);
    const do99 = objs.find((o) => o.tag === 0x99);
    const do8e = objs.find((o) => o.tag === 0x8e);
    if (!do8e) throw new CardError('CARD_SM_FAILED', 'secure messaging response without MAC');
    const macced = Buffer.concat([do87?.raw ?? Buffer.alloc(0), do99?.raw ?? Buffer.alloc(0)]);
    const cc = this.macOver([macced]);
    if (!cc.equals(do8e.value)) throw new CardError('CARD_SM_FAILED', 'secure messaging response MAC does not verify');
    let data: Buffer = Buffer.alloc(0);
    if (do87) {
      if (do87.value[0] !== 0x01) throw new CardError('CARD_SM_FAILED', 'unknown padding indicator in DO87');
      const plain = unpad(this.cipher.decrypt(this.ssc, do87.value.subarray(1)));
      if (!plain) throw new CardError('CARD_SM_FAILED', 'bad padding in secure messaging response');
      data = plain;
    }
    const sw = do99 && do99.value.length === 2 ? do99.value.readUInt16BE(0) : outerSw;
    return { data, sw };
  }

  /** Chip side: verifies and decrypts a protected command; null when its MAC fails. */
  unprotectCommand(apdu: Buffer): CommandApdu | null {
    this.increment();
    const c = decodeCommand(apdu);
    if ((c.cla & 0x0c) !== 0x0c || !c.data) return null;
    const objs = parseTlvs(c.data);
    const do87 = objs.find((o) => o.tag === 0x87);
    const do97 = objs.find((o) => o.tag === 0x97);
    const do8e = objs.find((o) => o.tag === 0x8e);
    if (!do8e) return null;
    const header = Buffer.from([c.cla, c.ins, c.p1, c.p2]);
    const cc = this.macOver([pad(header, this.cipher.blockSize), do87?.raw ?? Buffer.alloc(0), do97?.raw ?? Buffer.alloc(0)]);
    if (!cc.equals(do8e.value)) return null;
    const out: CommandApdu = { cla: c.cla & ~0x0c, ins: c.ins, p1: c.p1, p2: c.p2 };
    if (do87) {
      const plain = unpad(this.cipher.decrypt(this.ssc, do87.value.subarray(1)));
      if (!plain) return null;
      out.data = plain;
    }
    if (do97) {
      const v = do97.value;
      const n = v.length === 1 ? v[0]! : v.length === 2 ? v.readUInt16BE(0) : 0;
      out.le = n === 0 ? (v.length === 2 ? 65536 : 256) : n;
      out.extended = v.length === 2;
    }
    return out;
  }

  /** Chip side: wraps response data and status word. */
  protectResponse(data: Buffer, sw: number): Buffer {
    this.increment();
    let do87: Buffer = Buffer.alloc(0);
    if (data.length > 0) do87 = tlv(0x87, Buffer.concat([Buffer.from([0x01]), this.cipher.encrypt(this.ssc, pad(data, this.cipher.blockSize))]));
    const swb = Buffer.alloc(2);
    swb.writeUInt16BE(sw);
    const do99 = tlv(0x99, swb);
    const cc = this.macOver([do87, do99]);
    return Buffer.concat([do87, do99, tlv(0x8e, cc), Buffer.from([0x90, 0x00])]);
  }
}
