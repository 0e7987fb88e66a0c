import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, renameSync, statSync, truncateSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { BlobRef, BlobWriter, WriteStreamOptions } from '../contract/driver.ts';
import type { Clock } from '../contract/clock.ts';
import { BlobPool, IDLE_MS, POOL_MAX_SLOT } from './blobPool.ts';
import { fdatasyncFd, fsyncDir, fsyncFd, fsyncPathSync } from './durable.ts';
import { toStoreError } from './errors.ts';

/** A blob written into a pool file whose content-addressed name is not durable yet. */
export interface StagedBlob {
  /** Pool file, relative to the blob root. */
  file: string;
  size: number;
}

/**
 * Content-addressed files for large payloads (DICOM). Once writeStream() resolves, the bytes
 * are on disk; the journal entry that references the blob makes it findable after a power cut:
 *
 * - the slow path writes a temporary file, fsyncs it, renames it to its SHA-256 name and
 *   fsyncs the directory (the name is durable before the journal is written);
 * - the fast path (blobs up to 1 MB, when the pool has a file) overwrites a preallocated pool
 *   file and fdatasyncs it. Its hash → pool file mapping goes into the journal's own commit
 *   (`blob_staged`, via staged()). Once writes pause, the file is shrunk to the blob, its
 *   content-addressed name linked and made durable, and the mapping forgotten. Until then the
 *   file is longer than the blob: readers read ref.size bytes from path(), which knows both.
 */
export class BlobStore implements BlobWriter {
  private readonly tmpDir: string;
  private readonly poolDir: string;
  /** Fan-out directories known to exist durably (saves a mkdir per blob). */
  private readonly durableDirs = new Set<string>();
  private pool: BlobPool | null = null;
  /** Written into a pool file, content-addressed name not yet durable. */
  private readonly stagedBlobs = new Map<string, StagedBlob>();
  /** Content-addressed name now durable: the pool name is unlinked after a grace (open readers). */
  private readonly linked: { hash: string; file: string; at: number }[] = [];
  private finalizing: Promise<void> | null = null;
  private lastStaged = 0;
  private closed = false;
  /** Hashes whose `blob_staged` rows may be deleted (handed over by sweep()). */
  private readonly finalized: string[] = [];

  constructor(
    private readonly root: string,
    private readonly clock: Clock,
  ) {
    this.tmpDir = join(root, 'tmp');
    this.poolDir = join(root, 'pool');
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(this.poolDir, { recursive: true });
  }

  /** Where a blob's bytes are now: its pool file while staged, its content-addressed file after. */
  path(ref: Pick<BlobRef, 'hash'>): string {
    const staged = this.stagedBlobs.get(ref.hash);
    return staged ? join(this.root, staged.file) : this.finalPath(ref.hash);
  }

