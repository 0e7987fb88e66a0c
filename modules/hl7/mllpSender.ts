import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { parseAck, type Hl7Ack } from './ack.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';

export interface MllpSenderOptions {
  host: string;
  port: number;
  /** Who is on the other side, for reasons and logs: 'LIS', 'HIS'. */
  peer: string;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  log: Logger;
}

/** Why a message got no acknowledgement: every one of these is a retry with the same control id. */
export class MllpSendError extends Error {
  constructor(
    readonly kind: 'connect' | 'closed' | 'ack-timeout' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'MllpSendError';
  }
}

/** An acknowledgement can carry a receiver's long error text, never megabytes. */
const MAX_ACK_BYTES = 16 * 1024 * 1024;

/**
 * The box's one HL7 sender (to the LIS, to the HIS): one kept-open MLLP connection, messages
 * in flight matched to their ACK by MSA-2, never by position. After an ACK timeout the
 * connection is closed, so a late ACK can never confirm another message (Mirth issues 1441,
 * 2070); a closed connection fails what was waiting on it, and the forwarder retries.
 */
export class MllpSender {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly waiting = new Map<string, { socket: Socket; settle: (ack: Hl7Ack | MllpSendError) => void }>();

  constructor(private readonly o: MllpSenderOptions) {}

  /** Sends one message and resolves with its ACK; throws MllpSendError when there is none. */
  async send(message: Buffer | string, controlId: string, signal: AbortSignal): Promise<Hl7Ack> {
    if (signal.aborted) throw new MllpSendError('aborted', 'aborted before sending');
    const socket = await this.connection();
    return new Promise<Hl7Ack>((resolve, reject) => {
      const settle = (outcome: Hl7Ack | MllpSendError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(controlId);
        if (outcome instanceof MllpSendError) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(() => {
        // Unknown outcome: close so this ACK, if it ever comes, cannot be taken for another message's.
        settle(new MllpSendError('ack-timeout', `no ACK from the ${this.o.peer} within ${this.o.ackTimeoutMs / 1000} s; connection closed`));
        this.close();
      }, this.o.ackTimeoutMs);
      const onAbort = () => {
        settle(new MllpSendError('aborted', 'aborted while waiting for the ACK; connection closed'));
        this.close();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(controlId, { socket, settle });
      socket.write(mllpFrame(message));
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    const where = `${this.o.peer} ${this.o.host}:${this.o.port}`;
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.o.host, port: this.o.port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), this.o.connectTimeoutMs);
      const decoder = new MllpDecoder(MAX_ACK_BYTES);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      socket.on('data', (d: Buffer) => {
        for (const m of decoder.push(d).messages) this.onAck(socket, m.toString('utf8'));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (this.connecting) {
          this.connecting = null;
          reject(new MllpSendError('connect', `${where}: ${err.code ?? err.message}`));
        }
      });
      socket.once('close', () => {
        if (this.socket === socket) this.socket = null;
        // Only what waited on this socket: an old socket's late close must not fail a newer send.
        for (const w of [...this.waiting.values()])
          if (w.socket === socket) w.settle(new MllpSendError('closed', `the ${this.o.peer} closed the connection before answering`));
      });
    });
    return this.connecting;
  }

  private onAck(socket: Socket, text: string): void {
    let ack: Hl7Ack;
    try {
      ack = parseAck(text);
    } catch (err) {
      this.o.log.warn({ reason: (err as Error).message }, `unreadable answer from the ${this.o.peer} ignored`);
      return;
    }
    const waiter = this.waiting.get(ack.controlId);
    if (!waiter || waiter.socket !== socket) {
      this.o.log.warn({ controlId: ack.controlId }, 'ACK for no message in flight (late or foreign); ignored');
      return;
    }
    waiter.settle(ack);
  }
}
