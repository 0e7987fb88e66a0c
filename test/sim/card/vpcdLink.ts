import { connect, type Socket } from 'node:net';

/** What plays the card behind the virtual reader. */
export interface VirtualCard {
  atr: Buffer;
  powerOn(): void;
  powerOff(): void;
  reset(): void;
  handle(apdu: Buffer): Buffer;
}

export interface VpcdLinkOptions {
  host?: string;
  /** vpcd's port (reader.conf.d CHANNELID; 35963 = 0x8C7B by default). */
  port: number;
  /** Delay before each APDU response, like the radio round trip of a real reader. */
  latencyMs?: number;
  /** Drop the connection (card pulled away) instead of answering APDU number n. */
  removeAtApdu?: number;
  onApdu?: (n: number) => void;
}

// vsmartcard vpcd protocol: every message is a 2-byte big-endian length and a payload; a
// 1-byte payload from vpcd is a control code.
const CTRL_OFF = 0;
const CTRL_ON = 1;
const CTRL_RESET = 2;
const CTRL_ATR = 4;

function frame(payload: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(payload.length);
  return Buffer.concat([len, payload]);
}

/**
 * The card side of vpcd: connects to pcscd's virtual reader (a connected socket = a card on
 * the reader, a closed one = card removed) and answers control codes and APDUs in order.
 */
export class VpcdLink {
  private socket: Socket | null = null;
  private buf = Buffer.alloc(0);
  private chain: Promise<void> = Promise.resolve();
  apdus = 0;

  constructor(
    private readonly card: VirtualCard,
    private readonly o: VpcdLinkOptions,
  ) {}

  get inserted(): boolean {
    return this.socket !== null;
  }

  /** Puts the card on the reader (connects to vpcd). Retries while pcscd is starting. */
  async insert(timeoutMs = 10_000): Promise<void> {
    if (this.socket) return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: this.o.host ?? '127.0.0.1', port: this.o.port });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`vpcd is not listening on port ${this.o.port} (is pcscd with Debian package "vsmartcard-vpcd" running?): ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (d) => this.onData(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = null;
    });
  }

  /** Takes the card off the reader. */
  async remove(): Promise<void> {
    const s = this.socket;
    if (!s) return;
    this.socket = null;
    this.card.powerOff();
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      const msg = Buffer.from(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
      this.chain = this.chain.then(() => this.onMessage(msg));
    }
  }

  private async onMessage(msg: Buffer): Promise<void> {
    const s = this.socket;
    if (!s) return;
    if (msg.length === 1) {
      switch (msg[0]) {
        case CTRL_OFF:
          this.card.powerOff();
          return;
        case CTRL_ON:
          this.card.powerOn();
          return;
        case CTRL_RESET:
          this.card.reset();
          return;
        case CTRL_ATR:
          s.write(frame(this.card.atr));
          return;
        default:
          return;
      }
    }
    const n = ++this.apdus;
    this.o.onApdu?.(n);
    if (this.o.removeAtApdu !== undefined && n >= this.o.removeAtApdu) {
      await this.remove();
      return;
    }
    if (this.o.latencyMs) await new Promise((r) => setTimeout(r, this.o.latencyMs));
    const response = this.card.handle(msg);
    if (this.socket === s) s.write(frame(response));
  }
}
