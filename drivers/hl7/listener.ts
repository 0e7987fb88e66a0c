import { createServer, type Server, type Socket } from 'node:net';
import type { DriverContext, JournalInput } from '../contract.ts';
import { isoWithOffset } from '../../agent/clock.ts';
import { decodeText, encodeText, type LabTextEncoding } from '../lab/encoding.ts';
import { ORDER_CACHE_SERVICE, type LabOrder, type OrderCache } from '../lab/orderCache.ts';
import { reportIdentity, reportKeysOf, resultIdentity, type LabReport, type LabResult } from '../lab/result.ts';
import { buildAck, type AckCode } from './ack.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';
import { header, Hl7ParseError, parseHl7, type Hl7Header, type Hl7Message } from './message.ts';
import { buildQueryAnswer, parseHostQuery, type Hl7HostQuery } from './hostQuery.ts';
import { applyOrders, Hl7OrderError, ordersFromHl7, type Hl7OrderBatch } from './orders.ts';
import { extractHl7Results } from './results.ts';
import { clockSkewAlarmFor, clockSkewSeconds, type ClockSkewAlarm } from '../lab/clockSkew.ts';

export interface Hl7ListenerSettings {
  host: string;
  port: number;
  encoding: LabTextEncoding;
  testCodes: Record<string, string>;
  forwardQc: boolean;
  maxMessageBytes: number;
  /** MLLP release 2: answer with the commit bytes ACK (06) / NAK (15) instead of HL7 ACKs. */
  mllpRelease2: boolean;
  /** Our application name in ACKs when the sender left MSH-5 empty. */
  applicationName: string;
  /** Answers (ACK texts, host query answers) without Vietnamese diacritics. */
  stripDiacritics?: boolean;
  /** Clock-skew alarm threshold (default 300 s). */
  clockSkewAlarmSeconds?: number;
  /**
   * 'analyzer': results (ORU/OUL) and host queries (QRY^Q02, QBP^Q11) from a device;
   * 'orders': orders (ORM^O01, OML^O21, imaging OMI^O23) from the LIS/HIS into the order cache.
   */
  mode: 'analyzer' | 'orders';
}

export interface Hl7Counters {
  messages: number;
  results: number;
  duplicates: number;
  rejected: number;
  storageFailures: number;
  queries: number;
  orders: number;
}

/**
 * HL7 v2 over MLLP, the box as server. Each connection handles its messages in arrival order;
 * a message and its results are journaled in one group commit, and only then acknowledged.
 * A resend (same MSH-10) gets the ACK stored with the first copy; nothing is stored twice.
 */
export class Hl7Listener {
  readonly counters: Hl7Counters = { messages: 0, results: 0, duplicates: 0, rejected: 0, storageFailures: 0, queries: 0, orders: 0 };
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Set<Promise<void>>();
  private ackSeq = 0;
  /** LIS test code → device code, for host-query answers (the profile's table reversed). */
  private readonly testCodesToDevice: Record<string, string>;
  private readonly clockSkew: ClockSkewAlarm;

  constructor(
    private readonly ctx: DriverContext,
    private readonly settings: Hl7ListenerSettings,
  ) {
    this.clockSkew = clockSkewAlarmFor(ctx, settings.clockSkewAlarmSeconds);
    this.testCodesToDevice = Object.fromEntries(Object.entries(settings.testCodes).map(([device, lis]) => [lis, device]));
  }

