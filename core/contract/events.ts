import { EventEmitter } from 'node:events';
import type { DriverStatus } from './driver.ts';

/** Every event on the internal bus and its payload. Modules talk here, never to each other. */
export interface BusEvents {
  'journal.appended': { id: number; source: string; stream: string; kind: string; duplicate: boolean };
  'outbox.enqueued': { destination: string; count: number };
  'outbox.delivered': { destination: string; outboxId: number; journalId: number; source: string };
  'outbox.failed': { destination: string; outboxId: number; error: string; permanent: boolean };
  'device.status': { id: string; status: DriverStatus };
  'destination.status': { id: string; status: DriverStatus };
  'store.alarm': { level: 'ok' | 'warn' | 'critical'; usedPercent: number; freeBytes: number };
  'agent.stopping': Record<string, never>;
  /**
   * Domain events modules publish (queue changes, alarms, card reads). `visibility` says how far
   * one may travel: `local` never leaves the process (identities, card keys); `lan` may be
   * published on the LAN broker. Anything personal is `local`.
   */
  'domain.event': { topic: string; body: unknown; retain?: boolean; visibility: EventVisibility };
}

export type EventVisibility = 'local' | 'lan';

/**
 * A domain event a module publishes: its topic (a pattern, `+` for one level: `queue/+/evt`),
 * its body's type and how far it may travel, fixed where it is declared (a personal event
 * cannot be published to the LAN by one call that forgot).
 */
export interface DomainEventKey<T> {
  readonly topic: string;
  readonly visibility: EventVisibility;
  readonly __body?: T;
}

export const domainEvent = <T>(topic: string, visibility: EventVisibility): DomainEventKey<T> => ({ topic, visibility });

/** `queue/+/evt` matches `queue/noi/evt`; a pattern without `+` matches itself only. */
export function topicMatches(pattern: string, topic: string): boolean {
  const p = pattern.split('/');
  const t = topic.split('/');
  return p.length === t.length && p.every((part, i) => part === '+' || part === t[i]);
}

/** The alarms a device (or the store, for a source) raises: `dev/<id>/alarm/<name>`, retained on the LAN broker. */
export const DEVICE_ALARM = domainEvent<{ active: boolean } & Record<string, unknown>>('dev/+/alarm/+', 'lan');

type Listener<K extends keyof BusEvents> = (payload: BusEvents[K]) => void;

/**
 * Typed event bus. Listeners are registered under an owner key so a module's stop()
 * removes all of its listeners in one call (Zigbee2MQTT's pattern).
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly owned = new Map<string, Array<[keyof BusEvents, (...args: never[]) => void]>>();

  constructor() {
    this.emitter.setMaxListeners(200);
  }

  emit<K extends keyof BusEvents>(event: K, payload: BusEvents[K]): void {
    this.emitter.emit(event, payload);
  }

  on<K extends keyof BusEvents>(owner: string, event: K, listener: Listener<K>): void {
    // A throwing listener must not break the emitter nor other listeners.
    const safe = (payload: BusEvents[K]): void => {
      try {
        listener(payload);
      } catch (err) {
        this.emitter.emit('error', err);
      }
    };
    this.emitter.on(event, safe);
    const list = this.owned.get(owner) ?? [];
    list.push([event, safe as (...args: never[]) => void]);
    this.owned.set(owner, list);
  }

  /** Publishes a declared domain event; `topic` fills the key's `+` levels (checked). */
  publish<T>(key: DomainEventKey<T>, body: T, opts: { topic?: string; retain?: boolean } = {}): void {
    const topic = opts.topic ?? key.topic;
    if (!topicMatches(key.topic, topic)) throw new Error(`event topic "${topic}" is not "${key.topic}"`);
    this.emit('domain.event', { topic, body, visibility: key.visibility, ...(opts.retain ? { retain: true } : {}) });
  }

  /** Listens to one declared domain event (every topic its pattern matches). */
  subscribe<T>(owner: string, key: DomainEventKey<T>, listener: (body: T, topic: string) => void): void {
    this.on(owner, 'domain.event', (e) => {
      if (topicMatches(key.topic, e.topic)) listener(e.body as T, e.topic);
    });
  }

  onError(listener: (err: unknown) => void): void {
    this.emitter.on('error', listener);
  }

  removeListeners(owner: string): void {
    for (const [event, fn] of this.owned.get(owner) ?? []) this.emitter.off(event, fn as (...args: unknown[]) => void);
    this.owned.delete(owner);
  }
}
