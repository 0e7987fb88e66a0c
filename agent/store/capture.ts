import type Database from 'better-sqlite3';
import type { CaptureSession, RawCapture } from '../../drivers/contract.ts';
import type { Clock } from '../clock.ts';
import type { GroupCommitter } from './groupCommit.ts';

export interface CaptureChunk {
  seq: number;
  direction: 'in' | 'out';
  atMs: number;
  bytes: Buffer;
}

/**
 * Raw byte capture per connection (DESIGN rule 5): every chunk in and out, in order, for
 * support and replay. Chunks ride the journal's group commit; capture is evidence, so a capture
 * write failing is logged, never turned into a NAK.
 */
export class CaptureStore {
  private readonly insertCapture;
  private readonly insertChunk;
  private readonly endCapture;
  /** Chunks waiting for the next group commit: one write carries all of them. */
  private pending: Array<[id: number, seq: number, direction: 'in' | 'out', atMs: number, bytes: Buffer]> = [];

  constructor(
    private readonly db: Database.Database,
    private readonly committer: GroupCommitter,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
  ) {
    this.insertCapture = db.prepare('INSERT INTO capture (device, connection, started_ms) VALUES (?, ?, ?)');
    this.insertChunk = db.prepare('INSERT INTO capture_chunk (capture_id, seq, direction, at_ms, bytes) VALUES (?, ?, ?, ?, ?)');
    this.endCapture = db.prepare('UPDATE capture SET ended_ms = ? WHERE id = ?');
  }

  forDevice(device: string, enabled: boolean): RawCapture {
    return {
      open: (connection: string): CaptureSession => {
        const off: CaptureSession = { inbound() {}, outbound() {}, close() {} };
        if (!enabled) return off;
        let seq = 0;
        const started = this.clock.now();
        let id: number;
        try {
          id = Number(this.insertCapture.run(device, connection, started).lastInsertRowid);
        } catch (err) {
          // Capture is evidence, never a reason to refuse a device's data.
          this.onError(err);
          return off;
        }
        const add = (direction: 'in' | 'out', bytes: Buffer): void => {
          const n = seq++;
          const at = this.clock.now();
          this.pending.push([id, n, direction, at, Buffer.from(bytes)]);
          if (this.pending.length === 1) this.committer.submit(() => this.writePending()).catch(this.onError);
        };
        return {
          inbound: (bytes) => add('in', bytes),
          outbound: (bytes) => add('out', bytes),
          close: () => {
            const ended = this.clock.now();
            this.committer.submit(() => this.endCapture.run(ended, id)).catch(this.onError);
          },
        };
      },
    };
  }

  private writePending(): void {
    const chunks = this.pending;
    this.pending = [];
    for (const chunk of chunks) this.insertChunk.run(...chunk);
  }

  list(device?: string, limit = 100): Array<{ id: number; device: string; connection: string; startedMs: number; endedMs: number | null; bytesIn: number; bytesOut: number }> {
    const rows = this.db
      .prepare(
        `SELECT c.id, c.device, c.connection, c.started_ms AS startedMs, c.ended_ms AS endedMs,
                COALESCE(SUM(CASE WHEN k.direction = 'in' THEN length(k.bytes) END), 0) AS bytesIn,
                COALESCE(SUM(CASE WHEN k.direction = 'out' THEN length(k.bytes) END), 0) AS bytesOut
         FROM capture c LEFT JOIN capture_chunk k ON k.capture_id = c.id
         ${device ? 'WHERE c.device = ?' : ''}
         GROUP BY c.id ORDER BY c.id DESC LIMIT ?`,
      )
      .all(...(device ? [device, limit] : [limit]));
    return rows as never;
  }

  chunks(captureId: number): CaptureChunk[] {
    return (
      this.db.prepare('SELECT seq, direction, at_ms AS atMs, bytes FROM capture_chunk WHERE capture_id = ? ORDER BY seq').all(captureId) as CaptureChunk[]
    );
  }
}
