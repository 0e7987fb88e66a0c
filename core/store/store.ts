import Database from 'better-sqlite3';
import { routesTaking } from '../contract/destination.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Journal, JournalInput, AppendResult, RawCapture } from '../contract/driver.ts';
import { systemClock, type Clock } from '../contract/clock.ts';
import { BlobStore } from './blobs.ts';
import { CaptureStore, type CaptureStop, type CaptureUsage } from './capture.ts';
import { DiskBudget, fileSize } from './diskBudget.ts';
import { GroupCommitter } from './groupCommit.ts';
import { JournalStore } from './journal.ts';
import { Outbox } from './outbox.ts';
import { applyRetention, personalDataAge, removeOrphanBlobs, type PersonalDataAge, type RetentionOutcome, type RetentionPolicy } from './retention.ts';
import { migrate } from './schema.ts';

export interface StoreOptions {
  /** Directory for journal.db and blobs/; created if missing. */
  dir: string;
  log?: Logger;
  clock?: Clock;
  /** Box timezone, used for the journal's local receive time. */
  timezone?: string;
  /** FULL (default) fsyncs the WAL at every commit: required for clinical streams. */
  synchronous?: 'FULL' | 'NORMAL';
  /** false: one commit per append (only for the benchmark's comparison). */
  groupCommit?: boolean;
  budgetBytes?: number;
  minFreeBytes?: number;
  warnPercent?: number;
  criticalPercent?: number;
  retention?: RetentionPolicy;
  /** Called after every commit (metrics). */
  onCommit?: (durationMs: number, writes: number) => void;
  /** Called when an outbox destination got new items (forwarders wake up). */
  onEnqueued?: (destinations: string[]) => void;
  /** Preallocated files small blobs are written into (one fdatasync each); 0 or absent: none. */
  blobPoolBytes?: number;
  /** Bytes raw captures may hold (default 256 MB; 0: no captures). */
  captureBytes?: number;
  /** A device's raw captures stopped (quota reached, disk critical) or resumed (null). */
  onCaptureStop?: (device: string, stopped: CaptureStop, usage: CaptureUsage) => void;
}

const DEFAULT_RETENTION: RetentionPolicy = { deliveredDays: 30, personalHours: 72, imagesDays: 7 };
const FREE_PAGES_ZEROED = 'free-pages-zeroed';

