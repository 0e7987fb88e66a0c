import type { Socket } from 'node:net';
import { RefusalLog } from '../../core/contract/net.ts';
import type { TLSSocket } from 'node:tls';
import type { AppendResult, DriverContext, JournalInput } from '../../core/contract/driver.ts';
import { GuardedListener, type ListenerLimits, type RefusalReason } from '../../core/contract/net.ts';
import { PeerAllowList, unmapIpv4 } from '../../core/contract/net.ts';
import type { TlsServerSettings } from '../../core/contract/net.ts';
import { isoWithOffset } from '../../core/contract/clock.ts';
import { decodeText, encodeText, type LabTextEncoding } from '../lab/index.ts';
import { ORDER_CACHE_SERVICE, type LabOrder } from '../lab/index.ts';
import { reportIdentity, reportKeysOf, resultIdentity, type LabReport, type LabResult } from '../lab/index.ts';
import { buildAck, type AckCode } from './ack.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';
import { header, Hl7ParseError, parseHl7, type Hl7Header, type Hl7Message } from './message.ts';
import { buildQueryAnswer, parseHostQuery, type Hl7HostQuery } from './hostQuery.ts';
import { applyOrders, Hl7OrderError, ordersFromHl7, type Hl7OrderBatch } from './orders.ts';
import { extractHl7Results } from './results.ts';
import { hl7ContentHash, isSameMessage, primaryMessageKey, reusedMessageKey } from './identity.ts';
import { clockSkewAlarmFor, clockSkewSeconds, type ClockSkewAlarm } from '../lab/index.ts';

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
  /** Addresses that may connect (empty: the box itself only). */
  allowedPeers: string[];
  limits: ListenerLimits;
  /** MLLP over TLS (IHE ATNA style), optionally requiring client certificates. */
  tls?: TlsServerSettings;
  /** A message must end (FS CR) within this many seconds of its first byte, else the connection is closed. */
  messageTimeoutSeconds: number;
}

export interface Hl7Counters {
  messages: number;
  results: number;
  duplicates: number;
  rejected: number;
  storageFailures: number;
  queries: number;
  orders: number;
  /** A different message that reused a stored control id (kept and flagged). */
  controlIdReused: number;
  /** Connections refused: address not in allowedPeers. */
  refusedPeers: number;
  /** Connections refused: over maxConnectionsPerPeer / maxConnections with none idle enough to make room. */
  refusedBusy: number;
  /** TLS handshakes that failed (no or untrusted client certificate, not TLS at all). */
  refusedTls: number;
  /** Connections closed because a message passed maxMessageBytes. */
  oversized: number;
  /** Connections closed because a message did not end within messageTimeoutSeconds. */
  messageTimeouts: number;
}

/** Messages waiting for their turn on one connection before the socket stops being read. */
const MAX_QUEUED_PER_CONNECTION = 64;

/**
 * HL7 v2 over MLLP (optionally over TLS), the box as server, behind a GuardedListener: only
 * allow-listed peers, bounded connections, idle ones closed. Each connection handles its
 * messages in arrival order; a message and its results are journaled in one group commit, and
 * only then acknowledged. A resend (same MSH-10, same content) gets the ACK stored with the
 * first copy; nothing is stored twice. A different message with a stored MSH-10 is stored too,
 * flagged `controlIdReused` (modules/hl7/identity.ts).
 */
export class Hl7Listener {
  readonly counters: Hl7Counters = {
    messages: 0,
    results: 0,
    duplicates: 0,
    rejected: 0,
    storageFailures: 0,
    queries: 0,
    orders: 0,
    controlIdReused: 0,
    refusedPeers: 0,
    refusedBusy: 0,
    refusedTls: 0,
    oversized: 0,
    messageTimeouts: 0,
  };
  private guarded: GuardedListener | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Set<Promise<void>>();
  private ackSeq = 0;
  /** LIS test code → device code, for host-query answers (the profile's table reversed). */
  private readonly testCodesToDevice: Record<string, string>;
  private readonly clockSkew: ClockSkewAlarm;
  private readonly refusals: RefusalLog;

