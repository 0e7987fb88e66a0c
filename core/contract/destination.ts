import type { Logger } from 'pino';
import type { BlobRef, ServiceRegistry } from './driver.ts';

/** One outbox item handed to a destination. */
export interface OutboxItem {
  outboxId: number;
  journalId: number;
  destination: string;
  /** Ordering key (usually the source device id). */
  orderKey: string;
  source: string;
  stream: string;
  kind: string;
  /** Sent to the destination so it can drop repeats after an unknown outcome. */
  idempotencyKey: string;
  attempts: number;
  raw: Buffer | null;
  parsed: unknown;
  blob: BlobRef | null;
  /** Absolute path of the blob file, when there is one. Read blob.size bytes: the file may be longer for a moment. */
  blobPath: string | null;
  receivedAt: string;
  meta: Record<string, unknown>;
}

/**
 * What a destination answers for one item:
 * - ok: acknowledged at application level (HL7 AA, DICOM success, HTTP 2xx with the id);
 * - retry: transport error, timeout, 5xx, unknown outcome: try again later, same key;
 * - permanent: the destination refused this item (HL7 AE/AR, DICOM failure, HTTP 4xx):
 *   park it in dead letter with the reason and move on.
 */
export type DeliveryOutcome = { result: 'ok'; detail?: string } | { result: 'retry'; reason: string } | { result: 'permanent'; reason: string };

export interface Destination {
  readonly id: string;
  /** Optional connection set-up; failures are retried by the supervisor. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome>;
  /**
   * Optional: several items in one request (STOW-RS). One outcome per item, in the same order;
   * the forwarder records each as for deliver(). Used only when the destination's batchSize > 1.
   */
  deliverBatch?(items: OutboxItem[], signal: AbortSignal): Promise<DeliveryOutcome[]>;
}

export interface DestinationContext {
  id: string;
  log: Logger;
  /** The box this agent runs on (for topics and envelope ids). */
  box?: { id: string; facility: string; timezone: string };
  /** Shared services (the order cache, for DICOM tag coercion from the HIS order). */
  services?: ServiceRegistry;
}

export interface DestinationFactory<C = Record<string, unknown>> {
  type: string;
  create(ctx: DestinationContext, config: C): Destination;
  /**
   * The journal streams this destination takes from the devices routed to it (a LIS that wants
   * one message per order takes 'lab.report', not 'lab.result'). Absent: every stream but the
   * views a destination must ask for (VIEW_STREAMS).
   */
  streams?(config: C): string[];
}

/**
 * Streams that are another view of what a device sent (the raw message, the results grouped per
 * order): journaled for every device, forwarded only to destinations that name them in streams().
 */
export const VIEW_STREAMS: ReadonlySet<string> = new Set(['lab.message', 'lab.report']);

/** Which of `routes` take an entry of `stream`, given each destination's streams (absent: the default). */
export function routesTaking(routes: readonly string[], stream: string, streamsOf: (destination: string) => string[] | undefined): string[] {
  return routes.filter((d) => {
    const streams = streamsOf(d);
    return streams ? streams.includes(stream) : !VIEW_STREAMS.has(stream);
  });
}
