import type { Logger } from 'pino';
import type { DeliveryOutcome, Destination, DestinationFactory, OutboxItem } from '../../core/contract/destination.ts';
import { encodeText } from '../lab/index.ts';
import type { LabReport, LabResult } from '../lab/index.ts';
import { controlIdFor } from './ack.ts';
import { MllpSender, MllpSendError } from './mllpSender.ts';
import { buildOru, reportOf, type OruSettings } from './oru.ts';

/** MSH-3/4 (us), MSH-5/6 (the LIS), MSH-12 and the zone of MSH-7 come from OruSettings. */
export interface Hl7LisConfig extends OruSettings {
  host: string;
  port: number;
  ackTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  /** Send names and texts without Vietnamese diacritics (for a LIS that cannot store them). */
  stripDiacritics?: boolean;
  format?: LisFormat;
}

/**
 * What the LIS receives: `order` one ORU per order as the analyzer grouped it (stream
 * 'lab.report'), `result` one ORU per result ('lab.result'), `passthrough` the analyzer's own
 * message unchanged ('lab.message', HL7 devices only).
 */
export type LisFormat = 'order' | 'result' | 'passthrough';
const STREAM_OF: Record<LisFormat, string> = { order: 'lab.report', result: 'lab.result', passthrough: 'lab.message' };

/** The message an outbox item becomes, and the control id its ACK must carry in MSA-2. */
export function messageFor(item: OutboxItem, cfg: Hl7LisConfig, nowMs: number): { text: Buffer; controlId: string } | { refused: string } {
  const format = cfg.format ?? 'order';
  if (item.stream !== STREAM_OF[format]) return { refused: `a ${format}-format LIS takes ${STREAM_OF[format]} items, not ${item.stream}` };
  const encode = (text: string) => encodeText(text, 'utf-8', { stripDiacritics: cfg.stripDiacritics === true });
  if (format === 'passthrough') {
    if (!item.raw) return { refused: 'the original message is no longer on the box (personal-data retention scrubbed it)' };
    if (!item.kind.includes('^')) return { refused: `passthrough forwards HL7 messages only; this is ${item.kind}` };
    const controlId = String(item.meta.controlId ?? '');
    return { text: item.raw, controlId };
  }
  const parsed = item.parsed as (LabReport & LabResult) | null;
  if (!parsed || typeof parsed !== 'object' || !('specimenId' in parsed))
    return { refused: `not a lab ${format === 'order' ? 'report' : 'result'} (stream ${item.stream})` };
  const controlId = controlIdFor(item.idempotencyKey);
  const report = format === 'order' ? parsed : reportOf(parsed);
  return { text: encode(buildOru(report, controlId, cfg, nowMs)), controlId };
}

/**
 * Results to the LIS as ORU^R01 over the box's HL7 sender (mllpSender.ts: one kept-open
 * connection, ACKs matched by MSA-2). AA/CA → delivered; AE/AR → parked with the LIS's reason;
 * no answer or a broken connection → retried with the same control id.
 */
export class Hl7LisDestination implements Destination {
  private readonly sender: MllpSender;

  constructor(
    readonly id: string,
    private readonly config: Hl7LisConfig,
    log: Logger,
  ) {
    this.sender = new MllpSender({
      host: config.host,
      port: config.port,
      peer: 'LIS',
      connectTimeoutMs: (config.connectTimeoutSeconds ?? 10) * 1000,
      ackTimeoutMs: (config.ackTimeoutSeconds ?? 30) * 1000,
      log,
    });
  }

  async stop(): Promise<void> {
    this.sender.close();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const message = messageFor(item, this.config, Date.now());
    if ('refused' in message) return { result: 'permanent', reason: message.refused };
    try {
      const ack = await this.sender.send(message.text, message.controlId, signal);
      if (ack.code === 'AA' || ack.code === 'CA') return { result: 'ok', detail: `ACK ${ack.code}` };
      return { result: 'permanent', reason: `LIS answered ${ack.code}${ack.text ? `: ${ack.text}` : ''}` };
    } catch (err) {
      if (err instanceof MllpSendError) return { result: 'retry', reason: err.message };
      throw err;
    }
  }
}

export const hl7LisDestinationFactory: DestinationFactory<Hl7LisConfig> = {
  type: 'hl7-mllp-lis',
  streams: (config) => [STREAM_OF[config.format ?? 'order']],
  create: (ctx, config) => new Hl7LisDestination(ctx.id, { ...config, ...(ctx.box && !config.timezone ? { timezone: ctx.box.timezone } : {}) }, ctx.log),
};

/** The name the lab brief uses for the same factory (registered under type 'hl7-mllp-lis'). */
export const lisMllpDestinationFactory = hl7LisDestinationFactory;
