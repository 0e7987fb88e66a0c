import type Database from 'better-sqlite3';
import { toStoreError } from './errors.ts';

interface PendingWrite<T> {
  run: () => T;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export interface CommitStats {
  /** Called after each commit with its duration (ms) and how many writes it carried. */
  onCommit?: (durationMs: number, writes: number) => void;
}

/**
 * Group commit: writes queued during two turns of the event loop share one SQLite transaction,
 * so one fsync makes all of them durable. Each write runs in its own savepoint, so a write that
 * throws rejects alone; a failed commit (disk full, I/O error) rejects the whole batch.
 * `perWrite` turns batching off (one commit per write), for the benchmark's comparison.
 */
export class GroupCommitter {
  private queue: PendingWrite<unknown>[] = [];
  private scheduled = false;
  private closed = false;
  private readonly runBatch: (batch: PendingWrite<unknown>[], outcomes: Outcome[]) => void;

  constructor(
    db: Database.Database,
    private readonly stats: CommitStats = {},
    private readonly perWrite = false,
  ) {
    // Statements prepared once: building a better-sqlite3 transaction function per write cost
    // more than the write itself.
    const savepoint = db.prepare('SAVEPOINT write');
    const release = db.prepare('RELEASE write');
    const rollback = db.prepare('ROLLBACK TO write');
    this.runBatch = db.transaction((batch: PendingWrite<unknown>[], outcomes: Outcome[]) => {
      for (const write of batch) {
        // A savepoint per write: a failing write rolls back only itself.
        savepoint.run();
        try {
          const value = write.run();
          release.run();
          outcomes.push({ ok: true, value });
        } catch (err) {
          if (isFatal(err)) throw err;
          rollback.run();
          release.run();
          outcomes.push({ ok: false, err });
        }
      }
    });
  }

  submit<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject } as PendingWrite<unknown>);
      if (!this.scheduled) {
        this.scheduled = true;
        // Two turns: the commit itself blocks the loop, so the sockets that became readable
        // meanwhile get one more poll phase to join the next commit (measured: +10-20 % results/s
        // with 10 analyzers, ~0.1 ms more latency).
        setImmediate(() => setImmediate(() => this.flush()));
      }
    });
  }

  /** Runs everything queued now; used by close() and by tests. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.perWrite ? this.queue.splice(0, 1) : this.queue.splice(0);
      this.commit(batch);
    }
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  private commit(batch: PendingWrite<unknown>[]): void {
    const outcomes: Outcome[] = [];
    const started = performance.now();
    try {
      this.runBatch(batch, outcomes);
    } catch (err) {
      const storeErr = toStoreError(err);
      for (const write of batch) write.reject(storeErr);
      return;
    }
    this.stats.onCommit?.(performance.now() - started, batch.length);
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.err);
    });
  }
}

/** Errors that doom the whole transaction rather than one write. */
function isFatal(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}
