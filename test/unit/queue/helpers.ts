import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus, type BusEvents } from '../../../core/contract/events.ts';
import { TicketQueue } from '../../../modules/queue/ticketQueue.ts';
import type { QueueConfig } from '../../../modules/queue/types.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';

export function fixtureConfig(): QueueConfig {
  return JSON.parse(readFileSync(new URL('../../../fixtures/queue/config.json', import.meta.url), 'utf8')) as QueueConfig;
}

/** 08:00 local (01:00 UTC) on 2026-11-22. */
export const MORNING = Date.UTC(2026, 10, 22, 1, 0, 0);

export function makeQueue(opts: { config?: QueueConfig; start?: number; dir?: string } = {}) {
  const tmp = opts.dir ? null : tempDir('queue-');
  const dir = opts.dir ?? tmp!.dir;
  const db = new Database(join(dir, 'queue.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const clock = new ManualClock(opts.start ?? MORNING);
  const bus = new EventBus();
  const domain: Array<BusEvents['domain.event']> = [];
  bus.on('test', 'domain.event', (e) => domain.push(e));
  const queue = new TicketQueue({ db, config: opts.config ?? fixtureConfig(), clock, bus });
  return {
    queue,
    clock,
    db,
    bus,
    domain,
    dir,
    close: () => {
      db.close();
      tmp?.cleanup();
    },
  };
}
