import { CardParseError } from './errors.ts';

/** An ISO 7816-4 command APDU; `le` 0 means "as much as possible" (256 short, 65536 extended). */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Buffer;
  le?: number;
  extended?: boolean;
}

export function encodeCommand(c: CommandApdu): Buffer {
  const data = c.data ?? Buffer.alloc(0);
  const ext = c.extended === true || data.length > 255 || (c.le !== undefined && c.le > 256);
  const parts: Buffer[] = [Buffer.from([c.cla, c.ins, c.p1, c.p2])];
  if (data.length > 0) {
    parts.push(ext ? Buffer.from([0, data.length >> 8, data.length & 0xff]) : Buffer.from([data.length]));
    parts.push(data);
  }
  if (c.le !== undefined) {
    const le = c.le >= (ext ? 65536 : 256) ? 0 : c.le;
    if (ext) parts.push(data.length > 0 ? Buffer.from([le >> 8, le & 0xff]) : Buffer.from([0, le >> 8, le & 0xff]));
    else parts.push(Buffer.from([le]));
  }
  return Buffer.concat(parts);
}

/** Parses the four ISO 7816-3 cases, short and extended. */
export function decodeCommand(b: Buffer): CommandApdu {
  if (b.length < 4) throw new CardParseError('APDU shorter than its header');
  const head = { cla: b[0]!, ins: b[1]!, p1: b[2]!, p2: b[3]! };
  const body = b.subarray(4);
  if (body.length === 0) return head;
  if (body.length === 1) return { ...head, le: body[0] === 0 ? 256 : body[0]! };
  if (body[0] !== 0 || body.length < 3) {
    const lc = body[0]!;
    if (lc === 0) throw new CardParseError('short APDU with Lc 0');
    if (body.length === 1 + lc) return { ...head, data: Buffer.from(body.subarray(1)) };
    if (body.length === 2 + lc) return { ...head, data: Buffer.from(body.subarray(1, 1 + lc)), le: body[1 + lc] === 0 ? 256 : body[1 + lc]! };
    throw new CardParseError('APDU length does not match Lc');
  }
  const n = (body[1]! << 8) | body[2]!;
  if (body.length === 3) return { ...head, le: n === 0 ? 65536 : n, extended: true };
  if (n === 0) throw new CardParseError('extended APDU with Lc 0');
  if (body.length === 3 + n) return { ...head, data: Buffer.from(body.subarray(3)), extended: true };
  if (body.length === 5 + n) {
    const le = (body[3 + n]! << 8) | body[4 + n]!;
    return { ...head, data: Buffer.from(body.subarray(3, 3 + n)), le: le === 0 ? 65536 : le, extended: true };
  }
  throw new CardParseError('extended APDU length does not match Lc');
}

export interface ResponseApdu {
  data: Buffer;
  sw: number;
}

export function splitResponse(r: Buffer): ResponseApdu {
  if (r.length < 2) throw new CardParseError('response shorter than a status word');
  return { data: r.subarray(0, r.length - 2), sw: r.readUInt16BE(r.length - 2) };
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/** What the reading sequence needs from a reader: one command out, one response back. */
export interface ApduTransport {
  transmit(apdu: Buffer): Promise<Buffer>;
}
