import pino from 'pino';
import { EventBus } from '../../core/contract/events.ts';
import type { Store } from '../../core/store/store.ts';
import type { DriverContext, DriverState, DriverStatus, ServiceRegistry } from '../../core/contract/driver.ts';

export interface TestDriverContext extends DriverContext {
  /** Every status the driver reported, in order. */
  statuses: DriverStatus[];
}

/** A real DriverContext over a real store, as the agent builds it, for driver tests. */
export function makeDriverContext(
  store: Store,
  opts: { id: string; timezone?: string; routes?: string[]; bus?: EventBus; services?: ServiceRegistry; capture?: boolean },
): TestDriverContext {
  const statuses: DriverStatus[] = [];
  const services = new Map<string, unknown>();
  const bus = opts.bus ?? new EventBus();
  return {
    id: opts.id,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    bus,
    journal: store.journalFor(opts.id, opts.routes ?? []),
    blobs: store.blobs,
    capture: store.captureFor(opts.id, opts.capture ?? true),
    timezone: opts.timezone ?? 'Asia/Ho_Chi_Minh',
    services: opts.services ?? {
      get: <T>(name: string) => services.get(name) as T | undefined,
      provide: (name, service) => void services.set(name, service),
    },
    statuses,
    setStatus(state: DriverState, detail?: string, error?: unknown) {
      const status: DriverStatus = { state, since: new Date().toISOString() };
      if (detail) status.detail = detail;
      if (error) status.lastError = error instanceof Error ? error.message : String(error);
      statuses.push(status);
      bus.emit('device.status', { id: opts.id, status });
    },
  };
}
