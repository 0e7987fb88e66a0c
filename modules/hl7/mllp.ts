/** MLLP framing (HL7 v2 Minimal Lower Layer Protocol): VT message FS CR. */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export class MllpFrameError extends Error {
  constructor(
    message: string,
    /** 'oversized': the frame passed maxBytes (its bytes are dropped as they stream); 'cut': a new VT before FS. */
    readonly kind: 'oversized' | 'cut' = 'cut',
  ) {
    super(message);
    this.name = 'MllpFrameError';
  }
}

/**
 * Streaming MLLP decoder: feed it whatever the socket delivers (a byte, half a message, two
 * messages); it returns every complete message body. Bytes outside a frame are counted and
 * dropped. A frame longer than maxBytes is discarded with an 'oversized' error as soon as it
 * passes the limit, never buffered whole: the rest of its bytes are dropped as they arrive and
 * decoding resumes at the next VT (the listener also hangs up on such a sender).
 */
export class MllpDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private sawFs = false;
  /** Bytes seen outside any frame (noise, keep-alives). */
  discarded = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** A frame has started (VT seen) and not ended yet. */
  get inMessage(): boolean {
    return this.inFrame;
  }

  push(data: Buffer): { messages: Buffer[]; errors: MllpFrameError[] } {
    const messages: Buffer[] = [];
    const errors: MllpFrameError[] = [];
    let i = 0;
    while (i < data.length) {
      if (!this.inFrame) {
        const start = data.indexOf(VT, i);
        if (start < 0) {
          this.discarded += data.length - i;
          break;
        }
        this.discarded += start - i;
        this.inFrame = true;
        this.sawFs = false;
        i = start + 1;
        continue;
      }
      if (this.sawFs) {
        // FS must be followed by CR; anything else means FS was data-ish garbage: keep scanning.
        this.sawFs = false;
        if (data[i] === CR) {
          messages.push(this.take());
          this.inFrame = false;
          i++;
          continue;
        }
        this.append(Buffer.from([FS]), errors);
      }
      const fs = data.indexOf(FS, i);
      const vt = data.indexOf(VT, i);
      if (vt >= 0 && (fs < 0 || vt < fs)) {
        // A new VT before FS: the previous frame was cut off; start over.
        errors.push(new MllpFrameError(`incomplete frame of ${this.size + vt - i} bytes dropped (new frame started)`));
        this.reset();
        this.inFrame = true;
        i = vt + 1;
        continue;
      }
      const end = fs < 0 ? data.length : fs;
      this.append(data.subarray(i, end), errors);
      if (fs < 0) break;
      this.sawFs = true;
      i = fs + 1;
    }
    return { messages, errors };
  }

  /** Bytes of a frame still waiting for its end. */
  get pending(): number {
    return this.size;
  }

  private append(part: Buffer, errors: MllpFrameError[]): void {
    if (!this.inFrame) return;
    if (this.size + part.length > this.maxBytes) {
      errors.push(new MllpFrameError(`message larger than ${this.maxBytes} bytes (maxMessageBytes) dropped`, 'oversized'));
      this.reset();
      return;
    }
    if (part.length) this.chunks.push(Buffer.from(part));
    this.size += part.length;
  }

  private take(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return out;
  }

  private reset(): void {
    this.chunks = [];
    this.size = 0;
    this.inFrame = false;
    this.sawFs = false;
  }
}

export function mllpFrame(message: Buffer | string): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([VT]), body, Buffer.from([FS, CR])]);
}
