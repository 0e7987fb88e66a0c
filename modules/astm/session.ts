import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../../core/contract/clock.ts';
import type { CaptureSession, DriverContext } from '../../core/contract/driver.ts';
import { decodeText, encodeText, type LabTextEncoding } from '../lab/index.ts';
import type { OrderCache } from '../lab/index.ts';
import { reportIdentity, reportKeysOf, resultIdentity } from '../lab/index.ts';
import type { LabQuirk } from '../lab/index.ts';
import type { AstmFrame } from './frame.ts';
import { buildQueryAnswer } from './hostQuery.ts';
import { AstmLink, type AstmLinkTimers, type TransmissionEnd } from './link.ts';
import { clockSkewAlarmFor, clockSkewSeconds } from '../lab/index.ts';
import { AstmRecordError, extractResults, parseMessage, splitRecords, type AstmQuery, type Delimiters } from './records.ts';

export interface AstmSessionSettings {
  framing: 'framed' | 'bare';
  frameSize: number;
  encoding: LabTextEncoding;
  timezone: string;
  testCodes: Record<string, string>;
  quirks: LabQuirk[];
  /** QC results are journaled but not routed unless this is true. */
  forwardQc: boolean;
  /** Host query answers without Vietnamese diacritics, for analyzers that cannot show them. */
  stripDiacritics?: boolean;
  /** Warn when the message time (H.14) and the box clock differ by more than this (default 5 min). */
  clockSkewAlarmSeconds?: number;
  /** Text held while waiting for an L record; beyond this it is kept as incomplete (memory bound). */
  maxMessageBytes?: number;
  /** Incoming frames larger than this are refused with NAK as they stream (default 64,007: LIS01-A2). */
  maxFrameBytes?: number;
  /** Frame text accepted in one transmission (ENQ … EOT); past it the connection is closed. */
  maxTransmissionBytes?: number;
  /**
   * A journal append slower than this answers NAK (the device's reply timer is 15 s). If the
   * append completes later, the resend is recognised as a duplicate. Default 10 s.
   */
  storeTimeoutMs?: number;
  timers?: Partial<AstmLinkTimers>;
}

export interface AstmSessionCounters {
  frames: number;
  duplicateFrames: number;
  rejectedFrames: number;
  messages: number;
  results: number;
  duplicateResults: number;
  incomplete: number;
  queries: number;
  storeFailures: number;
  /** Frames refused for passing the frame size limit. */
  oversizedFrames: number;
  /** Connections closed for breaking a limit (transmission size, bytes that never make a frame). */
  cutOff: number;
}

/** Bytes a sender may send without one frame accepted, in frames of the largest size (retries, noise). */
const UNPRODUCTIVE_FRAMES = 8;
/** Time a sender may send bytes that never complete a frame (or a bare record). */
const TRICKLE_PATIENCE_MS = 60_000;

/**
 * One analyzer connection: the link layer plus what the box does with what arrives. Every new
 * frame is journaled ('lab.astm.frame') before its ACK; at the ETX frame that completes an
 * H…L message the message ('lab.message') and each result ('lab.result', keyed by
 * resultIdentity) are journaled too, still before that frame's ACK. So an ACKed last frame
 * means the results are on disk. Incomplete transmissions go to 'lab.astm.incomplete' only.
 */
export class AstmSession {
  readonly link: AstmLink;
  readonly counters: AstmSessionCounters = {
    frames: 0,
    duplicateFrames: 0,
    rejectedFrames: 0,
    messages: 0,
    results: 0,
    duplicateResults: 0,
    incomplete: 0,
    queries: 0,
    storeFailures: 0,
    oversizedFrames: 0,
    cutOff: 0,
  };
  private readonly capture: CaptureSession | null;
  private txId = '';
  private frameSeq = 0;
  private pendingBytes: Buffer[] = [];
  private pendingSize = 0;
  private bareSize = 0;
  private carryText = '';
  private lastFinal = true;
  /** Queries to answer after EOT, by message key (a resent query is answered once). */
  private pendingQueries = new Map<string, { query: AstmQuery; delimiters: Delimiters }[]>();
  /** Bare-record mode: bytes of the current line and lines of the current message. */
  private bareLine: number[] = [];
  private bareLines: Buffer[] | null = null;
  private bareCancel: (() => void) | null = null;
  private work: Promise<unknown> = Promise.resolve();
  private closed = false;
  private storeFailing = false;
  /** Bytes received since a frame was last accepted or a transmission ended (or a bare line completed). */
  private sinceProgress = 0;
  /** When the first of those bytes came (clock ms). */
  private unproductiveSince = 0;
  /** Frame text accepted in the current transmission. */
  private transmissionBytes = 0;
  private cutting = false;

