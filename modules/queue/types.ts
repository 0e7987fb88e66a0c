/**
 * Queue model. Priority classes: Law on Medical Examination and Treatment 2023 (Luật Khám bệnh,
 * chữa bệnh 15/2023/QH15), art. 3.2. The law sets no order among them: per-service configuration.
 */
export const PRIORITY_CLASSES = ['emergency', 'under6', 'pregnant', 'disability', 'age75', 'merit'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Classes that follow from the birth date; the others are claimed and confirmed by staff. */
export const AUTOMATIC_CLASSES: readonly PriorityClass[] = ['under6', 'age75'];

export const PRIORITY_LABELS_VI: Record<PriorityClass, string> = {
  emergency: 'Cấp cứu',
  under6: 'Trẻ dưới 6 tuổi',
  pregnant: 'Phụ nữ có thai',
  disability: 'Người khuyết tật nặng',
  age75: 'Người từ 75 tuổi',
  merit: 'Người có công với cách mạng',
};

export type PriorityStrategy =
  /** Priority tickets always first. */
  | { kind: 'strict' }
  /** One priority call in every `every` calls (every−1 normal calls, then one priority) when both wait. */
  | { kind: 'interleave'; every: number };

export interface ServiceConfig {
  id: string;
  name: string;
  /** Letters before the number ('A' → A0012). */
  prefix?: string;
  /** Digits of the number, zero padded (default 4: 0123). */
  digits?: number;
  /** Priority classes in calling order (default: the law's order). */
  priorityOrder?: PriorityClass[];
  strategy?: PriorityStrategy;
  /** Classes called before everything else whatever the strategy (default ['emergency']). */
  alwaysFirst?: PriorityClass[];
  /** A skipped ticket can be recalled while fewer than this many tickets were called since (default 5). */
  tolerance?: number;
  /** Unconfirmed claims wait as priority (staff confirm at the counter) or as normal (default 'priority'). */
  unconfirmedClaims?: 'priority' | 'normal';
}

/** The number a service's `seq`-th ticket of the day carries: prefix, then zero-padded digits (A0012). */
export function ticketNumber(svc: Pick<ServiceConfig, 'prefix' | 'digits'>, seq: number): string {
  return `${svc.prefix ?? ''}${String(seq).padStart(svc.digits ?? 4, '0')}`;
}

export interface CounterConfig {
  id: string;
  /** Number spoken and shown: "quầy số 2". */
  number: number;
  name?: string;
  services: string[];
  /**
   * Which service to call from: 'order' = first service in the list that has someone waiting;
   * 'oldest' = the longest-waiting ticket across services; 'round-robin' = take turns.
   */
  rule?: 'order' | 'oldest' | 'round-robin';
}

export interface QueueConfig {
  facility: string;
  services: ServiceConfig[];
  counters: CounterConfig[];
}

export type TicketState = 'waiting' | 'called' | 'serving' | 'done' | 'skipped' | 'cancelled';
export type PriorityStatus = 'auto' | 'claimed' | 'confirmed' | 'rejected';

export interface Ticket {
  id: string;
  service: string;
  /** Local day (YYYY-MM-DD in the queue's timezone) the number belongs to. */
  day: string;
  seq: number;
  number: string;
  priority: PriorityClass | null;
  priorityStatus: PriorityStatus | null;
  priorityConfirmedBy: string | null;
  /** Immutable: set once at issue; ordering uses orderKey. */
  issuedAt: number;
  orderKey: number;
  state: TicketState;
  counter: string | null;
  /** Set by a transfer to a given counter: only that counter calls it. */
  targetCounter: string | null;
  firstCalledAt: number | null;
  lastCalledAt: number | null;
  servingAt: number | null;
  doneAt: number | null;
  skippedAt: number | null;
  calls: number;
  transfers: number;
}

export type QueueEventType =
  | 'issued'
  | 'called'
  | 'recalled'
  | 'serving'
  | 'skipped'
  | 'finished'
  | 'cancelled'
  | 'transferred'
  | 'priority-confirmed'
  | 'priority-rejected';

export interface QueueEvent {
  id: number;
  at: number;
  type: QueueEventType;
  service: string;
  counter: string | null;
  ticket: Ticket;
  /** Staff member who did it, when the action records one. */
  by?: string;
  detail?: Record<string, unknown>;
}

export type QueueErrorCode =
  | 'QUEUE_UNKNOWN_SERVICE'
  | 'QUEUE_UNKNOWN_COUNTER'
  | 'QUEUE_UNKNOWN_TICKET'
  | 'QUEUE_BAD_STATE'
  | 'QUEUE_EMPTY'
  | 'QUEUE_TOLERANCE_EXCEEDED'
  | 'QUEUE_BAD_INPUT';

const QUEUE_ERROR_STATUS: Record<QueueErrorCode, number> = {
  QUEUE_UNKNOWN_SERVICE: 404,
  QUEUE_UNKNOWN_COUNTER: 404,
  QUEUE_UNKNOWN_TICKET: 404,
  QUEUE_BAD_STATE: 409,
  QUEUE_EMPTY: 409,
  QUEUE_TOLERANCE_EXCEEDED: 409,
  QUEUE_BAD_INPUT: 400,
};

/**
 * A typed error with a code and the HTTP status it is answered with (`statusCode`: the local
 * API's one error handler sends `{ error, code }` with it; no stack traces to clients).
 */
export class QueueError extends Error {
  constructor(
    readonly code: QueueErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'QueueError';
  }

  get statusCode(): number {
    return QUEUE_ERROR_STATUS[this.code];
  }
}
