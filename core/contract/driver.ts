import type { Logger } from 'pino';
import type { EventBus } from './events.ts';

/**
 * The contract between the core and every device driver. A driver is created from its
 * validated configuration block, start()s and stop()s, reports its status, and hands what it
 * receives to the journal through ctx.journal.append(). It never talks to a destination.
 */

export type DriverState = 'starting' | 'running' | 'degraded' | 'error' | 'stopped';

export interface DriverStatus {
  state: DriverState;
  /** Plain sentence for IT staff, e.g. "listening on 127.0.0.1:2575, 2 connections". */
  detail?: string;
  lastError?: string;
  since: string;
  counters?: Record<string, number>;
}

/** What a driver asks the journal to keep. */
export interface JournalInput {
  /** Stream name: 'lab.result', 'lab.message', 'dicom.instance', 'queue.event', 'telemetry'... */
  stream: string;
  /** Message kind within the stream, e.g. 'ORU^R01', 'astm.transmission'. */
  kind: string;
  /**
   * Identity used for de-duplication and as the destinations' idempotency key. Derive it from
   * content or the device's own id (MSH-10, SOP Instance UID, specimen+test+time). A second
   * append with the same (stream, key) is not stored again and returns duplicate: true.
   */
  idempotencyKey: string;
  /** Raw bytes as received (small payloads). Large ones go through ctx.blobs and `blob`. */
  raw?: Buffer;
  /** Parsed form, stored as JSON, shown in the console, used by forwarders. */
  parsed?: unknown;
  /** Reference to a blob already written and fsynced by ctx.blobs. */
  blob?: BlobRef;
  /** True when raw/parsed hold personal data: scrubbed after the personal-data retention. */
  personal?: boolean;
  /**
   * Destinations to enqueue for, in the same transaction. Defaults to the device's configured
   * routes. An empty list journals without forwarding.
   */
  routes?: string[];
  /** Ordering key within each destination; defaults to the device id. */
  orderKey?: string;
  /**
   * Extra rows that belong with the entry (a DICOM instance's study index row), written in the
   * same commit so one fsync covers both. Runs only for a new entry; if it throws, the append
   * fails, so catch what must not fail the device's acknowledgement.
   */
  withEntry?: (journalId: number) => void;
  /**
   * Clinical data is never refused for budget reasons (only when the disk really fails);
   * 'telemetry' is refused first when the disk budget is exhausted.
   */
  priority?: 'clinical' | 'telemetry';
  /** Extra data stored with the entry (e.g. the ACK bytes sent back, to resend on a repeat). */
  meta?: Record<string, unknown>;
}

export interface AppendResult {
  id: number;
  duplicate: boolean;
  /** For a duplicate: the meta stored with the first copy (e.g. the original ACK). */
  meta?: Record<string, unknown>;
}

export interface BlobRef {
  hash: string;
  size: number;
}

export interface WriteStreamOptions {
  /** The producer never touches a chunk once yielded (socket reads): kept until written, not copied. */
  chunksKept?: boolean;
}

export interface BlobWriter {
  /** Writes a stream to disk (fsynced) and returns its ref; found by path() once journaled. */
  writeStream(source: AsyncIterable<Buffer | Uint8Array>, options?: WriteStreamOptions): Promise<BlobRef>;
  write(data: Buffer): Promise<BlobRef>;
  /** Where the bytes are. Read exactly ref.size bytes: a just-written blob's file may be longer for a moment. */
  path(ref: BlobRef): string;
  /** Blobs are expected (a receiver starts): the store may prepare for fast writes now. */
  prepare?(): void;
}

export interface Journal {
  /** Resolves only when the entry (and its outbox rows) are durable; rejects fast otherwise. */
  append(input: JournalInput): Promise<AppendResult>;
  /**
   * The committed entry with this key, if any (a read: no write, no fsync), with the meta
   * stored with it. Lets a driver decide what to append (an HL7 control id reused by another
   * message). Entries still in an uncommitted group are not seen: callers also handle append's
   * `duplicate` answer.
   */
  find?(stream: string, idempotencyKey: string): { id: number; meta: Record<string, unknown> } | undefined;
}

/** Raw byte capture per connection, for support and replay (DESIGN rule 5). */
export interface RawCapture {
  open(connection: string): CaptureSession;
}
export interface CaptureSession {
  inbound(bytes: Buffer): void;
  outbound(bytes: Buffer): void;
  close(): void;
}

export interface DriverContext {
  /** The device id from configuration (key under `devices:`). */
  id: string;
  log: Logger;
  bus: EventBus;
  journal: Journal;
  blobs: BlobWriter;
  capture: RawCapture;
  /** Configured IANA timezone of the device (default Asia/Ho_Chi_Minh). */
  timezone: string;
  /** Report a status change; the supervisor publishes it and restarts on 'error'. */
  setStatus(state: DriverState, detail?: string, error?: unknown): void;
  /** Shared services registered by other modules (order cache, queue...), looked up by name. */
  services: ServiceRegistry;
}

/**
 * A service's name carrying its type (`serviceKey<OrderCache>('lab.orderCache')`): `get` returns
 * that type, no cast where it is used; a key used with another type does not compile.
 */
export type ServiceKey<T> = string & { readonly __service?: T };
export const serviceKey = <T>(name: string): ServiceKey<T> => name as ServiceKey<T>;

export interface ServiceRegistry {
  get<T>(key: ServiceKey<T>): T | undefined;
  provide<T>(key: ServiceKey<T>, service: T): void;
}

/** What the console's "Test" button shows for a device. */
export interface SelfTestResult {
  ok: boolean;
  /** One sentence for IT staff: what was tried and what happened. */
  detail: string;
}

export interface Driver {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): DriverStatus;
  /**
   * The console's test for this kind of device (echo a peer, print a test ticket, read a card).
   * Must finish or give up when `signal` aborts. Without it the test reports the status.
   */
  selfTest?(signal: AbortSignal): Promise<SelfTestResult>;
}

/** A protocol driver's registration: its type name and factory. */
export interface DriverFactory<C = Record<string, unknown>> {
  type: string;
  create(ctx: DriverContext, config: C): Driver;
  /**
   * What a configured device holds alone (the ports it listens on, the device files it opens),
   * with the driver's defaults: the configuration check refuses two holders of one.
   */
  holds?(config: Record<string, unknown>): DeviceHold[];
}

/** A port on an address (a wildcard address overlaps every address) or a device file, at a field of the device's block. */
export type DeviceHold =
  | { field: Array<string | number>; kind: 'port'; host: string; port: number }
  | { field: Array<string | number>; kind: 'path'; path: string };

/** A listener's hold, unless the port is 0 (an ephemeral port the system picks: never shared). */
export const portHold = (field: Array<string | number>, host: unknown, port: unknown): DeviceHold[] =>
  typeof port === 'number' && port > 0 ? [{ field, kind: 'port', host: typeof host === 'string' ? host : '0.0.0.0', port }] : [];
/** A device file's hold, when one is written. */
export const pathHold = (path: unknown): DeviceHold[] => (typeof path === 'string' && path ? [{ field: ['path'], kind: 'path', path }] : []);