  constructor(
    private readonly ctx: DriverContext,
    private readonly settings: Hl7ListenerSettings,
  ) {
    this.refusals = new RefusalLog(ctx.log);
    this.clockSkew = clockSkewAlarmFor(ctx, settings.clockSkewAlarmSeconds);
    this.testCodesToDevice = Object.fromEntries(Object.entries(settings.testCodes).map(([device, lis]) => [lis, device]));
  }

  get connections(): number {
    return this.sockets.size;
  }

  get address(): { host: string; port: number } {
    return this.guarded?.address ?? { host: this.settings.host, port: this.settings.port };
  }

  /** Connections refused so far, by reason (status, tests). */
  get refused(): Record<RefusalReason, number> | undefined {
    return this.guarded?.refused;
  }

  async start(): Promise<void> {
    const guarded = new GuardedListener({
      name: `HL7 listener ${this.ctx.id}`,
      host: this.settings.host,
      port: this.settings.port,
      allow: new PeerAllowList(this.settings.allowedPeers),
      limits: this.settings.limits,
      ...(this.settings.tls ? { tls: this.settings.tls } : {}),
      log: this.ctx.log,
      onConnection: (socket) => this.accept(socket),
      onRefused: (reason) => {
        if (reason === 'not-allowed') this.counters.refusedPeers++;
        else if (reason === 'tls-handshake') this.counters.refusedTls++;
        else this.counters.refusedBusy++;
      },
    });
    await guarded.start();
    this.guarded = guarded;
  }

  /** Stops accepting, lets acknowledgements in progress finish, then closes connections. */
  async stop(): Promise<void> {
    const guarded = this.guarded;
    this.guarded = null;
    // stop() stops accepting but waits for open connections: finish the ACKs in progress, then
    // hang up on the senders (they reconnect after the restart), then wait for the close.
    const closed = guarded ? guarded.stop() : Promise.resolve();
    await Promise.allSettled([...this.inFlight]);
    for (const s of this.sockets) s.destroy();
    guarded?.destroyAll();
    await closed;
  }

  private accept(socket: Socket | TLSSocket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.sockets.add(socket);
    const remote = unmapIpv4(socket.remoteAddress ?? '');
    const peer = `${remote}:${socket.remotePort}`;
    const capture = this.ctx.capture.open(`mllp ${peer}`);
    const decoder = new MllpDecoder(this.settings.maxMessageBytes);
    let chain = Promise.resolve();
    let queued = 0;
    let dropping = false;
    let messageTimer: NodeJS.Timeout | null = null;
    const tls =
      'encrypted' in socket && socket.encrypted
        ? { tls: true, clientCertificate: socket.authorized ? String(socket.getPeerCertificate().subject?.CN ?? 'yes') : 'none' }
        : {};
    this.ctx.log.info({ peer, ...tls }, 'HL7 sender connected');
    // Hangs up after the ACKs already owed; nothing more is read from this sender.
    const hangUp = (reason: string) => {
      if (dropping) return;
      dropping = true;
      if (messageTimer) clearTimeout(messageTimer);
      socket.pause();
      this.ctx.log.warn({ peer, reason }, 'HL7 connection closed: the sender broke a limit');
      void chain.finally(() => socket.destroy());
    };
    socket.on('data', (data: Buffer) => {
      if (dropping) return;
      capture.inbound(data);
      const { messages, errors } = decoder.push(data);
      for (const raw of messages) {
        // In arrival order per connection: the next message waits for the previous ACK.
        chain = chain.then(() => this.handle(raw, socket, remote, capture.outbound));
        queued++;
        const tracked = chain.finally(() => {
          this.inFlight.delete(tracked);
          // A sender far ahead of its ACKs waits in TCP, not in our memory.
          if (--queued <= MAX_QUEUED_PER_CONNECTION / 4 && socket.isPaused() && !dropping) socket.resume();
        });
        this.inFlight.add(tracked);
      }
      if (queued >= MAX_QUEUED_PER_CONNECTION) socket.pause();
      for (const e of errors) {
        if (e.kind === 'oversized') {
          this.counters.oversized++;
          return hangUp(`${e.message}; a device that sends larger messages needs a larger maxMessageBytes`);
        }
        this.refusals.warn(`framing ${remote}`, { peer, reason: e.message }, 'MLLP framing problem; the sender will resend');
      }
      // Per-message time bound: a message that started must end in time (a trickle never does).
      if (messages.length > 0 && messageTimer) {
        clearTimeout(messageTimer);
        messageTimer = null;
      }
      if (decoder.inMessage && !messageTimer) {
        messageTimer = setTimeout(() => {
          this.counters.messageTimeouts++;
          hangUp(`a message did not end within ${this.settings.messageTimeoutSeconds} s (messageTimeoutSeconds)`);
        }, this.settings.messageTimeoutSeconds * 1000);
      } else if (!decoder.inMessage && messageTimer) {
        clearTimeout(messageTimer);
        messageTimer = null;
      }
    });
    socket.on('error', (err) => this.ctx.log.debug({ peer, err: err.message }, 'HL7 connection error'));
    socket.on('close', () => {
      if (messageTimer) clearTimeout(messageTimer);
      this.sockets.delete(socket);
      capture.close();
      this.ctx.log.info({ peer }, 'HL7 sender disconnected');
    });
  }

