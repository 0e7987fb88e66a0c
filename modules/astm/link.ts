import type { Clock } from '../../core/contract/clock.ts';
import { ACK, AstmFrameError, ENQ, EOT, ETB, ETX, FRAME_OVERHEAD, FRAME_SIZE_LIS01, NAK, parseFrame, splitIntoFrames, STX, type AstmFrame } from './frame.ts';

/**
 * ASTM E1381 / CLSI LIS01 link layer as a byte-by-byte state machine. It owns no socket and no
 * real timer: bytes come in through receive(), go out through handlers.write(), and time comes
 * from the injected Clock, so tests run 30-second timeouts in compressed time.
 *
 * Persist-before-ACK: every new frame is handed to handlers.frame() and the link stays silent
 * (input is queued) until that promise settles: true → ACK, false or rejection → NAK.
 */

export interface AstmLinkTimers {
  /** Receiver: no frame or EOT for this long discards the incomplete message (E1381 6.5.2: 30 s). */
  receiveTimeoutMs: number;
  /** Sender: no reply to ENQ or a frame for this long aborts (15 s). */
  replyTimeoutMs: number;
  /** Host after losing contention: no ENQ from the instrument for this long → line neutral (20 s). */
  contentionTimeoutMs: number;
  /** Sender: wait after a NAK to our ENQ (at least 10 s). */
  busyRetryMs: number;
  /** Instrument role: wait before re-sending ENQ after contention (at least 1 s). */
  instrumentContentionRetryMs: number;
}

export const DEFAULT_LINK_TIMERS: AstmLinkTimers = {
  receiveTimeoutMs: 30_000,
  replyTimeoutMs: 15_000,
  contentionTimeoutMs: 20_000,
  busyRetryMs: 10_000,
  instrumentContentionRetryMs: 1_000,
};

export interface AstmLinkOptions {
  clock: Clock;
  /** The host loses contention (both sent ENQ); the instrument wins. */
  role: 'host' | 'instrument';
  /** Outgoing frame size limit in bytes, whole frame (247 for E1381-95 devices, up to 64,000). */
  frameSize: number;
  /** Incoming frames larger than this are refused (memory bound). Default 64,000 + overhead. */
  maxIncomingFrame?: number;
  /** Six failed tries of one frame abort the transfer (E1381 6.5.1.2). */
  maxTries?: number;
  /**
   * Bytes queued while the owner makes a frame durable. A conforming sender waits for our reply,
   * so only a trailer or an EOT can be queued; beyond this the input is dropped (memory bound).
   */
  maxQueuedBytes?: number;
  timers?: Partial<AstmLinkTimers>;
}

export type TransmissionEnd = 'eot' | 'timeout' | 'reset';

export type LinkEvent =
  | { type: 'enq'; answered: 'ack' | 'nak' }
  | { type: 'frame-rejected'; reason: string; fn?: number; tooLarge?: true }
  | { type: 'frame-duplicate'; fn: number }
  | { type: 'contention' }
  | { type: 'send-aborted'; reason: string }
  | { type: 'noise'; byte: number }
  | { type: 'overflow'; dropped: number };

export interface AstmLinkHandlers {
  write(bytes: Buffer): void;
  /** A new frame passed the checksum and FN checks. Resolve true once durable (→ ACK), false → NAK. */
  frame(frame: AstmFrame, raw: Buffer): Promise<boolean>;
  /** The incoming transmission ended (EOT, 30 s timeout, or reset). */
  transmissionEnd(how: TransmissionEnd): void;
  /** Bytes seen while the line is neutral and that are not ENQ (bare-record devices). */
  idleByte?(byte: number): void;
  /** Answer NAK (busy) to an ENQ when this returns true. */
  busy?(): boolean;
  event?(event: LinkEvent): void;
}

export type SendOutcome = { ok: true } | { ok: false; reason: string };

