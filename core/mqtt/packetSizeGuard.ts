import type { Duplex } from 'node:stream';

/**
 * Reads the MQTT fixed headers as the bytes go by (aedes has no packet-size option) and calls
 * `onOversize` as soon as a packet declares more than `maxBytes`, before its body arrives: the
 * caller closes the connection, so the broker never buffers more than one socket read of it.
 * A remaining-length field longer than 4 bytes is malformed (MQTT 3.1.1 §2.2.3): reported as null.
 */
export function watchPacketSizes(stream: Duplex, maxBytes: number, onOversize: (declaredBytes: number | null) => void): void {
  const scanner = new PacketSizeScanner(maxBytes);
  const onData = (chunk: Buffer): void => {
    const verdict = scanner.push(chunk);
    if (verdict !== undefined) {
      stream.off('data', onData);
      onOversize(verdict);
    }
  };
  // With aedes' 'readable' listener in control of the flow, 'data' fires for each read it makes.
  stream.on('data', onData);
}

/** The state machine over the byte stream; `push` returns the oversize verdict, or undefined while all is well. */
export class PacketSizeScanner {
  private state: 'header' | 'length' | 'body' = 'header';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): number | null | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'header') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) return null;
          continue;
        }
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.maxBytes) return total;
        this.remaining = this.length;
        this.state = this.remaining > 0 ? 'body' : 'header';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'header';
      }
    }
    return undefined;
  }
}