  get connections(): number {
    return this.sockets.size;
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return { host: this.settings.host, port: a && typeof a === 'object' ? a.port : this.settings.port };
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.settings.port, this.settings.host, () => resolve());
    });
    server.on('error', (err) => this.ctx.setStatus('error', 'listener failed', err));
    this.server = server;
  }

  /** Stops accepting, lets acknowledgements in progress finish, then closes connections. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    // close() stops accepting but waits for open connections: finish the ACKs in progress, then
    // hang up on the senders (they reconnect after the restart), then wait for the close.
    const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await Promise.allSettled([...this.inFlight]);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.sockets.add(socket);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const capture = this.ctx.capture.open(`mllp ${peer}`);
    const decoder = new MllpDecoder(this.settings.maxMessageBytes);
    let chain = Promise.resolve();
    this.ctx.log.info({ peer }, 'HL7 sender connected');
    socket.on('data', (data: Buffer) => {
      capture.inbound(data);
      const { messages, errors } = decoder.push(data);
      for (const e of errors) this.ctx.log.warn({ peer, reason: e.message }, 'MLLP framing problem; the sender will resend');
      for (const raw of messages) {
        // In arrival order per connection: the next message waits for the previous ACK.
        chain = chain.then(() => this.handle(raw, socket, capture.outbound));
        const tracked = chain.finally(() => this.inFlight.delete(tracked));
        this.inFlight.add(tracked);
      }
    });
    socket.on('error', (err) => this.ctx.log.debug({ peer, err: err.message }, 'HL7 connection error'));
    socket.on('close', () => {
      this.sockets.delete(socket);
      capture.close();
      this.ctx.log.info({ peer }, 'HL7 sender disconnected');
    });
  }

  private async handle(raw: Buffer, socket: Socket, captureOut: (b: Buffer) => void): Promise<void> {
    const now = Date.now();
    let encoding = this.settings.encoding;
    const send = (bytes: Buffer) => {
      if (socket.destroyed) return;
      captureOut(bytes);
      socket.write(bytes);
    };
    // MLLP release 2 answers with the commit bytes; HL7 answers are sent in the sender's encoding.
    const reply = (text: string | null, commit: boolean) =>
      send(this.settings.mllpRelease2 ? Buffer.from([0x0b, commit ? 0x06 : 0x15, 0x1c, 0x0d]) : mllpFrame(encodeText(text ?? '', encoding, { stripDiacritics: this.settings.stripDiacritics === true })));
    let msg: Hl7Message;
    let hdr: Hl7Header;
    try {
      const decoded = this.decode(raw);
      encoding = decoded.encoding;
      msg = parseHl7(decoded.text);
      hdr = header(msg);
      if (!hdr.controlId) throw new Hl7ParseError('MSH-10 (message control id) is empty');
    } catch (err) {
      this.reject(raw, now, reply, `message not understood: ${err instanceof Hl7ParseError ? err.message : String(err)}`, '100');
      return;
    }
    const type = `${hdr.messageType}^${hdr.triggerEvent}`;
    // Never acknowledge an acknowledgement: this is the device confirming our DSR^Q03.
    if (hdr.messageType === 'ACK') {
      this.ctx.log.debug({ controlId: hdr.controlId, type }, 'ACK from the device');
      return;
    }
    const enhanced = hdr.acceptAckType !== '';
    const ackFor = (code: 'A' | 'E' | 'R', text?: string, errorCode?: string) =>
      buildAck(hdr, (enhanced ? `C${code}` : `A${code}`) as AckCode, {
        delimiters: msg.delimiters,
        controlId: this.nextControlId(now),
        nowMs: now,
        timeZone: this.ctx.timezone,
        application: this.settings.applicationName,
        ...(text ? { text } : {}),
        ...(errorCode ? { errorCode } : {}),
      });
    const refuse = (reason: string) => {
      this.counters.rejected++;
      this.ctx.log.warn({ controlId: hdr.controlId, type, reason }, 'HL7 message rejected (AR)');
      reply(ackFor('R', reason, '200'), false);
    };

    if (hdr.messageType === 'QRY' || hdr.messageType === 'QBP') {
      if (this.settings.mode === 'orders') return refuse(`${type}: this is an orders listener; host queries go to the analyzer's listener`);
      let query: Hl7HostQuery;
      try {
        query = parseHostQuery(msg, hdr);
      } catch (err) {
        return refuse(`host query not understood: ${(err as Error).message}`);
      }
      const cache = this.ctx.services.get<OrderCache>(ORDER_CACHE_SERVICE);
      if (!cache) this.ctx.log.warn('no order cache service: host queries are answered "not found"');
      let order: LabOrder | undefined;
      try {
        order = cache?.findBySpecimen(query.specimenId);
      } catch (err) {
        this.ctx.log.error({ reason: (err as Error).message }, 'order cache look-up failed; answering "not found"');
      }
      this.counters.queries++;
      this.ctx.log.info({ controlId: hdr.controlId, type, specimen: query.specimenId, found: order !== undefined }, 'host query answered from the order cache');
      const answers = buildQueryAnswer(hdr, query, order, {
        delimiters: msg.delimiters,
        nextControlId: () => this.nextControlId(now),
        nowMs: now,
        timeZone: this.ctx.timezone,
        application: this.settings.applicationName,
        testCodesToDevice: this.testCodesToDevice,
      });
      for (const a of answers) send(mllpFrame(encodeText(a, encoding, { stripDiacritics: this.settings.stripDiacritics === true })));
      return;
    }

    const isOrder = hdr.messageType === 'ORM' || hdr.messageType === 'OML' || hdr.messageType === 'OMI';
    if (isOrder !== (this.settings.mode === 'orders')) {
      return refuse(isOrder ? `${type}: orders are accepted only on an orders listener (mode "orders")` : `${type}: this orders listener accepts ORM^O01, OML^O21 and OMI^O23 only`);
    }
    let results: LabResult[] = [];
    let reports: LabReport[] = [];
    let applyBatch: (() => void) | undefined;
    if (isOrder) {
      let batch: Hl7OrderBatch;
      try {
        batch = ordersFromHl7(msg, this.ctx.timezone);
      } catch (err) {
        return refuse(err instanceof Hl7OrderError ? err.message : `orders not understood: ${(err as Error).message}`);
      }
      const cache = this.ctx.services.get<OrderCache>(ORDER_CACHE_SERVICE);
      if (!cache) {
        this.counters.storageFailures++;
        this.ctx.log.error({ controlId: hdr.controlId }, 'orders not stored: no order cache service in this agent');
        reply(ackFor('E', 'storage failed, send again later: no order cache in this agent'), false);
        return;
      }
      // Applied in the message's own commit, and only when the message is new: a late resend of
      // an older order (same MSH-10) must not overwrite what a newer one said.
      applyBatch = () => {
        applyOrders(cache, batch);
        this.counters.orders += batch.orders.length + batch.cancels.length;
      };
    } else if (hdr.messageType === 'ORU' || hdr.messageType === 'OUL') {
      this.clockSkew.observe(clockSkewSeconds(hdr.time, this.ctx.timezone, now), now);
      const receivedAt = isoWithOffset(now, this.ctx.timezone);
      ({ results, reports } = extractHl7Results(msg, { device: this.ctx.id, timezone: this.ctx.timezone, receivedAt, testCodes: this.settings.testCodes }));
    }
    const ok = ackFor('A');
    const messageKey = `hl7:${this.ctx.id}:${hdr.controlId}`;
    const reportKeys = reportKeysOf(reports);
    const unrouted = (qc: boolean) => (qc && !this.settings.forwardQc ? { routes: [] } : {});
    // The message as sent (for LIS interfaces that want it unchanged), each order as the analyzer
    // grouped it, and each result: every destination takes the view it asks for.
    const entries: JournalInput[] = [
      { stream: isOrder ? 'lab.order' : 'lab.message', kind: type, idempotencyKey: messageKey, raw, personal: true, meta: { ack: ok, controlId: hdr.controlId }, ...(isOrder ? { routes: [] } : unrouted(results.some((r) => r.qc))), ...(applyBatch ? { withEntry: applyBatch } : {}) },
      ...reports.map((report) => ({ stream: 'lab.report', kind: 'hl7.report', idempotencyKey: reportIdentity(report), parsed: { ...report, messageKey, controlId: hdr.controlId }, personal: true, ...unrouted(report.qc) })),
      ...results.map((r) => ({ stream: 'lab.result', kind: 'hl7.result', idempotencyKey: resultIdentity(r), parsed: { ...r, messageKey, ...(reportKeys.has(r) ? { reportKey: reportKeys.get(r) } : {}) }, personal: true, ...unrouted(r.qc) })),
    ];
    try {
      // Started in the same tick: one group commit makes the message and its results durable.
      const [first, ...rest] = await Promise.all(entries.map((e) => this.ctx.journal.append(e)));
      if (first!.duplicate) {
        this.counters.duplicates++;
        this.ctx.log.info({ controlId: hdr.controlId }, 'repeated HL7 message answered with its stored ACK');
        reply(String(first!.meta?.ack ?? ok), true);
        return;
      }
      this.counters.messages++;
      this.counters.results += rest.slice(reports.length).filter((r) => !r.duplicate).length;
      reply(ok, true);
    } catch (err) {
      this.counters.storageFailures++;
      const reason = (err as Error).message;
      this.ctx.log.error({ controlId: hdr.controlId, reason }, 'HL7 message not stored; answered with an error so the device resends');
      reply(ackFor('E', `storage failed, send again later: ${reason}`), false);
    }
  }

  private reject(raw: Buffer, now: number, reply: (text: string | null, commit: boolean) => void, text: string, errorCode: string): void {
    this.counters.rejected++;
    this.ctx.log.warn({ reason: text, bytes: raw.length }, 'HL7 message rejected (AR)');
    reply(buildAck(safeHeader(raw), 'AR', { controlId: this.nextControlId(now), nowMs: now, timeZone: this.ctx.timezone, application: this.settings.applicationName, text, errorCode }), false);
  }

  private decode(raw: Buffer): { text: string; encoding: LabTextEncoding } {
    // MSH-18 names the character set; read the header as Latin-1 first (ASCII-safe) to find it.
    const head = raw.subarray(0, 512).toString('latin1');
    const msh = head.split(/\r|\n/)[0] ?? '';
    const charset = (msh.split(msh[3] ?? '|')[17] ?? '').trim().toUpperCase();
    const encoding: LabTextEncoding = /UNICODE|UTF-?8/.test(charset) ? 'utf-8' : charset === '8859/1' ? 'latin1' : this.settings.encoding;
    return { text: decodeText(raw, encoding), encoding };
  }

  private nextControlId(now: number): string {
    return `E${now.toString(36)}${(this.ackSeq++).toString(36)}`.slice(0, 20);
  }
}

/** Best-effort header for rejecting a message we could not parse. */
function safeHeader(raw: Buffer): Partial<Hl7Header> {
  const line = raw.toString('latin1').split(/\r|\n/)[0] ?? '';
  if (!line.startsWith('MSH') || line.length < 4) return {};
  const f = line.split(line[3]!);
  return { sendingApplication: f[2] ?? '', sendingFacility: f[3] ?? '', receivingApplication: f[4] ?? '', receivingFacility: f[5] ?? '', controlId: f[9] ?? '', version: (f[11] ?? '').split('^')[0] ?? '', charset: f[17] ?? '' };
}