  constructor(
    private readonly ctx: DriverContext,
    private readonly settings: AstmSessionSettings,
    private readonly clock: Clock,
    readonly connection: string,
    private readonly writeBytes: (bytes: Buffer) => void,
    private readonly orderCache?: OrderCache,
    /** Told when storing fails (the analyzer gets NAK) and when it works again. */
    private readonly onStoreHealth?: (ok: boolean, err?: unknown) => void,
    /** Closes the connection (a sender that broke a limit); the driver's pipe. */
    private readonly hangUp?: () => void,
  ) {
    try {
      this.capture = ctx.capture.open(connection);
    } catch {
      this.capture = null;
    }
    this.link = new AstmLink(
      {
        clock,
        role: 'host',
        frameSize: settings.frameSize,
        timers: settings.timers,
        ...(settings.maxFrameBytes ? { maxIncomingFrame: settings.maxFrameBytes } : {}),
      },
      {
        write: (b) => this.write(b),
        frame: (f, raw) => this.onFrame(f, raw),
        transmissionEnd: (how) => this.onTransmissionEnd(how),
        idleByte: settings.framing === 'bare' ? (b) => this.onBareByte(b) : undefined,
        event: (e) => {
          if (e.type === 'frame-duplicate') this.counters.duplicateFrames++;
          if (e.type === 'frame-rejected') this.counters.rejectedFrames++;
          if (e.type === 'frame-rejected' && e.tooLarge) {
            this.counters.oversizedFrames++;
            ctx.log.warn(
              { connection, reason: e.reason },
              "ASTM frame larger than the device's frameSize refused (NAK); a device that sends larger frames needs a larger frameSize",
            );
          } else if (e.type !== 'enq') ctx.log.debug({ connection, link: e }, 'astm link event');
        },
      },
    );
  }

  receive(bytes: Buffer): void {
    if (this.cutting) return;
    this.capture?.inbound(bytes);
    // A sender that streams bytes which never become frames (a frame that never ends, oversized
    // frames again and again, noise) is cut off: memory is bounded anyway, this bounds the time.
    const now = this.clock.now();
    if (this.sinceProgress === 0) this.unproductiveSince = now;
    this.sinceProgress += bytes.length;
    this.link.receive(bytes);
    const budget =
      this.settings.framing === 'bare' ? (this.settings.maxMessageBytes ?? 8 << 20) : UNPRODUCTIVE_FRAMES * (this.settings.maxFrameBytes ?? 64_007) + 4096;
    if (this.sinceProgress > budget) return this.cutOff(`${this.sinceProgress} bytes without a complete frame or record`);
    // A trickle (a byte now and then, never a frame) is bounded in time: a minute (or twice the
    // receive timeout), longer than a device's own reply timeout (15 s) before it starts over.
    const patienceMs = Math.max(TRICKLE_PATIENCE_MS, 2 * (this.settings.timers?.receiveTimeoutMs ?? 30_000));
    if (this.sinceProgress > 0 && now - this.unproductiveSince > patienceMs)
      return this.cutOff(`bytes for ${Math.round((now - this.unproductiveSince) / 1000)} s without a complete frame or record`);
  }

  /** Closes the connection of a sender past a limit; what it sent that is complete is kept. */
  private cutOff(reason: string): void {
    if (this.cutting) return;
    this.cutting = true;
    this.counters.cutOff++;
    this.ctx.log.warn({ connection: this.connection, reason }, 'ASTM connection closed: the sender broke a limit');
    this.hangUp?.();
  }

  close(): void {
    if (this.closed) return;
    this.link.close();
    this.bareCancel?.();
    if (this.bareLines?.length)
      this.keepIncomplete('connection closed inside a bare message', Buffer.concat(this.bareLines.map((l) => Buffer.concat([l, Buffer.of(0x0d)]))));
    this.bareLines = null;
    this.closed = true;
    this.capture?.close();
  }

  /** Waits for journal work started by this session (tests, orderly stop). */
  idle(): Promise<unknown> {
    return this.work;
  }

