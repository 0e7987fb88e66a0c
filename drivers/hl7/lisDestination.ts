import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DeliveryOutcome, Destination, DestinationFactory, OutboxItem } from '../../agent/forward/destination.ts';
import { encodeText } from '../lab/encoding.ts';
import type { LabResult } from '../lab/result.ts';
import { hl7Time } from './ack.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';
import { comp, escapeHl7, parseHl7, segment } from './message.ts';

export interface Hl7LisConfig {
  host: string;
  port: number;
  /** MSH-3/4 (us) and MSH-5/6 (the LIS). */
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  version?: string;
  ackTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  /** Box timezone for MSH-7. */
  timezone?: string;
  /** Send names and texts without Vietnamese diacritics (for a LIS that cannot store them). */
  stripDiacritics?: boolean;
}

/** MSH-10 from the idempotency key: a retry carries the same control id, so the LIS can drop it. */
export function controlIdFor(key: string): string {
  return key.replace(/^res:/, '').replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
}

/** One result as ORU^R01 (HL7 2.5.1, UTF-8). */
export function buildOru(r: LabResult & { messageKey?: string }, controlId: string, cfg: Hl7LisConfig, nowMs: number): string {
  const e = (v: string | number | undefined) => escapeHl7(String(v ?? ''));
  const ts = (iso?: string, raw?: string) => (iso ? iso.slice(0, 19).replace(/[-T:]/g, '') + iso.slice(19).replace(/^\.\d+/, '').replace(':', '') : raw ?? '');
  const valueType = r.valueNumber !== undefined ? 'NM' : 'ST';
  const completed = ts(r.completedAt, r.completedRaw);
  return [
    `MSH|^~\\&|${e(cfg.sendingApplication ?? 'EDGE')}|${e(cfg.sendingFacility ?? '')}|${e(cfg.receivingApplication ?? 'LIS')}|${e(cfg.receivingFacility ?? '')}|${hl7Time(nowMs, cfg.timezone ?? r.timezone)}||ORU^R01^ORU_R01|${controlId}|${r.qc ? 'Q' : 'P'}|${cfg.version ?? '2.5.1'}||||||UNICODE UTF-8`,
    `PID|1||${e(r.patientId)}||${e(r.patientName)}||${e(r.patientBirthDate)}|${e(r.patientSex)}`,
    `OBR|1||${e(r.specimenId)}|${e(r.testCode)}^${e(r.testName)}|||${completed}`,
    `OBX|1|${valueType}|${e(r.testCode)}^${e(r.testName)}||${e(r.valueText)}|${e(r.units)}|${e(r.referenceRange)}|${r.flags.map(e).join('~')}|||${e(r.status)}|||${completed}||||${e(r.device)}`,
  ].join('\r') + '\r';
}

/**
 * Results to the LIS as ORU^R01 over one kept-open MLLP connection. ACKs are matched by MSA-2,
 * never by position; after an ACK timeout the connection is closed, so a late ACK can never
 * confirm the next message (Mirth issues 1441, 2070). AA/CA → delivered; AE/AR → parked with the
 * LIS's reason; no answer or a broken connection → retried with the same control id.
 */
export class Hl7LisDestination implements Destination {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly waiting = new Map<string, (ack: { code: string; text: string }) => void>();

  constructor(
    readonly id: string,
    private readonly config: Hl7LisConfig,
    private readonly log: Logger,
  ) {}

  async stop(): Promise<void> {
    this.drop();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const result = item.parsed as LabResult | null;
    if (!result || typeof result !== 'object' || !('specimenId' in result)) return { result: 'permanent', reason: `not a lab result (stream ${item.stream})` };
    const controlId = controlIdFor(item.idempotencyKey);
    let socket: Socket;
    try {
      socket = await this.connection();
    } catch (err) {
      return { result: 'retry', reason: `LIS ${this.config.host}:${this.config.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    const timeoutMs = (this.config.ackTimeoutSeconds ?? 30) * 1000;
    return new Promise<DeliveryOutcome>((resolve) => {
      const finish = (outcome: DeliveryOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(controlId);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        // Unknown outcome: close so this ACK, if it ever comes, cannot be taken for another message's.
        this.drop();
        finish({ result: 'retry', reason: `no ACK from the LIS within ${timeoutMs / 1000} s; connection closed` });
      }, timeoutMs);
      const onAbort = () => finish({ result: 'retry', reason: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(controlId, (ack) => {
        if (ack.code === 'AA' || ack.code === 'CA') finish({ result: 'ok', detail: `ACK ${ack.code}` });
        else if (ack.code === 'CLOSED') finish({ result: 'retry', reason: ack.text });
        else finish({ result: 'permanent', reason: `LIS answered ${ack.code}${ack.text ? `: ${ack.text}` : ''}` });
      });
      socket.write(mllpFrame(encodeText(buildOru(result, controlId, this.config, Date.now()), 'utf-8', { stripDiacritics: this.config.stripDiacritics === true })));
    });
  }

  private connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.config.host, port: this.config.port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), (this.config.connectTimeoutSeconds ?? 10) * 1000);
      const decoder = new MllpDecoder(16 * 1024 * 1024);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      socket.on('data', (d: Buffer) => {
        for (const m of decoder.push(d).messages) this.onAck(m.toString('utf8'));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        this.connecting = null;
        reject(err);
      });
      socket.once('close', () => {
        if (this.socket === socket) this.socket = null;
        for (const w of [...this.waiting.values()]) w({ code: 'CLOSED', text: 'the LIS closed the connection before answering' });
      });
    });
    return this.connecting;
  }

  private onAck(text: string): void {
    try {
      const msg = parseHl7(text);
      const msa = segment(msg, 'MSA');
      const controlId = comp(msg, msa, 2);
      const waiter = this.waiting.get(controlId);
      if (!waiter) {
        this.log.warn({ controlId }, 'ACK for no message in flight (late or foreign); ignored');
        return;
      }
      const err = segment(msg, 'ERR');
      waiter({ code: comp(msg, msa, 1), text: comp(msg, msa, 3) || comp(msg, err, 3, 2) || comp(msg, err, 1, 4) });
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'unreadable answer from the LIS ignored');
    }
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

export const hl7LisDestinationFactory: DestinationFactory<Hl7LisConfig> = {
  type: 'hl7-mllp-lis',
  create: (ctx, config) => new Hl7LisDestination(ctx.id, { ...config, ...(ctx.box && !config.timezone ? { timezone: ctx.box.timezone } : {}) }, ctx.log),
};

/** The name the lab brief uses for the same factory (registered under type 'hl7-mllp-lis'). */
export const lisMllpDestinationFactory = hl7LisDestinationFactory;
