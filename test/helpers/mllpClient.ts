import { connect, type Socket } from 'node:net';
import { MllpDecoder, mllpFrame } from '../../modules/hl7/mllp.ts';

/** A minimal MLLP sender for tests: one kept-open connection, replies in order. */
export class TestMllpClient {
  private readonly decoder = new MllpDecoder();
  private readonly waiting: Array<(ack: string | Error) => void> = [];
  private closed = false;
  private readonly early: string[] = [];
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      for (const m of this.decoder.push(d).messages) {
        const text = m.toString('utf8');
        const w = this.waiting.shift();
        if (w) w(text);
        else this.early.push(text);
      }
    });
    // The peer hung up (or was killed): nobody will answer the messages still waiting.
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(new Error('connection closed'));
    });
    socket.on('error', () => undefined);
  }

  /** `from`: the local address to dial from (127.0.0.2 plays another PC on the LAN). */
  static open(port: number, host = '127.0.0.1', from?: string): Promise<TestMllpClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, ...(from ? { localAddress: from } : {}) }, () => {
        s.off('error', reject);
        resolve(new TestMllpClient(s));
      });
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  /** Writes without waiting; next() reads replies in order. */
  write(message: string | Buffer): void {
    this.socket.write(mllpFrame(message));
  }

  next(timeoutMs = 10_000): Promise<string> {
    const early = this.early.shift();
    if (early !== undefined) return Promise.resolve(early);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply')), timeoutMs);
      this.waiting.push((a) => {
        clearTimeout(t);
        if (a instanceof Error) reject(a);
        else resolve(a);
      });
    });
  }

  async send(message: string | Buffer): Promise<string> {
    this.write(message);
    return this.next();
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolves when the box hung up (or at once if it already did). */
  closedByPeer(): Promise<void> {
    return new Promise((r) => (this.closed ? r() : this.socket.once('close', () => r())));
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

export function msa(ack: string): { code: string; controlId: string; text: string } {
  const line = ack.split('\r').find((l) => l.startsWith('MSA')) ?? '';
  const f = line.split('|');
  return { code: f[1] ?? '', controlId: f[2] ?? '', text: f[3] ?? '' };
}
