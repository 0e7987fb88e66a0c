/** ASTM E1381 / CLSI LIS01 frames: `STX FN text (ETB|ETX) C1 C2 CR LF`. */

export const STX = 0x02;
export const ETX = 0x03;
export const EOT = 0x04;
export const ENQ = 0x05;
export const ACK = 0x06;
export const LF = 0x0a;
export const CR = 0x0d;
export const NAK = 0x15;
export const ETB = 0x17;

/** STX + FN + ETB/ETX + C1 C2 + CR LF around the text. */
export const FRAME_OVERHEAD = 7;
/** E1381-95 limit (240 text bytes); LIS1-A / LIS01-A2 devices allow 64,000. */
export const FRAME_SIZE_E1381 = 247;
export const FRAME_SIZE_LIS01 = 64_000;

export class AstmFrameError extends Error {
  readonly code: 'ASTM_FRAME_SHAPE' | 'ASTM_FRAME_CHECKSUM' | 'ASTM_FRAME_SIZE';
  constructor(code: AstmFrameError['code'], message: string) {
    super(message);
    this.name = 'AstmFrameError';
    this.code = code;
  }
}

export interface AstmFrame {
  /** 0..7 */
  fn: number;
  /** Frame text, raw bytes: decoding happens after the whole message is assembled. */
  text: Buffer;
  /** ETX (last frame of a message) rather than ETB. */
  final: boolean;
}

/** Sum of FN, text and ETB/ETX bytes, low 8 bits, two upper-case hex digits (E1381 6.3.3). */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]!) & 0xff;
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

export function encodeFrame(fn: number, text: Uint8Array, final: boolean): Buffer {
  const out = Buffer.alloc(text.length + FRAME_OVERHEAD);
  out[0] = STX;
  out[1] = 0x30 + (fn & 7);
  out.set(text, 2);
  out[2 + text.length] = final ? ETX : ETB;
  out.write(checksum(out, 1, 3 + text.length), 3 + text.length, 'latin1');
  out[5 + text.length] = CR;
  out[6 + text.length] = LF;
  return out;
}

/**
 * Parses one complete frame starting with STX. The CR LF trailer is optional: some devices send
 * a short or missing trailer (seen in real captures).
 */
export function parseFrame(bytes: Uint8Array): AstmFrame {
  if (bytes.length < 5 || bytes[0] !== STX) throw new AstmFrameError('ASTM_FRAME_SHAPE', 'a frame starts with STX and has at least FN, ETB/ETX and a checksum');
  const fnByte = bytes[1]!;
  if (fnByte < 0x30 || fnByte > 0x37) throw new AstmFrameError('ASTM_FRAME_SHAPE', `frame number byte 0x${fnByte.toString(16)} is not a digit 0-7`);
  let end = -1;
  for (let i = 2; i < bytes.length; i++) {
    if (bytes[i] === ETX || bytes[i] === ETB) {
      end = i;
      break;
    }
  }
  if (end < 0 || end + 3 > bytes.length) throw new AstmFrameError('ASTM_FRAME_SHAPE', 'frame has no ETB/ETX followed by two checksum characters');
  const given = String.fromCharCode(bytes[end + 1]!, bytes[end + 2]!).toUpperCase();
  const expected = checksum(bytes, 1, end + 1);
  if (given !== expected) throw new AstmFrameError('ASTM_FRAME_CHECKSUM', `checksum ${given} does not match computed ${expected}`);
  return { fn: fnByte - 0x30, text: Buffer.from(bytes.subarray(2, end)), final: bytes[end] === ETX };
}

/**
 * Splits a message into frames no longer than `frameSize` bytes each, FN starting at 1 and
 * wrapping 7→0; ETB on every frame but the last, which has ETX.
 */
export function splitIntoFrames(message: Uint8Array, frameSize: number, firstFn = 1): Buffer[] {
  const textMax = frameSize - FRAME_OVERHEAD;
  if (textMax < 1) throw new AstmFrameError('ASTM_FRAME_SIZE', `frame size ${frameSize} leaves no room for text`);
  const frames: Buffer[] = [];
  let fn = firstFn;
  for (let off = 0; off < message.length || frames.length === 0; off += textMax) {
    const chunk = message.subarray(off, Math.min(message.length, off + textMax));
    frames.push(encodeFrame(fn, chunk, off + textMax >= message.length));
    fn = (fn + 1) % 8;
  }
  return frames;
}
