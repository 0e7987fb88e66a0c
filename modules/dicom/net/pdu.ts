/**
 * DICOM Upper Layer PDUs (PS3.8 section 9.3): a 6-byte header (type, reserved, 32-bit big
 * endian length) and a body. PduReader accepts bytes in any TCP split or coalescing and hands
 * out whole PDUs; one PDU at most is buffered, so memory is bounded by the largest PDU allowed.
 */

export const PDU_ASSOCIATE_RQ = 0x01;
export const PDU_ASSOCIATE_AC = 0x02;
export const PDU_ASSOCIATE_RJ = 0x03;
export const PDU_DATA_TF = 0x04;
export const PDU_RELEASE_RQ = 0x05;
export const PDU_RELEASE_RP = 0x06;
export const PDU_ABORT = 0x07;

export type DicomPduErrorCode = 'unknown-pdu' | 'too-large' | 'bad-pdu' | 'bad-item';

/** Every failure to read PDU bytes is this error (the association is then aborted, PS3.8 9.3.1). */
export class DicomPduError extends Error {
  constructor(
    readonly code: DicomPduErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DicomPduError';
  }
}

/** One presentation data value (PS3.8 9.3.5.1): a fragment of a command or of a dataset. */
export interface Pdv {
  contextId: number;
  /** Message control header bit 0 (E.2): command set fragment rather than dataset. */
  command: boolean;
  /** Message control header bit 1: last fragment of that command set or dataset. */
  last: boolean;
  data: Buffer;
}

export type Pdu =
  | { type: typeof PDU_ASSOCIATE_RQ | typeof PDU_ASSOCIATE_AC; body: Buffer }
  | { type: typeof PDU_ASSOCIATE_RJ; result: number; source: number; reason: number }
  | { type: typeof PDU_DATA_TF; pdvs: Pdv[] }
  | { type: typeof PDU_RELEASE_RQ }
  | { type: typeof PDU_RELEASE_RP }
  | { type: typeof PDU_ABORT; source: number; reason: number };

export interface PduReaderOptions {
  /**
   * Largest P-DATA-TF body accepted: the maximum length we offered, plus a little slack. 0: no
   * P-DATA-TF at all yet (an acceptor before its A-ASSOCIATE-AC), refused at its header.
   */
  maxDataLength: number;
  /** Largest association PDU accepted (many presentation contexts make an RQ a few tens of KB). */
  maxAssociateLength?: number;
}

/** Incremental PDU parser. feed() returns the PDUs completed by this chunk. */
export class PduReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly maxAssociate: number;
  /** Set once the association is negotiated (see PduReaderOptions.maxDataLength). */
  maxDataLength: number;

  constructor(options: PduReaderOptions) {
    this.maxAssociate = options.maxAssociateLength ?? 1024 * 1024;
    this.maxDataLength = options.maxDataLength;
  }

  /** Bytes held waiting for the rest of a PDU. */
  get pending(): number {
    return this.buffered;
  }

  feed(chunk: Buffer): Pdu[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Pdu[] = [];
    for (;;) {
      if (this.buffered < 6) break;
      const head = new ChunkCursor(this.chunks).bytes(6);
      const type = head[0]!;
      const length = head.readUInt32BE(2);
      if (type < PDU_ASSOCIATE_RQ || type > PDU_ABORT) throw new DicomPduError('unknown-pdu', `unknown PDU type 0x${type.toString(16)}`);
      // Checked at the header, before the body is buffered: a peer declaring 4 GB gets an
      // A-ABORT after 6 bytes, not after the box held what it sent.
      if (type === PDU_DATA_TF && this.maxDataLength === 0) throw new DicomPduError('bad-pdu', 'P-DATA-TF before the association was accepted');
      const limit = type === PDU_DATA_TF ? this.maxDataLength : this.maxAssociate;
      if (length > limit) throw new DicomPduError('too-large', `PDU type ${type} of ${length} bytes exceeds ${limit}`);
      if (this.buffered < 6 + length) break;
      const body = new ChunkCursor(this.take(6 + length));
      body.skip(6);
      out.push(decodePdu(type, body));
    }
    return out;
  }

  /** The next n bytes as the chunks (or parts of chunks) they arrived in: nothing is copied. */
  private take(n: number): Buffer[] {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const first = this.chunks[0]!;
      if (first.length <= need) {
        parts.push(first);
        this.chunks.shift();
        need -= first.length;
      } else {
        parts.push(first.subarray(0, need));
        this.chunks[0] = first.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return parts;
  }
}

/**
 * Reads a PDU across the socket chunks it arrived in. Headers straddling two chunks are copied
 * (a few bytes); PDV data is handed on as slices of the chunks: a 128 KB PDU spread over three
 * reads used to be joined into one buffer, a copy of every byte received.
 */
class ChunkCursor {
  private index = 0;
  private offset = 0;
  remaining: number;

  constructor(private readonly chunks: Buffer[]) {
    this.remaining = chunks.reduce((n, c) => n + c.length, 0);
  }

  /** n contiguous bytes (a slice when they lie in one chunk, else a copy). */
  bytes(n: number): Buffer {
    const chunk = this.chunks[this.index]!;
    if (chunk.length - this.offset >= n) {
      const out = chunk.subarray(this.offset, this.offset + n);
      this.skip(n);
      return out;
    }
    return Buffer.concat(this.slices(n), n);
  }

  /** The next n bytes as slices of the chunks, in order. */
  slices(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const chunk = this.chunks[this.index]!;
      const take = Math.min(need, chunk.length - this.offset);
      out.push(chunk.subarray(this.offset, this.offset + take));
      this.skip(take);
      need -= take;
    }
    return out;
  }

  skip(n: number): void {
    this.remaining -= n;
    this.offset += n;
    while (this.index < this.chunks.length - 1 && this.offset >= this.chunks[this.index]!.length) {
      this.offset -= this.chunks[this.index]!.length;
      this.index++;
    }
  }
}

