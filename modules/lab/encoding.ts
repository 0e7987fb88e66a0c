import iconv from 'iconv-lite';

/**
 * Per-device text decoding for lab analyzers. Decoding happens after framing and checksum
 * (checksums are over raw bytes) and the result is normalised to NFC: Windows-1258 yields a
 * base letter plus a combining tone mark, so 'Nguyễn' would otherwise be 7 code points.
 */
export type LabTextEncoding = 'utf-8' | 'latin1' | 'windows-1258' | 'tcvn3' | 'viscii';

export const LAB_TEXT_ENCODINGS: readonly LabTextEncoding[] = ['utf-8', 'latin1', 'windows-1258', 'tcvn3', 'viscii'];

const ICONV_NAME: Record<LabTextEncoding, string> = {
  'utf-8': 'utf8',
  latin1: 'latin1',
  'windows-1258': 'windows1258',
  tcvn3: 'tcvn',
  viscii: 'viscii',
};

/** Encodings that put Vietnamese capitals on C0 bytes (TCVN3 'Ụ' = 0x02 STX, 'Ữ' = 0x06 ACK...). */
const COLLIDES_WITH_CONTROL_BYTES = new Set<LabTextEncoding>(['tcvn3', 'viscii']);

export class EncodingError extends Error {
  readonly code: 'LAB_ENCODING_UNKNOWN' | 'LAB_ENCODING_UNSAFE_ON_WIRE';
  constructor(code: EncodingError['code'], message: string) {
    super(message);
    this.name = 'EncodingError';
    this.code = code;
  }
}

export function isLabTextEncoding(name: string): name is LabTextEncoding {
  return (LAB_TEXT_ENCODINGS as readonly string[]).includes(name);
}

/** Decodes device bytes to NFC text. */
export function decodeText(bytes: Uint8Array, encoding: LabTextEncoding): string {
  const name = ICONV_NAME[encoding];
  if (!name) throw new EncodingError('LAB_ENCODING_UNKNOWN', `unknown text encoding '${String(encoding)}'`);
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name).normalize('NFC');
}

// Windows-1258 has precomposed â ê ô ă ơ ư đ but the five tone marks only as combining
// characters (U+0300 U+0301 U+0303 U+0309 U+0323): split every letter that way before encoding.
const TONE_MARKS = /[\u0300\u0301\u0303\u0309\u0323]/g;
function toWindows1258Form(text: string): string {
  let out = '';
  for (const ch of text.normalize('NFC')) {
    const decomposed = ch.normalize('NFD');
    const tones = decomposed.match(TONE_MARKS)?.join('') ?? '';
    out += tones ? decomposed.replace(TONE_MARKS, '').normalize('NFC') + tones : ch;
  }
  return out;
}

/**
 * Encodes text for a device. `forAstmWire` refuses TCVN3 and VISCII: some of their letters are
 * ASTM control bytes and would break the link layer (spec lab.md, "the Vietnamese trap").
 */
export function encodeText(text: string, encoding: LabTextEncoding, opts: { forAstmWire?: boolean; stripDiacritics?: boolean } = {}): Buffer {
  if (opts.forAstmWire && !opts.stripDiacritics) assertSafeForAstmWire(encoding);
  // Without diacritics the text is ASCII: safe in any of these encodings, on any wire.
  if (opts.stripDiacritics) text = stripDiacritics(text);
  const name = ICONV_NAME[encoding];
  if (!name) throw new EncodingError('LAB_ENCODING_UNKNOWN', `unknown text encoding '${String(encoding)}'`);
  const prepared = encoding === 'windows-1258' ? toWindows1258Form(text) : text.normalize('NFC');
  return iconv.encode(prepared, name);
}

export function assertSafeForAstmWire(encoding: LabTextEncoding): void {
  if (COLLIDES_WITH_CONTROL_BYTES.has(encoding)) {
    throw new EncodingError(
      'LAB_ENCODING_UNSAFE_ON_WIRE',
      `refusing to send ${encoding} on an ASTM line: its capital letters collide with STX/EOT/ENQ/ACK/NAK/ETB; use utf-8, windows-1258 or stripDiacritics`,
    );
  }
}

/**
 * Removes Vietnamese diacritics for devices that cannot show them. 'đ'/'Đ' are letters of their
 * own (no combining mark), so NFD alone leaves them: they are mapped explicitly.
 */
export function stripDiacritics(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .normalize('NFC');
}
