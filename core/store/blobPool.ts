import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../contract/clock.ts';
import { fsyncDir, fsyncPathSync } from './durable.ts';

/**
 * Files written ahead (zero-filled, fsynced, their directory fsynced) that a small blob is
 * written into in place. Overwriting allocated blocks needs only fdatasync, which flushes the
 * data and no metadata: ~0.2 ms on ext4 against ~0.6-2.5 ms for a new file, its fsync, a rename
 * and a directory fsync (docs/BENCHMARKS.md). The pool fills in the background when blobs are
 * expected (prepare()) and after writes, once writes paused for a moment: its fsyncs would slow
 * the writers' own. When it runs dry in a long burst, writers take the slow path.
 *
 * What a file held before does not matter: only its blocks being allocated and its name being
 * durable. A used file is shrunk to its content's size, so a file of a slot's exact size is free.
 */

/**
 * Slot sizes and their share of the pool: small objects (SR, small US), MR slices, CT slices
 * (512 × 512 × 16 bits and their header fit 576 KB: the bulk of a district hospital's volume),
 * ultrasound and other frames up to 1 MB.
 */
const CLASSES = [
  { slot: 64 * 1024, share: 0.0625 },
  { slot: 256 * 1024, share: 0.0625 },
  { slot: 576 * 1024, share: 0.5 },
  { slot: 1024 * 1024, share: 0.375 },
] as const;

let zeroBuffer: Buffer | null = null;
/** `size` zero bytes, from one buffer that is never written to. */
function zeros(size: number): Buffer {
  if (!zeroBuffer || zeroBuffer.length < size) zeroBuffer = Buffer.alloc(Math.max(size, ...CLASSES.map((c) => c.slot)));
  return zeroBuffer.subarray(0, size);
}

/** Background work waits for writes to pause this long. */
export const IDLE_MS = 300;

export const POOL_MAX_SLOT = CLASSES[CLASSES.length - 1]!.slot;

export interface PoolSlot {
  /** Path of the file, already of `slot` bytes and durable. */
  path: string;
  slot: number;
}

export class BlobPool {
  private readonly free = new Map<number, string[]>(CLASSES.map((c) => [c.slot, []]));
  private readonly target: Map<number, number>;
  private filling: Promise<void> | null = null;
  private cancelIdleTimer: (() => void) | null = null;
  private lastTake = 0;
  private seq = 0;
  private closed = false;
  /** Hits and misses since start (benchmarks and the status page). */
  readonly counters = { taken: 0, missed: 0, written: 0 };

  constructor(
    private readonly dir: string,
    bytes: number,
    private readonly onError: (err: unknown) => void,
    private readonly clock: Clock,
  ) {
    this.target = new Map(CLASSES.map((c) => [c.slot, Math.floor((bytes * c.share) / c.slot)]));
    this.adoptExisting();
  }

  /**
   * A free file for `size` bytes: of the smallest class that fits, else of a larger one (a burst
   * of one kind of object outlasting its class); null when none is free or size is beyond the
   * largest slot.
   */
  take(size: number): PoolSlot | null {
    const fitting = CLASSES.filter((c) => c.slot >= size && this.target.get(c.slot)! > 0);
    if (fitting.length === 0) return null;
    this.lastTake = this.clock.now();
    this.fillWhenIdle();
    for (const { slot } of fitting) {
      const path = this.free.get(slot)!.pop();
      if (!path) continue;
      this.counters.taken++;
      return { path, slot };
    }
    this.counters.missed++;
    return null;
  }

  /** Fills once no file was taken for IDLE_MS. */
  private fillWhenIdle(): void {
    if (this.cancelIdleTimer || this.filling || this.closed) return;
    this.cancelIdleTimer = this.clock.setTimer(() => {
      this.cancelIdleTimer = null;
      if (this.clock.now() - this.lastTake >= IDLE_MS) this.fillSoon();
      else this.fillWhenIdle();
    }, IDLE_MS);
  }

  /** Start filling now (a receiver that expects blobs calls this at start). */
  fillSoon(): void {
    if (this.filling || this.closed || this.isFull()) return;
    this.filling = this.fill()
      .catch((err) => this.onError(err))
      .finally(() => (this.filling = null));
  }

  /** Resolves when every class holds its target (benchmarks wait for the steady state). */
  async full(): Promise<void> {
    while (!this.isFull() && !this.closed) {
      this.fillSoon();
      await (this.filling ?? new Promise((r) => setTimeout(r, IDLE_MS)));
    }
  }

  close(): void {
    this.closed = true;
    this.cancelIdleTimer?.();
  }

  freeBytes(): number {
    let n = 0;
    for (const [slot, list] of this.free) n += slot * list.length;
    return n;
  }

  freeCount(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }

  private isFull(): boolean {
    return CLASSES.every((c) => this.free.get(c.slot)!.length >= this.target.get(c.slot)!);
  }

  /**
   * Files left by the last run: those of a slot's exact size are free again; others were used
   * and not referenced (the store finishes referenced ones before the pool is opened): removed.
   * The directory is fsynced once, so names created just before a clean stop are durable too.
   */
  private adoptExisting(): void {
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      const { size, nlink } = statSync(path);
      const list = this.free.get(size);
      const seq = Number(name.split('-')[1]);
      if (Number.isFinite(seq)) this.seq = Math.max(this.seq, seq + 1);
      // nlink > 1: also a stored blob's name (its grace had not passed): never reused.
      if (list && nlink === 1 && name.startsWith(`${size}-`) && list.length < this.target.get(size)!) list.push(path);
      else unlinkSync(path);
    }
    fsyncPathSync(this.dir);
  }

  /** Writes files class by class, a batch at a time, then makes their names durable. */
  private async fill(): Promise<void> {
    while (!this.closed) {
      if (this.clock.now() - this.lastTake < IDLE_MS) return this.fillWhenIdle(); // writers are busy
      const cls = CLASSES.find((c) => this.free.get(c.slot)!.length < this.target.get(c.slot)!);
      if (!cls) return;
      const batch: string[] = [];
      for (let i = 0; i < 8 && this.free.get(cls.slot)!.length + batch.length < this.target.get(cls.slot)!; i++) {
        const path = join(this.dir, `${cls.slot}-${this.seq++}`);
        const handle = await open(path, 'wx');
        try {
          // One zeroed buffer for every file: a new one per file (256 MB in all) left the
          // allocator holding tens of MB of RSS long after the fill.
          await handle.write(zeros(cls.slot));
          await handle.sync();
        } finally {
          await handle.close();
        }
        batch.push(path);
      }
      await fsyncDir(this.dir);
      this.free.get(cls.slot)!.push(...batch);
      this.counters.written += batch.length;
      // Leave the disk to others between batches (a box starting, other services).
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