/** P-DATA-TF items stay slices of the socket chunks; the other PDUs are small and read whole. */
function decodePdu(type: number, cursor: ChunkCursor): Pdu {
  if (type === PDU_DATA_TF) return { type, pdvs: decodePdvs(cursor) };
  const body = cursor.bytes(cursor.remaining);
  switch (type) {
    case PDU_ASSOCIATE_RQ:
    case PDU_ASSOCIATE_AC:
      if (body.length < 68) throw new DicomPduError('bad-pdu', `A-ASSOCIATE PDU body of ${body.length} bytes is shorter than 68`);
      return { type, body };
    case PDU_ASSOCIATE_RJ:
      if (body.length < 4) throw new DicomPduError('bad-pdu', 'A-ASSOCIATE-RJ shorter than 4 bytes');
      return { type, result: body[1]!, source: body[2]!, reason: body[3]! };
    case PDU_RELEASE_RQ:
      return { type };
    case PDU_RELEASE_RP:
      return { type };
    default:
      if (body.length < 4) throw new DicomPduError('bad-pdu', 'A-ABORT shorter than 4 bytes');
      return { type: PDU_ABORT, source: body[2]!, reason: body[3]! };
  }
}

/**
 * The PDV items of a P-DATA-TF body. An item whose data lies in several socket chunks comes out
 * as several PDVs, only the final one carrying the item's "last" bit: to every reader that is
 * the same as the sender fragmenting the value (PS3.8 9.3.5.1), and nothing is copied.
 */
function decodePdvs(body: ChunkCursor): Pdv[] {
  const pdvs: Pdv[] = [];
  while (body.remaining > 0) {
    if (body.remaining < 6) throw new DicomPduError('bad-item', 'truncated PDV item header');
    const head = body.bytes(6);
    const length = head.readUInt32BE(0);
    // The item length counts the context id and control header (2 bytes) plus the fragment.
    if (length < 2 || length - 2 > body.remaining) throw new DicomPduError('bad-item', `PDV item length ${length} does not fit the PDU`);
    const contextId = head[4]!;
    const command = (head[5]! & 1) === 1;
    const last = (head[5]! & 2) === 2;
    const parts = length === 2 ? [Buffer.alloc(0)] : body.slices(length - 2);
    parts.forEach((data, i) => pdvs.push({ contextId, command, last: last && i === parts.length - 1, data }));
  }
  if (pdvs.length === 0) throw new DicomPduError('bad-item', 'P-DATA-TF without a PDV item');
  return pdvs;
}

function header(type: number, length: number): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(length, 2);
  return h;
}

export function encodePdu(type: number, body: Buffer): Buffer {
  return Buffer.concat([header(type, body.length), body]);
}

/** A P-DATA-TF holding one PDV: returned as [headers, data] so the data is not copied. */
export function encodeDataPdu(contextId: number, command: boolean, last: boolean, data: Buffer): [Buffer, Buffer] {
  const h = Buffer.alloc(12);
  h[0] = PDU_DATA_TF;
  h.writeUInt32BE(6 + data.length, 2);
  h.writeUInt32BE(2 + data.length, 6);
  h[10] = contextId;
  h[11] = (command ? 1 : 0) | (last ? 2 : 0);
  return [h, data];
}

export function encodeReleaseRq(): Buffer {
  return encodePdu(PDU_RELEASE_RQ, Buffer.alloc(4));
}

export function encodeReleaseRp(): Buffer {
  return encodePdu(PDU_RELEASE_RP, Buffer.alloc(4));
}

/** A-ABORT (PS3.8 9.3.8): source 0 = service user, 2 = service provider; reason only for source 2. */
export function encodeAbort(source = 0, reason = 0): Buffer {
  return encodePdu(PDU_ABORT, Buffer.from([0, 0, source, reason]));
}

/** A-ASSOCIATE-RJ (PS3.8 9.3.4): result 1 permanent / 2 transient; source and reason per Table 9-21. */
export function encodeAssociateRj(result: number, source: number, reason: number): Buffer {
  return encodePdu(PDU_ASSOCIATE_RJ, Buffer.from([0, result, source, reason]));
}

/** Reject reasons used here (PS3.8 Table 9-21). */
export const REJECT = {
  /** source 1 (service user), reason 3. */
  callingAeNotRecognized: { result: 1, source: 1, reason: 3 },
  /** source 1, reason 7. */
  calledAeNotRecognized: { result: 1, source: 1, reason: 7 },
  /** source 1, reason 2: application context name not supported. */
  applicationContext: { result: 1, source: 1, reason: 2 },
  /** source 3 (provider, presentation), reason 2: local limit exceeded; transient. */
  tooManyAssociations: { result: 2, source: 3, reason: 2 },
  /** source 2 (provider, ACSE), reason 2: protocol version not supported. */
  protocolVersion: { result: 1, source: 2, reason: 2 },
} as const;

export function describeReject(result: number, source: number, reason: number): string {
  const kind = result === 2 ? 'transient' : 'permanent';
  const why =
    source === 1
      ? (
          { 1: 'no reason given', 2: 'application context not supported', 3: 'calling AE title not recognized', 7: 'called AE title not recognized' } as Record<
            number,
            string
          >
        )[reason]
      : source === 3
        ? ({ 1: 'temporary congestion', 2: 'local limit exceeded' } as Record<number, string>)[reason]
        : ({ 1: 'no reason given', 2: 'protocol version not supported' } as Record<number, string>)[reason];
  return `association rejected (${kind}): ${why ?? `source ${source} reason ${reason}`}`;
}
