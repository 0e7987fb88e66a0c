import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { EventBus } from '../../core/contract/events.ts';
import { systemClock, type Clock } from '../../core/contract/clock.ts';
import type { Journal } from '../../core/contract/driver.ts';
import { ageOn, localDay } from './localDay.ts';
import { publicEvent } from './publicView.ts';
import { migrateQueue } from './schema.ts';
import {
  PRIORITY_CLASSES,
  QueueError,
  type CounterConfig,
  type PriorityClass,
  type QueueConfig,
  type QueueEvent,
  type QueueEventType,
  type ServiceConfig,
  type Ticket,
  ticketNumber,
} from './types.ts';
import { QUEUE_EVENT, QUEUE_SNAPSHOT } from './events.ts';

export interface TicketQueueOptions {
  db: Database.Database;
  config: QueueConfig;
  bus?: EventBus;
  /** Queue events are journaled (stream 'queue.event') for the province and the HIS. */
  journal?: Journal;
  clock?: Clock;
  timezone?: string;
  log?: Logger;
}

export interface IssueInput {
  service: string;
  /** 'YYYY-MM-DD' or 'YYYY': only used to derive under-6 / 75+ priority, never stored. */
  birthDate?: string;
  /** A class the patient claims at the kiosk (staff confirm later). */
  claim?: PriorityClass;
  /** The ticket will be printed: its pending print is recorded with it (listed for reprint after a crash). */
  print?: boolean;
}

export interface TransferInput {
  service?: string;
  counter?: string;
  position: 'end' | 'front';
  by?: string;
}

export interface CounterView {
  id: string;
  number: number;
  name: string;
  services: string[];
  current: Ticket | null;
}

export interface CallView {
  eventId: number;
  at: number;
  type: 'called' | 'recalled';
  number: string;
  service: string;
  /** Shown with the number: two services may both call 0001 at one counter. */
  serviceName: string;
  counter: string;
  counterNumber: number;
  priority: boolean;
}

export interface ServiceSnapshot {
  service: string;
  name: string;
  day: string;
  waiting: number;
  waitingPriority: number;
  serving: Array<{ counter: string; counterNumber: number; number: string; state: string; priority: boolean }>;
  lastIssued: string | null;
}

export interface QueueSnapshot {
  facility: string;
  day: string;
  services: ServiceSnapshot[];
  counters: CounterView[];
  recentCalls: CallView[];
  /** Called tickets that were skipped and can still be recalled, per service. */
  recallable: Array<{ id: string; number: string; service: string }>;
}

interface TicketRow {
  id: string;
  service: string;
  day: string;
  seq: number;
  number: string;
  priority: string | null;
  priority_status: string | null;
  priority_confirmed_by: string | null;
  issued_at: number;
  order_key: number;
  state: string;
  counter: string | null;
  target_counter: string | null;
  first_called_at: number | null;
  last_called_at: number | null;
  serving_at: number | null;
  done_at: number | null;
  skipped_at: number | null;
  skip_mark: number | null;
  calls: number;
  transfers: number;
}

function toTicket(r: TicketRow): Ticket {
  return {
    id: r.id,
    service: r.service,
    day: r.day,
    seq: r.seq,
    number: r.number,
    priority: r.priority as PriorityClass | null,
    priorityStatus: r.priority_status as Ticket['priorityStatus'],
    priorityConfirmedBy: r.priority_confirmed_by,
    issuedAt: r.issued_at,
    orderKey: r.order_key,
    state: r.state as Ticket['state'],
    counter: r.counter,
    targetCounter: r.target_counter,
    firstCalledAt: r.first_called_at,
    lastCalledAt: r.last_called_at,
    servingAt: r.serving_at,
    doneAt: r.done_at,
    skippedAt: r.skipped_at,
    calls: r.calls,
    transfers: r.transfers,
  };
}

const DEFAULT_TOLERANCE = 5;

/**
 * isPriority() in SQL; its one parameter is 1 when the service counts unconfirmed claims as
 * priority (unconfirmedClaims = 'priority'), else 0.
 */