/** The box's durable store: journal, outbox, blobs, raw captures, disk budget, retention. */
export class Store {
  readonly db: Database.Database;
  readonly blobs: BlobStore;
  readonly journalStore: JournalStore;
  readonly outbox: Outbox;
  readonly captures: CaptureStore;
  readonly budget: DiskBudget;
  readonly committer: GroupCommitter;
  readonly clock: Clock;
  /** The last personalDataAge() reading (retention computes it hourly). */
  lastPersonalDataAge: PersonalDataAge[] = [];
  private readonly enqueuedListeners = new Set<(destinations: string[]) => void>();
  private readonly log: Logger;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(readonly options: StoreOptions) {
    const log = (this.log = options.log ?? pino({ level: 'silent' }));
    this.clock = options.clock ?? systemClock;
    mkdirSync(options.dir, { recursive: true });
    this.db = new Database(join(options.dir, 'journal.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    // Keep the WAL from growing without bound after a burst.
    this.db.pragma('journal_size_limit = 67108864');
    // Deleted and scrubbed rows are overwritten with zeros (free pages and overflow pages too),
    // so a purged name is gone from the file, not just unlinked. FAST would leave freed overflow
    // pages (a raw HL7 message longer than a page) as they were.
    this.db.pragma('secure_delete = ON');
    migrate(this.db);
    this.blobs = new BlobStore(join(options.dir, 'blobs'), this.clock);
    this.committer = new GroupCommitter(this.db, { onCommit: options.onCommit }, options.groupCommit === false);
    this.budget = new DiskBudget({
      dir: options.dir,
      budgetBytes: options.budgetBytes ?? 0,
      minFreeBytes: options.minFreeBytes ?? 64 * 1024 * 1024,
      warnPercent: options.warnPercent ?? 70,
      criticalPercent: options.criticalPercent ?? 90,
      // The blob pool's files written ahead are disk the store holds too.
      usedBytes: () => this.databaseBytes() + this.blobBytes() + this.blobs.poolBytes(),
    });
    if (options.onEnqueued) this.enqueuedListeners.add(options.onEnqueued);
    this.journalStore = new JournalStore(
      this.db,
      this.committer,
      this.clock,
      (p) => this.budget.admit(p),
      options.timezone ?? 'Asia/Ho_Chi_Minh',
      (d) => {
        for (const l of this.enqueuedListeners) l(d);
      },
      (hash) => this.blobs.staged(hash),
    );
    this.outbox = new Outbox(this.db, this.committer, this.clock, (hash) => this.blobs.path({ hash }));
    this.captures = new CaptureStore(this.db, this.committer, this.clock, (err) => log.warn({ err }, 'raw capture write failed'), {
      quotaBytes: options.captureBytes ?? 256 * 1024 * 1024,
      // Evidence gives way before the disk is critical: clinical data is never refused for it.
      diskAllows: () => this.budget.current.level === 'ok' || this.budget.current.level === 'warn',
      onStop: (device, stopped, usage) => {
        if (stopped)
          log.warn(
            { device, reason: stopped, usedBytes: usage.usedBytes, quotaBytes: usage.quotaBytes },
            stopped === 'quota' ? 'raw captures stopped: capture quota (store.captureMB) reached' : 'raw captures stopped: the disk budget is critical',
          );
        else log.info({ device, usedBytes: usage.usedBytes, quotaBytes: usage.quotaBytes }, 'raw captures resumed');
        options.onCaptureStop?.(device, stopped, usage);
      },
    });
    this.budget.read();
  }

  /** The Journal a driver sees: appends are attributed to `source` and routed by default to `routes`. */
  /** A source's journal; `routes` are its default routes, or a function of the entry's stream. */
  journalFor(source: string, routes: string[] | ((stream: string) => string[])): Journal {
    // A plain list: destinations that name no streams (no view streams for them).
    const routesFor = typeof routes === 'function' ? routes : (stream: string) => routesTaking(routes, stream, () => undefined);
    return {
      append: (input: JournalInput): Promise<AppendResult> => this.journalStore.append(source, input, routesFor),
      find: (stream, key) => this.journalStore.findByIdempotencyKey(stream, key),
    };
  }

  captureFor(device: string, enabled = true): RawCapture {
    return this.captures.forDevice(device, enabled);
  }

  onEnqueued(listener: (destinations: string[]) => void): () => void {
    this.enqueuedListeners.add(listener);
    return () => this.enqueuedListeners.delete(listener);
  }

  databaseBytes(): number {
    const base = join(this.options.dir, 'journal.db');
    return fileSize(base) + fileSize(`${base}-wal`);
  }

  blobBytes(): number {
    const row = this.db
      .prepare('SELECT COALESCE(SUM(blob_size), 0) AS n FROM (SELECT DISTINCT blob_hash, blob_size FROM journal WHERE blob_hash IS NOT NULL)')
      .get() as { n: number };
    return row.n;
  }

  /** A tiny write through the same path as appends: proves the store is writable (readiness). */
  async probeWritable(): Promise<void> {
    await this.committer.submit(() => this.db.prepare('PRAGMA user_version').get());
  }

  /**
   * Purges and scrubs (see retention.ts), then folds the WAL into the database and truncates it:
   * the WAL still holds the purged rows' old pages until then. Captures resume when there is room.
   */
  async applyRetention(): Promise<RetentionOutcome & { freePagesZeroed: number }> {
    const outcome = await applyRetention(this.db, this.blobs, this.clock, this.options.retention ?? DEFAULT_RETENTION);
    const freePagesZeroed = await this.zeroFreePagesOnce();
    const { blobsRemoved: _, ...rows } = outcome;
    if (freePagesZeroed > 0 || Object.values(rows).some((n) => n > 0)) this.checkpoint();
    this.captures.recheck();
    return { ...outcome, freePagesZeroed };
  }

  /** Personal data in pending or parked entries past the alarm age (counts only); remembered for metrics. */
  personalDataAge(): PersonalDataAge[] {
    this.lastPersonalDataAge = personalDataAge(this.db, this.clock.now(), this.options.retention ?? DEFAULT_RETENTION);
    return this.lastPersonalDataAge;
  }

  /** The WAL folded into the database and truncated to zero bytes (no old frames left). */
  checkpoint(): void {
    this.committer.flush();
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      // Disk full or busy: the next retention pass tries again.
      this.log.warn({ err }, 'WAL checkpoint after retention failed');
    }
  }

  /**
   * Pages freed before secure_delete was on may still hold purged rows. Once per database:
   * fill every free page with a zero blob (SQLite reuses free pages first), then drop it.
   * In 8 MB steps through the group commit, so appends go on meanwhile.
   */
  private async zeroFreePagesOnce(): Promise<number> {
    if (this.db.prepare('SELECT 1 FROM store_maintenance WHERE name = ?').get(FREE_PAGES_ZEROED)) return 0;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const freePages = () => this.db.pragma('freelist_count', { simple: true }) as number;
    const initial = freePages();
    const stepPages = Math.max(1, Math.floor((8 * 1024 * 1024) / pageSize));
    if (initial > 0) {
      await this.committer.submit(() => this.db.exec('CREATE TABLE IF NOT EXISTS store_wipe (id INTEGER PRIMARY KEY, zeros BLOB)'));
      const fill = this.db.prepare('INSERT INTO store_wipe (zeros) VALUES (zeroblob(?))');
      for (let steps = 0, left = freePages(); left > 0 && steps <= initial / stepPages + 8; steps++, left = freePages()) {
        const bytes = Math.min(left, stepPages) * pageSize;
        await this.committer.submit(() => fill.run(bytes));
      }
      await this.committer.submit(() => this.db.exec('DROP TABLE store_wipe'));
    }
    const now = this.clock.now();
    await this.committer.submit(() => this.db.prepare('INSERT OR REPLACE INTO store_maintenance (name, done_ms) VALUES (?, ?)').run(FREE_PAGES_ZEROED, now));
    return initial;
  }

  async recover(): Promise<{ temporaries: number; orphans: number; staged: number }> {
    const temporaries = await this.blobs.removeTemporaries();
    // Blobs acknowledged in pool files whose content-addressed name was not yet durable.
    const rows = this.db.prepare('SELECT hash, file, size FROM blob_staged').all() as { hash: string; file: string; size: number }[];
    const staged = this.blobs.finishStaged(rows);
    if (rows.length > 0) this.db.prepare('DELETE FROM blob_staged').run();
    this.blobs.openPool(this.options.blobPoolBytes ?? 0, (err) => this.log.warn({ err }, 'blob pool could not be filled'));
    const orphans = await removeOrphanBlobs(this.db, this.blobs, 3_600_000);
    this.sweepTimer = setInterval(() => this.sweepBlobs(), 30_000).unref();
    return { temporaries, orphans, staged };
  }

  /** Forgets the pool mappings of blobs whose content-addressed name is durable now (every 30 s). */
  sweepBlobs(): void {
    const hashes = this.blobs.sweep();
    if (hashes.length === 0) return;
    const del = this.db.prepare('DELETE FROM blob_staged WHERE hash = ?');
    this.committer.submit(() => hashes.forEach((h) => del.run(h))).catch((err) => this.log.warn({ err }, 'blob_staged sweep failed'));
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.db.open) this.sweepBlobs();
    this.committer.close();
    this.blobs.close();
    if (!this.db.open) return;
    try {
      // Folds the WAL into the database so the next start is quick; optional for durability.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Disk full: the WAL stays and is replayed at the next open.
    }
    this.db.close();
  }
}

export async function openStore(options: StoreOptions): Promise<Store & { journal: Journal; capture: RawCapture }> {
  const store = new Store(options);
  await store.recover();
  // Convenience for tests and tools: a journal and capture attributed to a generic source.
  return Object.assign(store, { journal: store.journalFor('local', []), capture: store.captureFor('local') });
}