  private write(bytes: Buffer): void {
    if (this.closed) return;
    this.capture?.outbound(bytes);
    this.writeBytes(bytes);
  }

  // ------------------------------------------------------------ framed mode

  private async onFrame(frame: AstmFrame, raw: Buffer): Promise<boolean> {
    const maxTransmission = this.settings.maxTransmissionBytes ?? Number.POSITIVE_INFINITY;
    if (this.transmissionBytes + frame.text.length > maxTransmission) {
      // Not stored: what came before stays (frames, messages completed); the rest is kept as incomplete at the close.
      this.cutOff(`transmission larger than ${maxTransmission} bytes (maxTransmissionBytes)`);
      return false;
    }
    if (!this.txId) this.txId = randomUUID();
    const savedCarry = this.carryText;
    const savedPending = [...this.pendingBytes];
    try {
      // The frame, and at an ETX frame every message it completes with its results, are
      // appended in the same event-loop turn: the store's group commit makes them durable with
      // one fsync, and the ACK waits for all of them.
      const appends: Promise<unknown>[] = [
        this.ctx.journal.append({
          stream: 'lab.astm.frame',
          kind: frame.final ? 'astm.frame.etx' : 'astm.frame.etb',
          idempotencyKey: `${this.ctx.id}:${this.txId}:${this.frameSeq}`,
          raw,
          personal: true,
          routes: [],
          meta: { connection: this.connection, fn: frame.fn },
        }),
      ];
      this.pendingBytes.push(frame.text);
      this.pendingSize += frame.text.length;
      this.lastFinal = frame.final;
      if (frame.final) appends.push(...this.completeMessages());
      if (this.pendingSize + this.carryText.length > (this.settings.maxMessageBytes ?? 8 << 20)) {
        // A device that never sends L: its frames are durable already; stop holding the text.
        const held = Buffer.concat([Buffer.from(this.carryText, 'utf8'), ...this.pendingBytes]);
        this.carryText = '';
        this.pendingBytes = [];
        this.pendingSize = 0;
        this.keepIncomplete('message larger than the limit without an L record', held);
      }
      await this.withinStoreTimeout(Promise.all(appends));
      if (this.storeFailing) {
        this.storeFailing = false;
        this.onStoreHealth?.(true);
      }
      this.frameSeq++;
      this.counters.frames++;
      this.transmissionBytes += frame.text.length;
      this.sinceProgress = 0;
      return true;
    } catch (err) {
      // Not durable: NAK so the analyzer resends; nothing half-applied stays in memory.
      this.counters.storeFailures++;
      this.storeFailing = true;
      this.onStoreHealth?.(false, err);
      this.pendingBytes = savedPending;
      this.pendingSize = savedPending.reduce((n, b) => n + b.length, 0);
      this.carryText = savedCarry;
      this.ctx.log.warn({ err, connection: this.connection }, 'could not store an ASTM frame; answered NAK');
      return false;
    }
  }