const PRIORITY_SQL =
  "(priority IS NOT NULL AND (priority_status IS NULL OR priority_status NOT IN ('rejected', 'claimed') OR (priority_status = 'claimed' AND ? = 1)))";

/**
 * TicketQueue: numbering per local day, priority ordering, counters, and the ticket life
 * (issued → called → serving → done; skipped, transferred, cancelled). Every change is one
 * SQLite transaction (WAL, synchronous=FULL) committed before the method returns, then
 * published on the bus and journaled for forwarding.
 */
export class TicketQueue {
  /** The store's database (the print log shares it). */
  readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly tz: string;
  private readonly services = new Map<string, ServiceConfig>();
  private readonly counters = new Map<string, CounterConfig>();
  private readonly listeners = new Set<(event: QueueEvent) => void>();
  /** Events journaled since the last queue transaction: marked in the next one (no commit of their own). */
  private journaledIds: number[] = [];

  constructor(private readonly options: TicketQueueOptions) {
    this.db = options.db;
    this.clock = options.clock ?? systemClock;
    this.tz = options.timezone ?? 'Asia/Ho_Chi_Minh';
    for (const s of options.config.services) this.services.set(s.id, s);
    for (const c of options.config.counters) {
      for (const s of c.services) if (!this.services.has(s)) throw new QueueError('QUEUE_UNKNOWN_SERVICE', `counter ${c.id} serves unknown service ${s}`);
      this.counters.set(c.id, c);
    }
    migrateQueue(this.db);
  }

  get config(): QueueConfig {
    return this.options.config;
  }

  today(): string {
    return localDay(this.clock.now(), this.tz);
  }

