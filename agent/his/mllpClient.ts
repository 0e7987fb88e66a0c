import { Socket, connect } from 'node:net';
import { parseAck, type Hl7Ack } from './adtA04.ts';

/** MLLP block characters (HL7 v2 Appendix C): <VT> message <FS><CR>. */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

export function mllpFrame(message: string): Buffer {
  return Buffer.concat([Buffer.from([MLLP_START]), Buffer.from(message, 'utf8'), Buffer.from([MLLP_END, MLLP_CR])]);
}

/** Collects MLLP frames out of a byte stream; bytes outside a frame are dropped. Bounded by maxBytes. */
export class MllpDecoder {
  private buf = Buffer.alloc(0);
  constructor(private readonly maxBytes = 4 * 1024 * 1024) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const start = this.buf.indexOf(MLLP_START);
      if (start < 0) {
        this.buf = Buffer.alloc(0);
        break;
      }
      let end = this.buf.indexOf(MLLP_END, start + 1);
      while (end >= 0 && end + 1 < this.buf.length && this.buf[end + 1] !== MLLP_CR) end = this.buf.indexOf(MLLP_END, end + 1);
      if (end < 0 || end + 1 >= this.buf.length) {
        this.buf = this.buf.subarray(start);
        if (this.buf.length > this.maxBytes) this.buf = Buffer.alloc(0);
        break;
      }
      // A start byte inside an unfinished frame means the sender began again: keep the last one.
      const realStart = this.buf.lastIndexOf(MLLP_START, end);
      frames.push(this.buf.subarray(realStart + 1, end));
      this.buf = this.buf.subarray(end + 2);
    }
    return frames;
  }
}

export class MllpError extends Error {
  constructor(
    readonly code: 'MLLP_CONNECT' | 'MLLP_CLOSED' | 'MLLP_ACK_TIMEOUT' | 'MLLP_ABORTED',
    message: string,
  ) {
    super(message);
  }
}

export interface MllpClientOptions {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  ackTimeoutMs?: number;
}

/**
 * A minimal MLLP sender: one connection, one message in flight, waits for the ACK whose MSA-2
 * matches the message's control id (ACKs for other ids, e.g. a late answer to an earlier
 * message, are ignored). After an ACK timeout the connection is closed, so a late ACK can never
 * be taken for the next message's.
 */
export class MllpClient {
  private socket: Socket | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private decoder = new MllpDecoder();
  private waiter: { socket: Socket; controlId: string; resolve: (ack: Hl7Ack) => void; reject: (err: Error) => void } | null = null;

  constructor(private readonly options: MllpClientOptions) {}

  /** Sends one framed message and resolves with its matching ACK; calls are serialised. */
  send(message: string, controlId: string, signal?: AbortSignal): Promise<Hl7Ack> {
    const run = this.chain.then(() => this.sendNow(message, controlId, signal));
    this.chain = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connectSocket(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.options.host, port: this.options.port });
      this.decoder = new MllpDecoder();
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MllpError('MLLP_CONNECT', `${this.options.host}:${this.options.port}: connect timeout`));
      }, this.options.connectTimeoutMs ?? 5_000);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve(s);
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new MllpError('MLLP_CONNECT', `${this.options.host}:${this.options.port}: ${err.code ?? err.message}`));
        this.failWaiter(s, new MllpError('MLLP_CLOSED', `connection error: ${err.code ?? err.message}`));
      });
      s.on('close', () => {
        if (this.socket === s) this.socket = null;
        this.failWaiter(s, new MllpError('MLLP_CLOSED', 'the HIS closed the connection before acknowledging'));
      });
      const decoder = this.decoder;
      s.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) this.onFrame(s, frame);
      });
    });
  }

  private onFrame(socket: Socket, frame: Buffer): void {
    if (!this.waiter || this.waiter.socket !== socket) return;
    let ack: Hl7Ack;
    try {
      ack = parseAck(frame.toString('utf8'));
    } catch {
      return;
    }
    if (ack.controlId !== this.waiter.controlId) return;
    const w = this.waiter;
    this.waiter = null;
    w.resolve(ack);
  }

  /** Fails the waiting send only when it was waiting on this socket (an old socket's late close must not). */
  private failWaiter(socket: Socket, err: Error): void {
    if (this.waiter?.socket !== socket) return;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private async sendNow(message: string, controlId: string, signal?: AbortSignal): Promise<Hl7Ack> {
    if (signal?.aborted) throw new MllpError('MLLP_ABORTED', 'aborted before sending');
    const socket = await this.connectSocket();
    return new Promise<Hl7Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.close();
        reject(new MllpError('MLLP_ACK_TIMEOUT', `no ACK within ${this.options.ackTimeoutMs ?? 10_000} ms; connection closed`));
      }, this.options.ackTimeoutMs ?? 10_000);
      const onAbort = () => {
        clearTimeout(timer);
        this.waiter = null;
        this.close();
        reject(new MllpError('MLLP_ABORTED', 'aborted while waiting for the ACK; connection closed'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        socket,
        controlId,
        resolve: (ack) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(ack);
        },
        reject: (err) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      socket.write(mllpFrame(message));
    });
  }
}
