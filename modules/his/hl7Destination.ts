import { isoWithOffset } from '../../core/contract/clock.ts';
import type { DeliveryOutcome, Destination, DestinationContext, DestinationFactory, OutboxItem } from '../../core/contract/destination.ts';
import { buildAdtA04, type AdtA04Options } from './adtA04.ts';
import type { HisCheckIn } from './contract.ts';
import { MllpSender, MllpSendError } from '../hl7/index.ts';
import type { Logger } from 'pino';
import { scrubPersonal } from './scrub.ts';

export interface HisHl7Config extends AdtA04Options {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  ackTimeoutMs?: number;
}

/**
 * Check-in registration as HL7 v2 ADT^A04 over MLLP. Done only on an application ACK: AA (or
 * CA) → ok; AE/AR (CE/CR) → permanent, parked with the HIS's text; no ACK in time, a closed
 * connection or a refused connect → retry with the same control id.
 */
export class HisHl7Destination implements Destination {
  private readonly sender: MllpSender;

  constructor(
    readonly id: string,
    private readonly config: HisHl7Config,
    log: Logger,
    /** MSH-7 in the box's local time with its offset. */
    private readonly now: () => string = () => isoWithOffset(Date.now(), 'Asia/Ho_Chi_Minh'),
  ) {
    this.sender = new MllpSender({
      host: config.host,
      port: config.port,
      peer: 'HIS',
      connectTimeoutMs: config.connectTimeoutMs ?? 5_000,
      ackTimeoutMs: config.ackTimeoutMs ?? 10_000,
      log,
    });
  }

  async stop(): Promise<void> {
    this.sender.close();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const checkIn = item.parsed as HisCheckIn | null;
    if (!checkIn || typeof checkIn !== 'object' || !checkIn.identity || !checkIn.ticket) {
      return { result: 'permanent', reason: `item ${item.idempotencyKey} is not a HIS check-in (stream ${item.stream})` };
    }
    const { message, controlId } = buildAdtA04(checkIn, item.idempotencyKey, this.now(), this.config);
    let ack;
    try {
      ack = await this.sender.send(message, controlId, signal);
    } catch (err) {
      if (!(err instanceof MllpSendError)) throw err;
      return { result: 'retry', reason: `${this.config.host}:${this.config.port}: ${err.message}` };
    }
    const text = scrubPersonal(ack.text, checkIn.identity);
    if (ack.code === 'AA' || ack.code === 'CA') return { result: 'ok', detail: `ACK ${ack.code} ${controlId}` };
    if (['AE', 'AR', 'CE', 'CR'].includes(ack.code))
      return { result: 'permanent', reason: `HIS answered ${ack.code} for ${controlId}${text ? `: ${text}` : ''}` };
    return { result: 'retry', reason: `HIS answered an unknown acknowledgement code '${ack.code}' for ${controlId}` };
  }
}

export const hisHl7DestinationFactory: DestinationFactory<HisHl7Config> = {
  type: 'his-hl7',
  create: (ctx: DestinationContext, config: HisHl7Config) =>
    new HisHl7Destination(ctx.id, config, ctx.log, () => isoWithOffset(Date.now(), ctx.box?.timezone ?? 'Asia/Ho_Chi_Minh')),
};