type State = 'neutral' | 'receiving' | 'sending-enq' | 'sending-frame' | 'busy-wait' | 'contention';

interface PendingSend {
  frames: Buffer[];
  resolve: (outcome: SendOutcome) => void;
}

export class AstmLink {
  private state: State = 'neutral';
  private readonly timers: AstmLinkTimers;
  private readonly maxTries: number;
  private readonly maxIncomingFrame: number;
  private inbox: number[] = [];
  private inboxPos = 0;
  private paused = false;
  private closed = false;
  private cancelTimer: (() => void) | null = null;

  // Receiver
  private frameBuf: number[] | null = null;
  private frameEndAt = -1;
  private lastFn = 0;
  private lastRaw: Buffer | null = null;

  // Sender
  private queue: PendingSend[] = [];
  private current: PendingSend | null = null;
  private frameIndex = 0;
  private tries = 0;
  private enqTries = 0;

  constructor(
    private readonly options: AstmLinkOptions,
    private readonly handlers: AstmLinkHandlers,
  ) {
    this.timers = { ...DEFAULT_LINK_TIMERS, ...options.timers };
    this.maxTries = options.maxTries ?? 6;
    this.maxIncomingFrame = options.maxIncomingFrame ?? FRAME_SIZE_LIS01 + FRAME_OVERHEAD;
  }

  get lineState(): State {
    return this.state;
  }