  private finalPath(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash);
  }

  /**
   * Opens the pool of `bytes` (0: none). Called after finishStaged() so that the pool files
   * the last run left referenced are content-addressed first.
   */
  openPool(bytes: number, onError: (err: unknown) => void): void {
    if (bytes > 0) this.pool = new BlobPool(this.poolDir, bytes, onError, this.clock);
  }

  /** Blobs are expected soon (a receiver starting): fill the pool now rather than at the first write. */
  prepare(): void {
    this.pool?.fillSoon();
  }

  /** Resolves once the pool is full (benchmarks measure the steady state). */
  async poolFull(): Promise<void> {
    await this.pool?.full();
  }

  /** Disk held by free pool files (counted in the disk budget). */
  poolBytes(): number {
    return this.pool?.freeBytes() ?? 0;
  }

  poolCounters(): { taken: number; missed: number; written: number; free: number } | null {
    return this.pool ? { ...this.pool.counters, free: this.pool.freeCount() } : null;
  }

  /** The journal's commit asks this for each blob it references: a mapping to keep, if staged. */
  staged(hash: string): StagedBlob | undefined {
    return this.stagedBlobs.get(hash);
  }

  /**
   * At start, before the pool opens: the mappings committed by the last run whose names were
   * not known durable get their content-addressed name now (idempotent, synchronous).
   */
  finishStaged(rows: Iterable<{ hash: string; file: string; size: number }>): number {
    let n = 0;
    for (const row of rows) {
      const file = join(this.root, row.file);
      const final = this.finalPath(row.hash);
      if (existsSync(file)) {
        truncateSync(file, row.size);
        fsyncPathSync(file);
        mkdirSync(dirname(final), { recursive: true });
        if (existsSync(final) && statSync(final).size !== row.size) unlinkSync(final);
        if (!existsSync(final)) linkSync(file, final);
        fsyncPathSync(dirname(final));
        unlinkSync(file);
        n++;
      }
    }
    // Fan-out directories created above.
    if (n > 0) fsyncPathSync(this.root);
    return n;
  }

  async write(data: Buffer): Promise<BlobRef> {
    return this.writeStream([data]);
  }

  async writeStream(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, options: WriteStreamOptions = {}): Promise<BlobRef> {
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    // Small payloads are gathered in memory and written with synchronous calls, leaving only the
    // flushes to the thread pool: each hop there costs ~0.1 ms, a dozen per blob otherwise.
    let small: Buffer[] | null = [];
    // Larger payloads: chunks gathered up to WRITE_BATCH bytes per writev.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let handle;
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        const kept = options.chunksKept ? (chunk as Buffer) : Buffer.from(chunk); // else a copy: the producer may reuse its buffer
        if (small) {
          small.push(kept);
          if (size <= SMALL_BLOB) continue;
          handle = await open(tmp, 'wx');
          await writevAll(handle, small, size);
          small = null;
          continue;
        }
        batch.push(kept);
        batchBytes += kept.length;
        if (batchBytes < WRITE_BATCH) continue;
        // Awaiting each write is the backpressure: the producer waits for the disk.
        await writevAll(handle!, batch, batchBytes);
        batch = [];
        batchBytes = 0;
      }
      if (batch.length > 0) await writevAll(handle!, batch, batchBytes);
      if (small) {
        const hex = hash.digest('hex');
        if (await this.writeToPool(hex, small, size)) return { hash: hex, size };
        await writeSmallFile(tmp, small);
        return await this.name(tmp, { hash: hex, size });
      } else {
        await handle!.sync();
        await handle!.close();
        handle = undefined;
      }
      return await this.name(tmp, { hash: hash.digest('hex'), size });
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw toStoreError(err);
    }
  }

  /** Renames a durable temporary file to its content-addressed name, durably. */
  private async name(tmp: string, ref: BlobRef): Promise<BlobRef> {
    const dir = join(this.root, ref.hash.slice(0, 2));
    await this.ensureDir(dir);
    renameSync(tmp, this.finalPath(ref.hash));
    await fsyncDir(dir);
    return ref;
  }

  /**
   * The fast path: the bytes into a free pool file at offset 0, fdatasynced (no metadata
   * changes: the file keeps its size). false when the pool has no file for this size.
   */
  private async writeToPool(hash: string, chunks: Buffer[], size: number): Promise<boolean> {
    if (size > POOL_MAX_SLOT || !this.pool) return false;
    const slot = this.pool.take(size);
    if (!slot) return false;
    let fd: number;
    try {
      fd = openSync(slot.path, 'r+');
    } catch {
      return false; // removed by hand: the slow path still works
    }
    try {
      writeAllSync(fd, chunks, size, 0);
      await fdatasyncFd(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(slot.path);
      throw err;
    }
    closeSync(fd);
    if (this.stagedBlobs.has(hash) || existsSync(this.finalPath(hash))) {
      // Same bytes already stored: this copy is referenced by nothing.
      unlinkSync(slot.path);
      return true;
    }
    this.stagedBlobs.set(hash, { file: relative(this.root, slot.path), size });
    this.lastStaged = this.clock.now();
    this.finalizeWhenIdle();
    return true;
  }

  /** Finalizing costs fsyncs that would slow the writers: it waits for a pause (or a long backlog). */
  private finalizeWhenIdle(delayMs = IDLE_MS): void {
    if (this.finalizing || this.closed) return;
    this.finalizing = new Promise<void>((resolve) => this.clock.setTimer(resolve, delayMs)).then(async () => {
      let progress = true;
      if (this.closed) return;
      if (this.clock.now() - this.lastStaged >= IDLE_MS || this.stagedBlobs.size >= FINALIZE_BACKLOG) progress = await this.finalizeStaged();
      this.finalizing = null;
      // No progress (disk error): try again in a second rather than spin.
      if (this.stagedBlobs.size > 0) this.finalizeWhenIdle(progress ? IDLE_MS : 1000);
    });
  }

  /**
   * Background, off the acknowledgement path: the file shrunk to the blob and made durable, its
   * content-addressed name linked to the same file and that directory fsynced. The pool name
   * stays a minute for readers that resolved path() just before.
   */
  private async finalizeStaged(): Promise<boolean> {
    const batch = [...this.stagedBlobs].slice(0, 64);
    const dirs = new Set<string>();
    await Promise.allSettled(
      batch.map(async ([hash, staged]) => {
        const file = join(this.root, staged.file);
        const handle = await open(file, 'r+');
        try {
          await handle.truncate(staged.size);
          await handle.sync();
        } finally {
          await handle.close();
        }
        const dir = dirname(this.finalPath(hash));
        await this.ensureDir(dir);
        try {
          linkSync(file, this.finalPath(hash));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        dirs.add(dir);
      }),
    );
    await Promise.all([...dirs].map((d) => fsyncDir(d))).catch(() => dirs.clear());
    if (dirs.size === 0) return false;
    const now = this.clock.now();
    let progress = false;
    for (const [hash, staged] of batch) {
      if (!existsSync(this.finalPath(hash))) continue; // retried on the next round
      this.stagedBlobs.delete(hash);
      this.linked.push({ hash, file: staged.file, at: now });
      this.finalized.push(hash);
      progress = true;
    }
    this.unlinkOldPoolNames(now - POOL_NAME_GRACE_MS);
    return progress;
  }

  /**
   * Periodic: pool names past their grace go, and the hashes finalized since the last call are
   * handed over so the store deletes their mapping rows.
   */
  sweep(): string[] {
    this.unlinkOldPoolNames(this.clock.now() - POOL_NAME_GRACE_MS);
    return this.finalized.splice(0);
  }

  private unlinkOldPoolNames(before: number): void {
    while (this.linked.length > 0 && this.linked[0]!.at <= before) {
      const { file } = this.linked.shift()!;
      rm(join(this.root, file), { force: true }).catch(() => undefined);
    }
  }

  /** Stop: pool names already content-addressed go now (nothing reads after close). */
  close(): void {
    this.closed = true;
    this.pool?.close();
    for (const { file } of this.linked.splice(0)) {
      try {
        unlinkSync(join(this.root, file));
      } catch {
        // already gone
      }
    }
  }

  /** A new fan-out directory's own entry must survive a power cut too: fsync the root after mkdir. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.durableDirs.has(dir)) return;
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) await fsyncDir(this.root);
    this.durableDirs.add(dir);
  }

  async exists(ref: Pick<BlobRef, 'hash'>): Promise<boolean> {
    return stat(this.path(ref)).then(
      () => true,
      () => false,
    );
  }

  async remove(hash: string): Promise<void> {
    await rm(this.finalPath(hash), { force: true });
  }

  /** Temporary files left by a crash mid-write: never referenced, safe to delete. */
  async removeTemporaries(): Promise<number> {
    const names = await readdir(this.tmpDir);
    await Promise.all(names.map((n) => rm(join(this.tmpDir, n), { force: true })));
    return names.length;
  }

  /** Every stored blob hash (for garbage collection of unreferenced files). */
  async *hashes(): AsyncGenerator<string> {
    for (const dir of await readdir(this.root)) {
      if (dir.length !== 2) continue;
      for (const name of await readdir(join(this.root, dir))) yield name;
    }
  }
}

/** How long a pool file's name outlives its content-addressed name (readers that resolved path() before). */
const POOL_NAME_GRACE_MS = 60_000;

/** Staged blobs that make the finalizer run even while writes go on. */
const FINALIZE_BACKLOG = 512;

/** Larger blobs are written this many bytes at a time (one writev of the chunks received). */
const WRITE_BATCH = 1024 * 1024;

/** Blobs up to this size take the in-memory path of writeStream. */
const SMALL_BLOB = POOL_MAX_SLOT;

/** Writes, fsyncs (in the pool) and closes a new file. */
async function writeSmallFile(path: string, chunks: Buffer[]): Promise<void> {
  const fd = openSync(path, 'wx');
  try {
    writeAllSync(
      fd,
      chunks,
      chunks.reduce((n, c) => n + c.length, 0),
      0,
    );
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends the chunks at the file's position; a short write (disk full) is an error, not a truncated blob. */
async function writevAll(handle: FileHandle, chunks: Buffer[], size: number): Promise<void> {
  const { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten !== size) throw Object.assign(new Error(`short write: ${bytesWritten} of ${size} bytes`), { code: 'ENOSPC' });
}

/** One writev for the gathered chunks (no concatenated copy); a short write is finished chunk by chunk. */
function writeAllSync(fd: number, chunks: Buffer[], size: number, position: number): void {
  let done = writevSync(fd, chunks, position);
  if (done === size) return;
  let skip = done;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    for (let at = skip; at < chunk.length; ) {
      const n = writeSync(fd, chunk, at, chunk.length - at, position + done);
      at += n;
      done += n;
    }
    skip = 0;
  }
}