  private async handle(raw: Buffer, socket: Socket, remote: string, captureOut: (b: Buffer) => void): Promise<void> {
    const now = Date.now();
    let encoding = this.settings.encoding;
    const send = (bytes: Buffer) => {
      if (socket.destroyed) return;
      captureOut(bytes);
      socket.write(bytes);
    };
    // MLLP release 2 answers with the commit bytes; HL7 answers are sent in the sender's encoding.
    const reply = (text: string | null, commit: boolean) =>
      send(
        this.settings.mllpRelease2
          ? Buffer.from([0x0b, commit ? 0x06 : 0x15, 0x1c, 0x0d])
          : mllpFrame(encodeText(text ?? '', encoding, { stripDiacritics: this.settings.stripDiacritics === true })),
      );
    let msg: Hl7Message;
    let hdr: Hl7Header;
    try {
      const decoded = this.decode(raw);
      encoding = decoded.encoding;
      msg = parseHl7(decoded.text);
      hdr = header(msg);
      if (!hdr.controlId) throw new Hl7ParseError('MSH-10 (message control id) is empty');
    } catch (err) {
      this.reject(raw, now, remote, reply, `message not understood: ${err instanceof Hl7ParseError ? err.message : String(err)}`, '100');
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
      this.refusals.warn(`AR ${remote} ${reason.slice(0, 60)}`, { controlId: hdr.controlId, type, reason, peer: remote }, 'HL7 message rejected (AR)');
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
      const cache = this.ctx.services.get(ORDER_CACHE_SERVICE);
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
      return refuse(
        isOrder
          ? `${type}: orders are accepted only on an orders listener (mode "orders")`
          : `${type}: this orders listener accepts ORM^O01, OML^O21 and OMI^O23 only`,
      );
    }
    // An analyzer sends results (and queries, answered above); anything else is not stored.
    if (!isOrder && hdr.messageType !== 'ORU' && hdr.messageType !== 'OUL') {
      return refuse(`${type}: an analyzer listener accepts results (ORU^R01, OUL^R22) and host queries (QRY^Q02, QBP^Q11) only`);
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
      const cache = this.ctx.services.get(ORDER_CACHE_SERVICE);
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
    const stream = isOrder ? 'lab.order' : 'lab.message';
    const reportKeys = reportKeysOf(reports);
    const unrouted = (qc: boolean) => (qc && !this.settings.forwardQc ? { routes: [] } : {});
    const contentHash = hl7ContentHash(raw);
    const primaryKey = primaryMessageKey(this.ctx.id, hdr.controlId);
    const answerResend = (stored: { meta?: Record<string, unknown> }) => {
      this.counters.duplicates++;
      this.ctx.log.info({ controlId: hdr.controlId }, 'repeated HL7 message answered with its stored ACK');
      reply(String(stored.meta?.ack ?? ok), true);
    };
    // Journals this message under `key` with its reports and results, in one group commit: the
    // message as sent (for LIS interfaces that want it unchanged), each order as the analyzer
    // grouped it, and each result; every destination takes the view it asks for.
    const store = async (key: string, reusedOf?: { id?: number; meta?: Record<string, unknown> }): Promise<{ first: AppendResult; rest: AppendResult[] }> => {
      const flag = reusedOf ? { controlIdReused: true, peer: remote, firstJournalId: reusedOf.id, firstPeer: reusedOf.meta?.peer } : undefined;
      const entries: JournalInput[] = [
        {
          stream,
          kind: type,
          idempotencyKey: key,
          raw,
          personal: true,
          ...(isOrder ? { routes: [] } : unrouted(results.some((r) => r.qc))),
          meta: { ack: ok, controlId: hdr.controlId, contentHash, peer: remote, ...flag },
          ...(flag ? { parsed: flag } : {}),
          ...(applyBatch ? { withEntry: applyBatch } : {}),
        },
        ...reports.map((report) => ({
          stream: 'lab.report',
          kind: 'hl7.report',
          idempotencyKey: reportIdentity(report),
          parsed: { ...report, messageKey: key, controlId: hdr.controlId },
          personal: true,
          ...unrouted(report.qc),
        })),
        ...results.map((r) => ({
          stream: 'lab.result',
          kind: 'hl7.result',
          idempotencyKey: resultIdentity(r),
          parsed: { ...r, messageKey: key, ...(reportKeys.has(r) ? { reportKey: reportKeys.get(r) } : {}) },
          personal: true,
          ...unrouted(r.qc),
        })),
      ];
      // Started in the same tick: one group commit makes the message and its results durable.
      const [first, ...rest] = await Promise.all(entries.map((e) => this.ctx.journal.append(e)));
      return { first: first!, rest };
    };
    try {
      // Which stored message is this? A resend only when the content is the same too.
      let key = primaryKey;
      let reusedOf: { id: number; meta: Record<string, unknown> } | undefined;
      const stored = this.ctx.journal.find?.(stream, primaryKey);
      if (stored && isSameMessage(stored.meta, contentHash)) return answerResend(stored);
      if (stored) {
        reusedOf = stored;
        key = reusedMessageKey(this.ctx.id, hdr.controlId, contentHash);
        const again = this.ctx.journal.find?.(stream, key);
        if (again) return answerResend(again);
      }
      let { first, rest } = await store(key, reusedOf);
      if (first.duplicate && !isSameMessage(first.meta, contentHash) && !reusedOf) {
        // The first copy was committed while we looked (or this journal cannot be read): keep ours beside it.
        reusedOf = { id: first.id, meta: first.meta ?? {} };
        key = reusedMessageKey(this.ctx.id, hdr.controlId, contentHash);
        ({ first, rest } = await store(key, reusedOf));
      }
      if (first.duplicate) return answerResend(first);
      if (reusedOf) {
        this.counters.controlIdReused++;
        this.ctx.log.warn(
          { controlId: hdr.controlId, type, peer: remote, firstPeer: reusedOf.meta.peer, firstJournalId: reusedOf.id, journalId: first.id },
          'HL7 control id (MSH-10) reused by a different message: both kept, this one flagged controlIdReused; check the sender',
        );
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

  private reject(raw: Buffer, now: number, remote: string, reply: (text: string | null, commit: boolean) => void, text: string, errorCode: string): void {
    this.counters.rejected++;
    // Once per address and reason per 10 minutes (with the count): a flood of garbage writes a line, not thousands.
    this.refusals.warn(`AR ${remote} ${text.slice(0, 60)}`, { reason: text, bytes: raw.length, peer: remote }, 'HL7 message rejected (AR)');
    reply(
      buildAck(safeHeader(raw), 'AR', {
        controlId: this.nextControlId(now),
        nowMs: now,
        timeZone: this.ctx.timezone,
        application: this.settings.applicationName,
        text,
        errorCode,
      }),
      false,
    );
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
  return {
    sendingApplication: f[2] ?? '',
    sendingFacility: f[3] ?? '',
    receivingApplication: f[4] ?? '',
    receivingFacility: f[5] ?? '',
    controlId: f[9] ?? '',
    version: (f[11] ?? '').split('^')[0] ?? '',
    charset: f[17] ?? '',
  };
}
