import type Database from 'better-sqlite3';
import type { CaptureSession, RawCapture } from '../contract/driver.ts';
import type { Clock } from '../contract/clock.ts';
import type { GroupCommitter } from './groupCommit.ts';

export interface CaptureChunk {
  seq: number;
  direction: 'in' | 'out';
  atMs: number;
  bytes: Buffer;
}

/** Why captures are stopped now, or null while they run. */
export type CaptureStop = 'quota' | 'disk' | null;

export interface CaptureLimits {
  /** Bytes all raw captures together may hold (0: no capture at all). */
  quotaBytes: number;
  /** False while the disk budget cannot spare room for evidence (critical or full). */
  diskAllows: () => boolean;
  /** A device's captures stopped (`stopped` set) or resumed (null): log and alarm. */
  onStop: (device: string, stopped: CaptureStop, usage: CaptureUsage) => void;
}

export interface CaptureUsage {
  usedBytes: number;
  quotaBytes: number;
  stopped: CaptureStop;
  /** Chunk bytes not written since captures stopped. */
  droppedBytes: number;
}

/** Captures resume once retention brought them under this share of the quota. */
const RESUME_RATIO = 0.9;

/**
 * Raw byte capture per connection (DESIGN rule 5): every chunk in and out, in order, for
 * support and replay. Chunks ride the journal's group commit; capture is evidence, so a capture
 * write failing is logged, never turned into a NAK. Captures have a byte quota inside the disk
 * budget and stop before the disk is critical: a flood fills the quota, never the disk, and
 * clinical data is never refused for evidence.
 */
export class CaptureStore {
  private usedBytes = 0;
  private droppedBytes = 0;
  private stopped: CaptureStop = null;
  /** Devices told their captures stopped (each gets one log line and one alarm per stop). */
  private readonly stoppedDevices = new Set<string>();
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
    private readonly limits: CaptureLimits = { quotaBytes: Number.MAX_SAFE_INTEGER, diskAllows: () => true, onStop: () => undefined },
  ) {
    this.insertCapture = db.prepare('INSERT INTO capture (device, connection, started_ms) VALUES (?, ?, ?)');
    this.insertChunk = db.prepare('INSERT INTO capture_chunk (capture_id, seq, direction, at_ms, bytes) VALUES (?, ?, ?, ?, ?)');
    this.endCapture = db.prepare('UPDATE capture SET ended_ms = ? WHERE id = ?');
    this.usedBytes = this.measure();
  }

  /** Bytes the capture chunks hold (length() of a blob reads no content). */
  private measure(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(length(bytes)), 0) AS n FROM capture_chunk').get() as { n: number }).n;
  }

  usage(): CaptureUsage {
    return { usedBytes: this.usedBytes, quotaBytes: this.limits.quotaBytes, stopped: this.stopped, droppedBytes: this.droppedBytes };
  }

  /**
   * After retention (`purged`) or a budget reading: measure again (only when something may have
   * changed: a measure reads every chunk's length) and resume when there is room.
   */
  recheck(purged = true): void {
    if (!purged && !this.stopped) return;
    this.usedBytes = this.measure();
    if (this.stopped && this.usedBytes < this.limits.quotaBytes * RESUME_RATIO && this.limits.diskAllows()) {
      this.stopped = null;
      this.droppedBytes = 0;
      for (const device of this.stoppedDevices) this.limits.onStop(device, null, this.usage());
      this.stoppedDevices.clear();
    }
  }

  /** Whether `bytes` more may be captured for `device` now; stops captures (once) when not. */
  private admit(device: string, bytes: number): boolean {
    if (!this.stopped) {
      if (this.usedBytes + bytes > this.limits.quotaBytes) this.stopped = 'quota';
      else if (!this.limits.diskAllows()) this.stopped = 'disk';
    }
    if (!this.stopped) return true;
    this.droppedBytes += bytes;
    if (!this.stoppedDevices.has(device)) {
      this.stoppedDevices.add(device);
      this.limits.onStop(device, this.stopped, this.usage());
    }
    return false;
  }

  forDevice(device: string, enabled: boolean): RawCapture {
    return {
      open: (connection: string): CaptureSession => {
        const off: CaptureSession = { inbound() {}, outbound() {}, close() {} };
        if (!enabled || this.limits.quotaBytes <= 0) return off;
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
          if (!this.admit(device, bytes.length)) return;
          this.usedBytes += bytes.length;
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

  list(
    device?: string,
    limit = 100,
  ): Array<{ id: number; device: string; connection: string; startedMs: number; endedMs: number | null; bytesIn: number; bytesOut: number }> {
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
    return this.db.prepare('SELECT seq, direction, at_ms AS atMs, bytes FROM capture_chunk WHERE capture_id = ? ORDER BY seq').all(captureId) as CaptureChunk[];
  }
}
