import net from 'node:net';
import { systemClock, type Clock } from '../../core/contract/clock.ts';
import type { DeliveryOutcome, Destination, DestinationContext, DestinationFactory, OutboxItem } from '../../core/contract/destination.ts';
import { encodeText, type LabTextEncoding } from '../lab/index.ts';
import type { LabResult } from '../lab/index.ts';
import { FRAME_SIZE_E1381 } from './frame.ts';
import { AstmLink } from './link.ts';
import { DEFAULT_DELIMITERS, joinRecords, serializeRecord } from './records.ts';
import { formatAstmTime } from './session.ts';

export interface AstmLisConfig {
  host: string;
  port: number;
  frameSize?: number;
  /** utf-8 or windows-1258 (TCVN3/VISCII are refused on an ASTM wire). */
  encoding?: LabTextEncoding;
  /** Send texts without Vietnamese diacritics (then any encoding is safe on the wire). */
  stripDiacritics?: boolean;
  senderName?: string;
  connectTimeoutMs?: number;
  replyTimeoutMs?: number;
  timezone?: string;
}

/** One LabResult as an E1394 message: H, P, O, R, L. */
export function resultToAstm(r: LabResult, opts: { senderName: string; now: string }): string {
  const d = DEFAULT_DELIMITERS;
  const words = r.patientName?.trim().split(/\s+/);
  const parts = r.patientNameParts;
  const name = parts
    ? [parts.family ?? '', parts.given ?? '', parts.middle ?? '']
    : words
      ? [words[0]!, words.at(-1)!, words.slice(1, -1).join(' ')]
      : undefined;
  const lines = [
    serializeRecord('H', ['H', '', '', '', [opts.senderName], '', '', '', '', '', '', r.qc ? 'Q' : 'P', '1', opts.now], d),
    serializeRecord('P', ['1', '', r.patientId ?? '', '', name, '', r.patientBirthDate ?? '', r.patientSex ?? ''], d),
    serializeRecord(
      'O',
      [
        '1',
        r.specimenId,
        r.instrumentSpecimenId ?? '',
        ['', '', '', r.testCode],
        'R',
        '',
        '',
        '',
        '',
        '',
        r.qc ? 'Q' : 'N',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        'F',
      ],
      d,
    ),
    // R.7 flags are repeats: built raw so the repeat delimiter is not escaped.
    serializeRecord(
      'R',
      ['1', ['', '', '', r.testCode], r.valueText, r.units ?? '', r.referenceRange ?? '', '\u0000FLAGS', '', r.status, '', '', '', r.completedRaw ?? ''],
      d,
    ).replace('\u0000FLAGS', r.flags.map((f) => f.replace(/[|\\^&]/g, '')).join(d.repeat)),
    // The analyzer's comments on the result, as C records after it.
    ...(r.comments ?? []).map((text, i) => serializeRecord('C', [String(i + 1), 'I', text, 'G'], d)),
    serializeRecord('L', ['1', 'N'], d),
  ];
  return joinRecords(lines);
}

/**
 * Forwards lab results to a LIS that speaks ASTM over TCP (the box connects, as the instrument
 * would). ASTM has no application-level acknowledgement: 'ok' means every frame was ACKed.
 * The LIS may not send to us on this connection: its ENQ is answered NAK (busy), because
 * this destination cannot make what it would receive durable.
 */
export class AstmLisDestination implements Destination {
  private socket: net.Socket | null = null;
  private link: AstmLink | null = null;

  constructor(
    readonly id: string,
    private readonly config: AstmLisConfig,
    private readonly ctx: Pick<DestinationContext, 'log'>,
    private readonly clock: Clock = systemClock,
  ) {
    encodeText('', config.encoding ?? 'utf-8', { forAstmWire: true, stripDiacritics: config.stripDiacritics === true });
  }

  async stop(): Promise<void> {
    this.disconnect();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const r = item.parsed as LabResult | null;
    if (!r || typeof r !== 'object' || typeof r.specimenId !== 'string' || typeof r.valueText !== 'string') {
      return { result: 'permanent', reason: `item ${item.idempotencyKey} is not a lab result (stream ${item.stream})` };
    }
    let link: AstmLink;
    try {
      link = await this.connect(signal);
    } catch (err) {
      return { result: 'retry', reason: `${this.config.host}:${this.config.port}: ${(err as Error).message}` };
    }
    const text = resultToAstm(r, { senderName: this.config.senderName ?? 'EDGE', now: formatAstmTime(this.clock.now(), this.config.timezone ?? r.timezone) });
    const onAbort = () => this.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await link.send(
        encodeText(text, this.config.encoding ?? 'utf-8', { forAstmWire: true, stripDiacritics: this.config.stripDiacritics === true }),
      );
      if (outcome.ok) return { result: 'ok', detail: 'all frames ACKed' };
      // Unknown outcome: start clean so a late reply cannot count for the next message.
      this.disconnect();
      return { result: 'retry', reason: outcome.reason };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private connect(signal: AbortSignal): Promise<AstmLink> {
    if (this.link && this.socket && !this.socket.destroyed) return Promise.resolve(this.link);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.config.host, port: this.config.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, this.config.connectTimeoutMs ?? 10_000);
      const onAbort = () => {
        socket.destroy();
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const link = new AstmLink(
          {
            clock: this.clock,
            role: 'instrument',
            frameSize: this.config.frameSize ?? FRAME_SIZE_E1381,
            timers: { replyTimeoutMs: this.config.replyTimeoutMs ?? 15_000 },
          },
          {
            write: (b) => {
              if (!socket.destroyed) socket.write(b);
            },
            frame: async () => false,
            transmissionEnd: () => {},
            busy: () => {
              this.ctx.log.warn('the ASTM LIS tried to send to the box; refused (NAK), this destination only sends');
              return true;
            },
          },
        );
        socket.on('data', (b: Buffer) => link.receive(b));
        socket.on('error', () => {});
        socket.once('close', () => {
          link.close();
          if (this.socket === socket) {
            this.socket = null;
            this.link = null;
          }
        });
        this.socket = socket;
        this.link = link;
        resolve(link);
      });
    });
  }

  private disconnect(): void {
    this.link?.close();
    this.socket?.destroy();
    this.link = null;
    this.socket = null;
  }
}

export const astmLisDestinationFactory: DestinationFactory<AstmLisConfig> = {
  type: 'astm-lis',
  create: (ctx, config) => new AstmLisDestination(ctx.id, config, ctx),
};