  /** Feed bytes as they arrive; any split or coalescing gives the same result. */
  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    const room = (this.options.maxQueuedBytes ?? 1 << 20) + this.inboxPos - this.inbox.length;
    const take = Math.min(bytes.length, Math.max(0, room));
    for (let i = 0; i < take; i++) this.inbox.push(bytes[i]!);
    if (take < bytes.length) this.handlers.event?.({ type: 'overflow', dropped: bytes.length - take });
    this.pump();
  }

  /** Queue a message (record text already encoded) for sending in its own transmission. */
  send(message: Uint8Array): Promise<SendOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'link closed' });
    const frames = splitIntoFrames(message, this.options.frameSize);
    return new Promise((resolve) => {
      this.queue.push({ frames, resolve });
      this.startNextSend();
    });
  }

  /** The connection went away: end everything, no more output. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    if (this.state === 'receiving') this.handlers.transmissionEnd('reset');
    this.current?.resolve({ ok: false, reason: 'connection closed' });
    for (const q of this.queue) q.resolve({ ok: false, reason: 'connection closed' });
    this.current = null;
    this.queue = [];
    this.state = 'neutral';
  }

  private pump(): void {
    while (!this.paused && !this.closed && this.inboxPos < this.inbox.length) {
      const b = this.inbox[this.inboxPos++]!;
      this.onByte(b);
    }
    if (this.inboxPos >= this.inbox.length) {
      this.inbox = [];
      this.inboxPos = 0;
    }
  }

  private write(byte: number | Buffer): void {
    if (this.closed) return;
    this.handlers.write(typeof byte === 'number' ? Buffer.of(byte) : byte);
  }

  private setTimer(ms: number, fn: () => void): void {
    this.clearTimer();
    this.cancelTimer = this.options.clock.setTimer(() => {
      this.cancelTimer = null;
      if (!this.closed) fn();
    }, ms);
  }

  private clearTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private onByte(b: number): void {
    switch (this.state) {
      case 'neutral':
        return this.onNeutralByte(b);
      case 'receiving':
        return this.onReceivingByte(b);
      case 'sending-enq':
        return this.onEnqReply(b);
      case 'sending-frame':
        return this.onFrameReply(b);
      case 'busy-wait':
        // Line is ours to retry; an ENQ from the other side takes it.
        if (b === ENQ) {
          this.clearTimer();
          return this.acceptEnq();
        }
        return;
      case 'contention':
        if (b === ENQ) {
          this.clearTimer();
          return this.acceptEnq();
        }
        return;
    }
  }

  // ---------------------------------------------------------------- receiver

  private onNeutralByte(b: number): void {
    if (b === ENQ) return this.acceptEnq();
    // Everything else is ignored while waiting for ENQ (E1381 6.2.5); bare-record devices use it.
    if (this.handlers.idleByte) this.handlers.idleByte(b);
    else if (b !== 0x0d && b !== 0x0a) this.handlers.event?.({ type: 'noise', byte: b });
  }

  private acceptEnq(): void {
    if (this.handlers.busy?.()) {
      this.write(NAK);
      this.handlers.event?.({ type: 'enq', answered: 'nak' });
      this.state = 'neutral';
      this.startNextSend();
      return;
    }
    this.write(ACK);
    this.handlers.event?.({ type: 'enq', answered: 'ack' });
    this.state = 'receiving';
    this.frameBuf = null;
    this.lastFn = 0;
    this.lastRaw = null;
    this.armReceiveTimer();
  }

  private armReceiveTimer(): void {
    this.setTimer(this.timers.receiveTimeoutMs, () => {
      if (this.state !== 'receiving') return;
      this.endReceive('timeout');
    });
  }

  private endReceive(how: TransmissionEnd): void {
    this.clearTimer();
    this.frameBuf = null;
    this.state = 'neutral';
    this.handlers.transmissionEnd(how);
    this.startNextSend();
  }

  private onReceivingByte(b: number): void {
    if (this.frameBuf === null) {
      if (b === STX) {
        this.frameBuf = [b];
        this.frameEndAt = -1;
      } else if (b === EOT) {
        // No reply to EOT (E1381 6.2.7): replying would shift every later ACK by one.
        this.endReceive('eot');
      } else if (b === ENQ) {
        // The sender did not see our ACK to its ENQ: answer again.
        this.write(ACK);
      }
      // CR LF trailers and noise between frames are ignored.
      return;
    }
    const buf = this.frameBuf;
    if (b === STX && this.frameEndAt < 0) {
      // A new frame began before the old one ended: the old one is lost, wait for its resend.
      this.frameBuf = [b];
      return;
    }
    if (b === EOT && this.frameEndAt < 0) {
      this.frameBuf = null;
      this.endReceive('eot');
      return;
    }
    buf.push(b);
    if (this.frameEndAt < 0 && (b === ETX || b === ETB)) this.frameEndAt = buf.length - 1;
    if (this.frameEndAt >= 0 && buf.length === this.frameEndAt + 3) {
      // Complete after the two checksum characters: a missing or short CR LF trailer is tolerated.
      this.frameBuf = null;
      this.onFrameBytes(Buffer.from(buf));
      return;
    }
    if (buf.length > this.maxIncomingFrame) {
      this.frameBuf = null;
      // Dropped as it streams: the rest of it is ignored until the next STX, EOT or ENQ.
      this.handlers.event?.({ type: 'frame-rejected', reason: `frame longer than ${this.maxIncomingFrame} bytes`, tooLarge: true });
      this.write(NAK);
    }
  }

  private onFrameBytes(raw: Buffer): void {
    let frame: AstmFrame;
    try {
      frame = parseFrame(raw);
    } catch (err) {
      this.handlers.event?.({ type: 'frame-rejected', reason: err instanceof AstmFrameError ? err.message : String(err) });
      this.write(NAK);
      this.armReceiveTimer();
      return;
    }
    const expected = (this.lastFn + 1) & 7;
    if (frame.fn !== expected) {
      if (frame.fn === this.lastFn && this.lastRaw && this.lastRaw.equals(raw)) {
        // Our ACK was lost and the sender repeated the frame: ACK, do not store it twice.
        this.handlers.event?.({ type: 'frame-duplicate', fn: frame.fn });
        this.write(ACK);
      } else {
        this.handlers.event?.({ type: 'frame-rejected', reason: `frame number ${frame.fn}, expected ${expected}`, fn: frame.fn });
        this.write(NAK);
      }
      this.armReceiveTimer();
      return;
    }
    this.clearTimer();
    this.paused = true;
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      this.paused = false;
      if (this.closed) return;
      if (ok) {
        this.lastFn = frame.fn;
        this.lastRaw = raw;
        this.write(ACK);
      } else {
        this.handlers.event?.({ type: 'frame-rejected', reason: 'not stored', fn: frame.fn });
        this.write(NAK);
      }
      if (this.state === 'receiving') this.armReceiveTimer();
      this.pump();
    };
    this.handlers.frame(frame, raw).then(finish, () => finish(false));
  }

  // ---------------------------------------------------------------- sender

  private startNextSend(): void {
    if (this.closed || this.state !== 'neutral' || this.paused) return;
    if (!this.current) this.current = this.queue.shift() ?? null;
    if (!this.current) return;
    this.frameIndex = 0;
    this.tries = 0;
    this.sendEnq();
  }

  private sendEnq(): void {
    this.state = 'sending-enq';
    this.enqTries++;
    this.write(ENQ);
    this.setTimer(this.timers.replyTimeoutMs, () => this.abortSend('no reply to ENQ within the reply timeout'));
  }

  private onEnqReply(b: number): void {
    if (b === ACK) {
      this.clearTimer();
      this.enqTries = 0;
      this.sendFrame();
    } else if (b === NAK) {
      // Receiver busy: wait at least 10 s before trying again.
      this.clearTimer();
      if (this.enqTries >= this.maxTries) return this.abortSend('receiver answered NAK (busy) to every ENQ', false);
      this.state = 'busy-wait';
      this.setTimer(this.timers.busyRetryMs, () => {
        if (this.state === 'busy-wait') this.sendEnq();
      });
    } else if (b === ENQ) {
      this.clearTimer();
      this.handlers.event?.({ type: 'contention' });
      if (this.options.role === 'host') {
        // The instrument wins: stop and answer its next ENQ; neutral again after 20 s without one.
        this.state = 'contention';
        this.setTimer(this.timers.contentionTimeoutMs, () => {
          if (this.state !== 'contention') return;
          this.state = 'neutral';
          this.startNextSend();
        });
      } else {
        this.state = 'busy-wait';
        this.setTimer(this.timers.instrumentContentionRetryMs, () => {
          if (this.state === 'busy-wait') this.sendEnq();
        });
      }
    }
    // Other bytes while waiting for the ENQ reply are line noise.
  }

  private sendFrame(): void {
    const cur = this.current!;
    this.state = 'sending-frame';
    this.tries++;
    this.write(cur.frames[this.frameIndex]!);
    this.setTimer(this.timers.replyTimeoutMs, () => this.abortSend('no reply to a frame within the reply timeout'));
  }

  private onFrameReply(b: number): void {
    const cur = this.current!;
    this.clearTimer();
    if (b === ACK || b === EOT) {
      // EOT means "received, please stop": the frame is good; we finish this message regardless.
      this.frameIndex++;
      this.tries = 0;
      if (this.frameIndex < cur.frames.length) return this.sendFrame();
      this.write(EOT);
      this.current = null;
      this.enqTries = 0;
      this.state = 'neutral';
      cur.resolve({ ok: true });
      this.startNextSend();
      return;
    }
    // Anything other than ACK/EOT counts as NAK: resend the same frame, six tries at most.
    if (this.tries >= this.maxTries) return this.abortSend(`frame ${this.frameIndex + 1} refused ${this.tries} times`);
    this.sendFrame();
  }

  private abortSend(reason: string, sendEot = true): void {
    this.clearTimer();
    const cur = this.current;
    this.current = null;
    this.enqTries = 0;
    if (sendEot) this.write(EOT);
    this.state = 'neutral';
    this.handlers.event?.({ type: 'send-aborted', reason });
    cur?.resolve({ ok: false, reason });
    this.startNextSend();
  }
}