  private withinStoreTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.clock.setTimer(() => reject(new Error('journal append did not complete in time')), this.settings.storeTimeoutMs ?? 10_000);
      p.then(
        (v) => {
          cancel();
          resolve(v);
        },
        (err) => {
          cancel();
          reject(err);
        },
      );
    });
  }

  /** At an ETX frame: every H…L in the buffered text becomes a message (appends started now). */
  private completeMessages(): Promise<unknown>[] {
    const text = this.carryText + decodeText(Buffer.concat(this.pendingBytes), this.settings.encoding);
    const lines = splitRecords(text);
    let start = 0;
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]![0] === 'L') {
        appends.push(...this.storeMessage(lines.slice(start, i + 1).join('\r') + '\r'));
        start = i + 1;
      }
    }
    this.pendingBytes = [];
    this.pendingSize = 0;
    this.carryText = lines
      .slice(start)
      .map((l) => l + '\r')
      .join('');
    return appends;
  }

  private onTransmissionEnd(how: TransmissionEnd): void {
    const leftover = this.carryText + (this.pendingBytes.length ? decodeText(Buffer.concat(this.pendingBytes), this.settings.encoding) : '');
    const lastFinal = this.lastFinal;
    this.txId = '';
    this.frameSeq = 0;
    this.transmissionBytes = 0;
    // The line is neutral again (EOT, or the receive timeout discarded a stalled transfer).
    if (how !== 'reset') this.sinceProgress = 0;
    this.pendingBytes = [];
    this.pendingSize = 0;
    this.carryText = '';
    this.lastFinal = true;
    if (leftover.trim()) {
      if (how === 'eot' && lastFinal && this.settings.quirks.includes('noTerminatorRecord')) {
        this.enqueue(() => Promise.all(this.storeMessage(leftover)));
      } else {
        const reason =
          how === 'eot'
            ? lastFinal
              ? 'EOT before an L record'
              : 'EOT after an ETB frame'
            : how === 'timeout'
              ? 'no frame or EOT within the receive timeout'
              : 'connection closed during the transmission';
        this.keepIncomplete(reason, Buffer.from(leftover, 'utf8'));
      }
    }
    if (how === 'eot' && this.pendingQueries.size) this.answerQueries();
  }

  private keepIncomplete(reason: string, raw: Buffer): void {
    this.counters.incomplete++;
    this.ctx.log.warn({ connection: this.connection, reason, bytes: raw.length }, 'ASTM transmission incomplete; kept for audit, no results made');
    this.enqueue(() =>
      this.ctx.journal.append({
        stream: 'lab.astm.incomplete',
        kind: 'astm.incomplete',
        idempotencyKey: `inc:${this.ctx.id}:${randomUUID()}`,
        raw,
        parsed: { reason, connection: this.connection },
        personal: true,
        routes: [],
      }),
    );
  }

  private enqueue(job: () => Promise<unknown>): void {
    this.work = this.work.then(job).catch((err) => {
      this.counters.storeFailures++;
      this.ctx.log.error({ err }, 'could not store ASTM data received without a link ACK');
    });
  }

  /**
   * Starts the appends of one H…L message and its results, all in this event-loop turn (one
   * group commit). Results carry the message's idempotency key (`messageKey`) to link them to it.
   */
  private storeMessage(text: string): Promise<unknown>[] {
    const raw = Buffer.from(text, 'utf8');
    const messageKey = 'astm:' + createHash('sha256').update(this.ctx.id).update('\u001f').update(raw).digest('hex').slice(0, 40);
    const receivedAt = new Date(this.clock.now()).toISOString();
    let summary;
    let delimiters: Delimiters;
    try {
      const parsedMessage = parseMessage(text);
      delimiters = parsedMessage.delimiters;
      summary = extractResults(parsedMessage, { device: this.ctx.id, timezone: this.settings.timezone, receivedAt, testCodes: this.settings.testCodes });
    } catch (err) {
      if (!(err instanceof AstmRecordError)) throw err;
      // Unreadable but durable: kept for support, the analyzer still gets its ACK.
      this.ctx.log.warn({ code: err.code, reason: err.message }, 'ASTM message could not be parsed; stored raw');
      return [
        this.ctx.journal.append({
          stream: 'lab.message',
          kind: 'astm.unparsed',
          idempotencyKey: messageKey,
          raw,
          parsed: { error: err.message, code: err.code },
          personal: true,
          routes: [],
        }),
      ];
    }
    const isQuery = summary.queries.length > 0 && summary.results.length === 0;
    const skew = clockSkewSeconds(summary.messageTime, this.settings.timezone, this.clock.now());
    clockSkewAlarmFor(this.ctx, this.settings.clockSkewAlarmSeconds).observe(skew, this.clock.now());
    const appends: Promise<unknown>[] = [
      this.ctx.journal
        .append({
          stream: 'lab.message',
          kind: isQuery ? 'astm.query' : 'astm.message',
          idempotencyKey: messageKey,
          raw,
          parsed: {
            sender: summary.sender,
            processingId: summary.processingId,
            messageTime: summary.messageTime,
            clockSkewSeconds: skew,
            counts: summary.counts,
            results: summary.results.length,
            queries: summary.queries,
          },
          personal: true,
          // A query is answered here, never forwarded; a message goes to destinations that take raw messages.
          ...(isQuery || summary.results.some((r) => r.qc && !this.settings.forwardQc) ? { routes: [] } : {}),
          meta: { encoding: this.settings.encoding, connection: this.connection },
        })
        .then((r) => {
          this.counters.messages++;
          // Queries are answered after EOT, and only once the query is durable.
          if (summary.queries.length)
            this.pendingQueries.set(
              messageKey,
              summary.queries.map((query) => ({ query, delimiters })),
            );
          return r;
        }),
    ];
    const reportKeys = reportKeysOf(summary.reports);
    for (const report of summary.reports) {
      if (report.results.length === 0) continue;
      appends.push(
        this.ctx.journal.append({
          stream: 'lab.report',
          kind: 'astm.report',
          idempotencyKey: reportIdentity(report),
          parsed: { ...report, messageKey },
          personal: true,
          orderKey: this.ctx.id,
          ...(report.qc && !this.settings.forwardQc ? { routes: [] } : {}),
        }),
      );
    }
    for (const r of summary.results) {
      appends.push(
        this.ctx.journal
          .append({
            stream: 'lab.result',
            kind: 'astm.result',
            idempotencyKey: resultIdentity(r),
            parsed: { ...r, messageKey, ...(reportKeys.has(r) ? { reportKey: reportKeys.get(r) } : {}) },
            personal: true,
            orderKey: this.ctx.id,
            ...(r.qc && !this.settings.forwardQc ? { routes: [] } : {}),
          })
          .then((res) => {
            if (res.duplicate) this.counters.duplicateResults++;
            else this.counters.results++;
            return res;
          }),
      );
    }
    return appends;
  }

  // ------------------------------------------------------------ host query

  private answerQueries(): void {
    const queries = [...this.pendingQueries.values()].flat();
    this.pendingQueries = new Map();
    for (const { query, delimiters } of queries) {
      this.counters.queries++;
      const now = formatAstmTime(this.clock.now(), this.settings.timezone);
      const text = buildQueryAnswer(query, (id) => this.orderCache?.findBySpecimen(id), delimiters, { now });
      let bytes: Buffer;
      try {
        bytes = encodeText(text, this.settings.encoding, { forAstmWire: true, stripDiacritics: this.settings.stripDiacritics === true });
      } catch (err) {
        this.ctx.log.error({ err }, 'cannot answer the host query in this encoding');
        continue;
      }
      void this.link.send(bytes).then((outcome) => {
        if (!outcome.ok) this.ctx.log.warn({ reason: outcome.reason }, 'host query answer not delivered');
      });
    }
  }

  // ------------------------------------------------------------ bare records

  /** Devices that print H…L without ENQ/STX: a message is the lines from H to L. */
  private onBareByte(b: number): void {
    if (b !== 0x0d && b !== 0x0a) {
      if (this.bareLine.length < 1_000_000) this.bareLine.push(b);
      return;
    }
    if (this.bareLine.length === 0) return;
    const line = Buffer.from(this.bareLine);
    this.bareLine = [];
    this.sinceProgress = 0;
    const type = line[0];
    if (type === 0x48 /* H */) {
      if (this.bareLines?.length) this.keepIncomplete('a new H record before L', Buffer.concat(this.bareLines.map((l) => Buffer.concat([l, Buffer.of(0x0d)]))));
      this.bareLines = [line];
      this.bareSize = line.length;
    } else if (this.bareLines) {
      this.bareLines.push(line);
      this.bareSize += line.length;
      if (this.bareSize > (this.settings.maxMessageBytes ?? 8 << 20)) {
        this.keepIncomplete(
          'bare message larger than the limit without an L record',
          Buffer.concat(this.bareLines.map((l) => Buffer.concat([l, Buffer.of(0x0d)]))),
        );
        this.bareLines = null;
        this.bareCancel?.();
        this.bareCancel = null;
        return;
      }
    } else {
      return; // noise before any H
    }
    this.bareCancel?.();
    if (type === 0x4c /* L */) {
      const bytes = Buffer.concat(this.bareLines.map((l) => Buffer.concat([l, Buffer.of(0x0d)])));
      this.bareLines = null;
      this.bareCancel = null;
      const text = decodeText(bytes, this.settings.encoding);
      this.enqueue(() => Promise.all(this.storeMessage(text)));
      return;
    }
    const timeout = this.settings.timers?.receiveTimeoutMs ?? 30_000;
    this.bareCancel = this.clock.setTimer(() => {
      if (!this.bareLines) return;
      const pending = Buffer.concat(this.bareLines.map((l) => Buffer.concat([l, Buffer.of(0x0d)])));
      this.bareLines = null;
      this.keepIncomplete('bare message without L within the receive timeout', pending);
    }, timeout);
  }
}

/** YYYYMMDDHHMMSS in the device's zone. */
export function formatAstmTime(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}${get('month')}${get('day')}${get('hour')}${get('minute')}${get('second')}`;
}