  /** Listen to every committed change (the WebSocket feed uses this). */
  onEvent(listener: (event: QueueEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-journals events a crash left between the commit and the journal append (idempotent keys). */
  async start(): Promise<void> {
    if (!this.options.journal) return;
    const rows = this.db.prepare('SELECT id, body FROM queue_events WHERE journaled = 0 ORDER BY id').all() as Array<{ id: number; body: string }>;
    for (const row of rows) await this.journalEvent(JSON.parse(row.body) as QueueEvent);
    this.db.transaction(() => this.markJournaled())();
  }

  // ---- issuing ----

  async issue(input: IssueInput): Promise<{ ticket: Ticket; ahead: number }> {
    const svc = this.service(input.service);
    if (input.claim !== undefined && !PRIORITY_CLASSES.includes(input.claim))
      throw new QueueError('QUEUE_BAD_INPUT', `unknown priority class ${String(input.claim)}`);
    const now = this.clock.now();
    const day = localDay(now, this.tz);
    let priority: PriorityClass | null = null;
    let status: Ticket['priorityStatus'] = null;
    if (input.birthDate) {
      if (!/^\d{4}(-\d{2}-\d{2})?$/.test(input.birthDate)) throw new QueueError('QUEUE_BAD_INPUT', 'birthDate must be YYYY-MM-DD or YYYY');
      const age = ageOn(input.birthDate, day);
      // Art. 3.2: children under 6 and people aged 75 or over need no claim.
      if (age < 6) priority = 'under6';
      else if (age >= 75) priority = 'age75';
      if (priority) status = 'auto';
    }
    if (!priority && input.claim) {
      priority = input.claim;
      // Without a birth date even under-6 / 75+ is a claim staff confirm.
      status = 'claimed';
    }
    const event = this.db.transaction(() => {
      const seqRow = this.db
        .prepare('INSERT INTO queue_sequences (service, day, last) VALUES (?, ?, 1) ON CONFLICT (service, day) DO UPDATE SET last = last + 1 RETURNING last')
        .get(svc.id, day) as { last: number };
      const seq = seqRow.last;
      const number = ticketNumber(svc, seq);
      const id = `${day.replaceAll('-', '')}-${svc.id}-${seq}`;
      const maxKey =
        (this.db.prepare('SELECT MAX(order_key) AS k FROM queue_tickets WHERE day = ? AND service = ?').get(day, svc.id) as { k: number | null }).k ?? 0;
      const orderKey = Math.max(now, maxKey + 1);
      this.db
        .prepare(
          `INSERT INTO queue_tickets (id, service, day, seq, number, priority, priority_status, issued_at, order_key, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')`,
        )
        .run(id, svc.id, day, seq, number, priority, status, now, orderKey);
      if (input.print) this.db.prepare("INSERT INTO queue_prints (at, ticket_id, printer, ok, error, reprint) VALUES (?, ?, '', NULL, NULL, 0)").run(now, id);
      return this.record('issued', this.load(id), null);
    })();
    await this.publish(event);
    return { ticket: event.ticket, ahead: this.peopleAhead(event.ticket) };
  }

  /** Tickets the queue would call before this one in its service. */
  peopleAhead(ticket: Ticket): number {
    if (ticket.state !== 'waiting') return 0;
    const svc = this.service(ticket.service);
    const claims = (svc.unconfirmedClaims ?? 'priority') === 'priority' ? 1 : 0;
    if (!this.isPriority(svc, ticket)) {
      // Counted in SQL: every priority ticket, and normal ones earlier in the order.
      const row = this.db
        .prepare(
          `SELECT COUNT(*) AS n FROM queue_tickets WHERE day = ? AND state = 'waiting' AND service = ? AND id != ? AND (${PRIORITY_SQL} OR order_key < ?)`,
        )
        .get(ticket.day, svc.id, ticket.id, claims, ticket.orderKey) as { n: number };
      return row.n;
    }
    // A priority ticket: only other priority tickets can be ahead (few), ranked by class order.
    const rows = this.db
      .prepare(`SELECT * FROM queue_tickets WHERE day = ? AND state = 'waiting' AND service = ? AND id != ? AND ${PRIORITY_SQL}`)
      .all(ticket.day, svc.id, ticket.id, claims) as TicketRow[];
    const mine = this.rankKey(svc, ticket);
    return rows.map(toTicket).filter((t) => this.rankKey(svc, t) < mine).length;
  }

  // ---- counter actions ----

  /** Finishes the counter's current ticket (if any) and calls the next one by the counter's rule. */
  async callNext(counterId: string, by?: string): Promise<Ticket> {
    const counter = this.counter(counterId);
    const events: QueueEvent[] = [];
    const now = this.clock.now();
    const day = localDay(now, this.tz);
    this.db.transaction(() => {
      const current = this.currentRow(counter.id);
      if (current) events.push(this.finishRow(current, now, by));
      const next = this.pickNext(counter, day);
      if (!next) throw new QueueError('QUEUE_EMPTY', `no ticket waiting for counter ${counter.id}`);
      const svc = this.service(next.service);
      const prio = this.isPriority(svc, next);
      this.db
        .prepare(
          'INSERT INTO queue_service_days (service, day, calls, normal_since_priority) VALUES (?, ?, 1, ?) ON CONFLICT (service, day) DO UPDATE SET calls = calls + 1, normal_since_priority = ?',
        )
        .run(svc.id, day, prio ? 0 : 1, prio ? 0 : this.serviceDay(svc.id, day).normal_since_priority + 1);
      this.db
        .prepare(
          "UPDATE queue_tickets SET state = 'called', counter = ?, first_called_at = COALESCE(first_called_at, ?), last_called_at = ?, calls = calls + 1 WHERE id = ?",
        )
        .run(counter.id, now, now, next.id);
      events.push(this.record('called', this.load(next.id), counter.id, by));
    })();
    for (const e of events) await this.publish(e);
    return events[events.length - 1]!.ticket;
  }

  /**
   * Calls again: the counter's current ticket, or a skipped ticket of one of its services if
   * fewer than `tolerance` tickets were called in that service since it was skipped.
   */
  async recall(counterId: string, ticketId?: string, by?: string): Promise<Ticket> {
    const counter = this.counter(counterId);
    const now = this.clock.now();
    const events: QueueEvent[] = [];
    this.db.transaction(() => {
      const current = this.currentRow(counter.id);
      if (!ticketId || ticketId === current?.id) {
        if (!current) throw new QueueError('QUEUE_BAD_STATE', `counter ${counter.id} has no current ticket to recall`);
        this.db.prepare('UPDATE queue_tickets SET last_called_at = ?, calls = calls + 1 WHERE id = ?').run(now, current.id);
        events.push(this.record('recalled', this.load(current.id), counter.id, by));
        return;
      }
      const row = this.row(ticketId);
      if (row.state !== 'skipped') throw new QueueError('QUEUE_BAD_STATE', `ticket ${row.number} is ${row.state}, not skipped`);
      if (!counter.services.includes(row.service)) throw new QueueError('QUEUE_BAD_STATE', `counter ${counter.id} does not serve ${row.service}`);
      const since = this.serviceDay(row.service, row.day).calls - (row.skip_mark ?? 0);
      const tolerance = this.service(row.service).tolerance ?? DEFAULT_TOLERANCE;
      if (since > tolerance)
        throw new QueueError('QUEUE_TOLERANCE_EXCEEDED', `ticket ${row.number} was skipped ${since} calls ago; the tolerance is ${tolerance}`);
      if (current) events.push(this.finishRow(current, now, by));
      this.db
        .prepare(
          "UPDATE queue_tickets SET state = 'called', counter = ?, last_called_at = ?, calls = calls + 1, skipped_at = NULL, skip_mark = NULL WHERE id = ?",
        )
        .run(counter.id, now, row.id);
      events.push(this.record('recalled', this.load(row.id), counter.id, by, { late: true, callsSinceSkip: since }));
    })();
    for (const e of events) await this.publish(e);
    return events[events.length - 1]!.ticket;
  }

  /** The patient arrived at the counter: service time starts. */
  async startServing(counterId: string, by?: string): Promise<Ticket> {
    const counter = this.counter(counterId);
    const event = this.db.transaction(() => {
      const current = this.currentRow(counter.id);
      if (current?.state !== 'called') throw new QueueError('QUEUE_BAD_STATE', `counter ${counter.id} has no called ticket`);
      this.db.prepare("UPDATE queue_tickets SET state = 'serving', serving_at = ? WHERE id = ?").run(this.clock.now(), current.id);
      return this.record('serving', this.load(current.id), counter.id, by);
    })();
    await this.publish(event);
    return event.ticket;
  }

  /** No-show: the called patient did not come. Recallable within the service's tolerance. */
  async skip(counterId: string, by?: string): Promise<Ticket> {
    const counter = this.counter(counterId);
    const event = this.db.transaction(() => {
      const current = this.currentRow(counter.id);
      if (current?.state !== 'called') throw new QueueError('QUEUE_BAD_STATE', `counter ${counter.id} has no called ticket to skip`);
      const mark = this.serviceDay(current.service, current.day).calls;
      this.db.prepare("UPDATE queue_tickets SET state = 'skipped', skipped_at = ?, skip_mark = ? WHERE id = ?").run(this.clock.now(), mark, current.id);
      return this.record('skipped', this.load(current.id), counter.id, by);
    })();
    await this.publish(event);
    return event.ticket;
  }

  async finish(counterId: string, by?: string): Promise<Ticket> {
    const counter = this.counter(counterId);
    const event = this.db.transaction(() => {
      const current = this.currentRow(counter.id);
      if (!current) throw new QueueError('QUEUE_BAD_STATE', `counter ${counter.id} has no current ticket`);
      return this.finishRow(current, this.clock.now(), by);
    })();
    await this.publish(event);
    return event.ticket;
  }

  /**
   * Sends a ticket to another service and/or counter, to the end or the front of that queue.
   * The issue time stays; only the ordering key changes.
   */
  async transfer(ticketId: string, input: TransferInput): Promise<Ticket> {
    const now = this.clock.now();
    const event = this.db.transaction(() => {
      const row = this.row(ticketId);
      if (row.state === 'done' || row.state === 'cancelled') throw new QueueError('QUEUE_BAD_STATE', `ticket ${row.number} is ${row.state}`);
      const service = input.service ?? row.service;
      this.service(service);
      if (input.counter) {
        const c = this.counter(input.counter);
        if (!c.services.includes(service)) throw new QueueError('QUEUE_BAD_INPUT', `counter ${c.id} does not serve ${service}`);
      }
      const keys = this.db
        .prepare("SELECT MIN(order_key) AS lo, MAX(order_key) AS hi FROM queue_tickets WHERE day = ? AND service = ? AND state = 'waiting'")
        .get(row.day, service) as { lo: number | null; hi: number | null };
      // Front keys are negative so a transferred patient precedes every issued ticket of its class.
      const orderKey = input.position === 'front' ? Math.min(keys.lo ?? 0, 0) - 1 : Math.max(keys.hi ?? 0, now) + 1;
      const from = { service: row.service, counter: row.counter };
      this.db
        .prepare(
          "UPDATE queue_tickets SET state = 'waiting', service = ?, target_counter = ?, order_key = ?, counter = NULL, transfers = transfers + 1, skipped_at = NULL, skip_mark = NULL WHERE id = ?",
        )
        .run(service, input.counter ?? null, orderKey, row.id);
      return this.record('transferred', this.load(row.id), from.counter, input.by, {
        fromService: from.service,
        toService: service,
        toCounter: input.counter ?? null,
        position: input.position,
      });
    })();
    await this.publish(event);
    return event.ticket;
  }

  async cancel(ticketId: string, by?: string): Promise<Ticket> {
    const event = this.db.transaction(() => {
      const row = this.row(ticketId);
      if (row.state === 'done' || row.state === 'cancelled') throw new QueueError('QUEUE_BAD_STATE', `ticket ${row.number} is ${row.state}`);
      this.db.prepare("UPDATE queue_tickets SET state = 'cancelled', done_at = ? WHERE id = ?").run(this.clock.now(), row.id);
      return this.record('cancelled', this.load(row.id), row.counter, by);
    })();
    await this.publish(event);
    return event.ticket;
  }

  /** Staff confirm (or reject) a claimed priority; who did it is recorded. */
  async confirmPriority(ticketId: string, by: string, accept = true): Promise<Ticket> {
    if (!by.trim()) throw new QueueError('QUEUE_BAD_INPUT', 'confirming a priority claim needs the staff member');
    const event = this.db.transaction(() => {
      const row = this.row(ticketId);
      if (row.priority_status !== 'claimed') throw new QueueError('QUEUE_BAD_STATE', `ticket ${row.number} has no pending priority claim`);
      this.db
        .prepare('UPDATE queue_tickets SET priority_status = ?, priority_confirmed_by = ? WHERE id = ?')
        .run(accept ? 'confirmed' : 'rejected', by, row.id);
      return this.record(accept ? 'priority-confirmed' : 'priority-rejected', this.load(row.id), row.counter, by);
    })();
    await this.publish(event);
    return event.ticket;
  }

  // ---- reading ----

  get(ticketId: string): Ticket {
    return toTicket(this.row(ticketId));
  }

  waiting(service: string, day = this.today()): Ticket[] {
    const svc = this.service(service);
    return this.waitingIn(svc.id, day)
      .sort((a, b) => Number(this.isPriority(svc, b)) - Number(this.isPriority(svc, a)) || this.rankKey(svc, a) - this.rankKey(svc, b))
      .map((t) => t);
  }

  currentAt(counterId: string): Ticket | null {
    const row = this.currentRow(this.counter(counterId).id);
    return row ? toTicket(row) : null;
  }

  snapshot(): QueueSnapshot {
    const day = this.today();
    const counters: CounterView[] = [...this.counters.values()].map((c) => ({
      id: c.id,
      number: c.number,
      name: c.name ?? `Quầy ${c.number}`,
      services: c.services,
      current: this.currentAt(c.id),
    }));
    const services = [...this.services.values()].map((s) => this.serviceSnapshot(s, day, counters));
    const recentRows = this.db
      .prepare("SELECT id, at, type, service, counter, body FROM queue_events WHERE type IN ('called','recalled') ORDER BY id DESC LIMIT 10")
      .all() as Array<{ id: number; at: number; type: 'called' | 'recalled'; service: string; counter: string; body: string }>;
    const recentCalls = recentRows
      .filter((r) => localDay(r.at, this.tz) === day)
      .map((r) => this.callView(JSON.parse(r.body) as QueueEvent))
      .filter((c): c is CallView => c !== null);
    const recallable = (this.db.prepare("SELECT * FROM queue_tickets WHERE day = ? AND state = 'skipped' ORDER BY skipped_at DESC").all(day) as TicketRow[])
      .filter((r) => this.serviceDay(r.service, r.day).calls - (r.skip_mark ?? 0) <= (this.service(r.service).tolerance ?? DEFAULT_TOLERANCE))
      .map((r) => ({ id: r.id, number: r.number, service: r.service }));
    return { facility: this.options.config.facility, day, services, counters, recentCalls, recallable };
  }

  callView(e: QueueEvent): CallView | null {
    if ((e.type !== 'called' && e.type !== 'recalled') || !e.counter) return null;
    const counter = this.counters.get(e.counter);
    const svc = this.services.get(e.service);
    return {
      eventId: e.id,
      at: e.at,
      type: e.type,
      number: e.ticket.number,
      service: e.service,
      serviceName: svc?.name ?? e.service,
      counter: e.counter,
      counterNumber: counter?.number ?? 0,
      priority: svc ? this.isPriority(svc, e.ticket) : e.ticket.priority !== null,
    };
  }

  /** Tickets of local days [fromDay, toDay] (statistics). */
  ticketsBetween(fromDay: string, toDay: string): Ticket[] {
    return (this.db.prepare('SELECT * FROM queue_tickets WHERE day >= ? AND day <= ? ORDER BY issued_at').all(fromDay, toDay) as TicketRow[]).map(toTicket);
  }

  get timezone(): string {
    return this.tz;
  }

  isPriority(svc: ServiceConfig, t: Ticket): boolean {
    if (!t.priority) return false;
    if (t.priorityStatus === 'rejected') return false;
    if (t.priorityStatus === 'claimed') return (svc.unconfirmedClaims ?? 'priority') === 'priority';
    return true;
  }

  // ---- internals ----

  /** Waiting and waiting-priority counts in SQL (isPriority's rule): screens ask on every change. */
  private waitingCounts(s: ServiceConfig, day: string): { waiting: number; priority: number } {
    const claimsCount = (s.unconfirmedClaims ?? 'priority') === 'priority' ? 1 : 0;
    return this.db
      .prepare(
        `SELECT COUNT(*) AS waiting, COALESCE(SUM(CASE WHEN ${PRIORITY_SQL} THEN 1 ELSE 0 END), 0) AS priority FROM queue_tickets WHERE day = ? AND state = 'waiting' AND service = ?`,
      )
      .get(claimsCount, day, s.id) as { waiting: number; priority: number };
  }

  private serviceSnapshot(s: ServiceConfig, day: string, counters: CounterView[]): ServiceSnapshot {
    const counts = this.waitingCounts(s, day);
    const last = this.db.prepare('SELECT number FROM queue_tickets WHERE day = ? AND service = ? ORDER BY seq DESC LIMIT 1').get(day, s.id) as
      | { number: string }
      | undefined;
    return {
      service: s.id,
      name: s.name,
      day,
      waiting: counts.waiting,
      waitingPriority: counts.priority,
      serving: counters
        .filter((c) => c.current?.service === s.id)
        .map((c) => ({ counter: c.id, counterNumber: c.number, number: c.current!.number, state: c.current!.state, priority: this.isPriority(s, c.current!) })),
      lastIssued: last?.number ?? null,
    };
  }

  private rankKey(svc: ServiceConfig, t: Ticket): number {
    // Front transfers (negative keys) come first; then by class order among priority tickets.
    if (t.orderKey < 0 || !this.isPriority(svc, t)) return t.orderKey;
    const order = svc.priorityOrder ?? [...PRIORITY_CLASSES];
    const rank = order.indexOf(t.priority!);
    return (rank < 0 ? order.length : rank) * 1e15 + t.orderKey;
  }

  private waitingIn(service: string, day: string, counter?: string): Ticket[] {
    const rows = (
      counter
        ? this.db
            .prepare("SELECT * FROM queue_tickets WHERE day = ? AND service = ? AND state = 'waiting' AND (target_counter IS NULL OR target_counter = ?)")
            .all(day, service, counter)
        : this.db.prepare("SELECT * FROM queue_tickets WHERE day = ? AND service = ? AND state = 'waiting'").all(day, service)
    ) as TicketRow[];
    return rows.map(toTicket);
  }

  /** The ticket a service would give this counter now, by its priority strategy. */
  private pickFromService(svc: ServiceConfig, counter: CounterConfig, day: string): Ticket | null {
    const waiting = this.waitingIn(svc.id, day, counter.id);
    if (waiting.length === 0) return null;
    const best = (list: Ticket[]): Ticket | null =>
      list.reduce<Ticket | null>((a, t) => (a === null || this.rankKey(svc, t) < this.rankKey(svc, a) ? t : a), null);
    const priority = waiting.filter((t) => this.isPriority(svc, t));
    const normal = waiting.filter((t) => !this.isPriority(svc, t));
    const first = svc.alwaysFirst ?? ['emergency'];
    const urgent = best(priority.filter((t) => first.includes(t.priority!)));
    if (urgent) return urgent;
    const frontNormal = best(normal.filter((t) => t.orderKey < 0));
    if (frontNormal) return frontNormal;
    if (priority.length === 0) return best(normal);
    if (normal.length === 0) return best(priority);
    const strategy = svc.strategy ?? { kind: 'strict' };
    if (strategy.kind === 'strict') return best(priority);
    const since = this.serviceDay(svc.id, day).normal_since_priority;
    return since >= Math.max(1, strategy.every) - 1 ? best(priority) : best(normal);
  }

  private pickNext(counter: CounterConfig, day: string): Ticket | null {
    const rule = counter.rule ?? 'order';
    const candidates = counter.services.map((s) => this.pickFromService(this.service(s), counter, day));
    if (rule === 'order') return candidates.find((c) => c !== null) ?? null;
    if (rule === 'oldest') return candidates.reduce<Ticket | null>((a, t) => (t && (!a || t.orderKey < a.orderKey) ? t : a), null);
    const state = this.db.prepare('SELECT rr FROM queue_counter_state WHERE counter = ?').get(counter.id) as { rr: number } | undefined;
    const start = state?.rr ?? 0;
    for (let i = 0; i < candidates.length; i++) {
      const idx = (start + i) % candidates.length;
      const c = candidates[idx];
      if (c) {
        this.db
          .prepare('INSERT INTO queue_counter_state (counter, rr) VALUES (?, ?) ON CONFLICT (counter) DO UPDATE SET rr = excluded.rr')
          .run(counter.id, (idx + 1) % candidates.length);
        return c;
      }
    }
    return null;
  }

  private serviceDay(service: string, day: string): { calls: number; normal_since_priority: number } {
    return (
      (this.db.prepare('SELECT calls, normal_since_priority FROM queue_service_days WHERE service = ? AND day = ?').get(service, day) as
        | { calls: number; normal_since_priority: number }
        | undefined) ?? { calls: 0, normal_since_priority: 0 }
    );
  }

  private finishRow(row: TicketRow, now: number, by?: string): QueueEvent {
    this.db.prepare("UPDATE queue_tickets SET state = 'done', done_at = ?, serving_at = COALESCE(serving_at, last_called_at) WHERE id = ?").run(now, row.id);
    return this.record('finished', this.load(row.id), row.counter, by);
  }

  private currentRow(counter: string): TicketRow | undefined {
    return this.db
      .prepare("SELECT * FROM queue_tickets WHERE counter = ? AND state IN ('called','serving') ORDER BY last_called_at DESC LIMIT 1")
      .get(counter) as TicketRow | undefined;
  }

  private row(id: string): TicketRow {
    const row = this.db.prepare('SELECT * FROM queue_tickets WHERE id = ?').get(id) as TicketRow | undefined;
    if (!row) throw new QueueError('QUEUE_UNKNOWN_TICKET', `no ticket ${id}`);
    return row;
  }

  private load(id: string): Ticket {
    return toTicket(this.row(id));
  }

  private service(id: string): ServiceConfig {
    const s = this.services.get(id);
    if (!s) throw new QueueError('QUEUE_UNKNOWN_SERVICE', `no service ${id}`);
    return s;
  }

  private counter(id: string): CounterConfig {
    const c = this.counters.get(id);
    if (!c) throw new QueueError('QUEUE_UNKNOWN_COUNTER', `no counter ${id}`);
    return c;
  }

  /** Inside the caller's transaction: the event row commits with the change it describes. */
  private record(type: QueueEventType, ticket: Ticket, counter: string | null, by?: string, detail?: Record<string, unknown>): QueueEvent {
    this.markJournaled();
    const at = this.clock.now();
    const partial = { at, type, service: ticket.service, counter, ticket, ...(by ? { by } : {}), ...(detail ? { detail } : {}) };
    const info = this.db
      .prepare('INSERT INTO queue_events (at, type, service, counter, ticket_id, body) VALUES (?, ?, ?, ?, ?, ?)')
      .run(at, type, ticket.service, counter, ticket.id, '{}');
    const event: QueueEvent = { id: Number(info.lastInsertRowid), ...partial };
    this.db.prepare('UPDATE queue_events SET body = ? WHERE id = ?').run(JSON.stringify(event), event.id);
    return event;
  }

  /** Inside the caller's transaction. */
  private markJournaled(): void {
    if (this.journaledIds.length === 0) return;
    const ids = this.journaledIds;
    this.journaledIds = [];
    const mark = this.db.prepare('UPDATE queue_events SET journaled = 1 WHERE id = ?');
    for (const id of ids) mark.run(id);
  }

  private async publish(event: QueueEvent): Promise<void> {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.options.log?.warn({ err }, 'queue listener failed');
      }
    }
    const bus = this.options.bus;
    if (bus) {
      // The LAN broker gets numbers only (publicView.ts); the journal below keeps the full event.
      bus.publish(QUEUE_EVENT, publicEvent(this, event), { topic: `queue/${event.service}/evt` });
      const day = localDay(event.at, this.tz);
      const svc = this.services.get(event.service);
      if (svc) {
        const counters = [...this.counters.values()].map((c) => ({
          id: c.id,
          number: c.number,
          name: c.name ?? '',
          services: c.services,
          current: this.currentAt(c.id),
        }));
        bus.publish(QUEUE_SNAPSHOT, this.serviceSnapshot(svc, day, counters), { topic: `queue/${event.service}/snapshot`, retain: true });
      }
    }
    await this.journalEvent(event);
  }

  private async journalEvent(event: QueueEvent): Promise<void> {
    const journal = this.options.journal;
    if (!journal) return;
    try {
      // Queue events carry no personal data (no names, no birth dates): personal stays false.
      await journal.append({ stream: 'queue.event', kind: event.type, idempotencyKey: `queue-event-${event.id}`, parsed: event, priority: 'clinical' });
      // Marked inside the next queue transaction rather than with an fsync of its own: if the
      // mark is lost, start() appends the event again and the journal's idempotency key drops it.
      this.journaledIds.push(event.id);
    } catch (err) {
      // The change itself is committed; start() re-journals it on the next run.
      this.options.log?.warn({ err, event: event.id }, 'queue event not journaled yet');
    }
  }
}
