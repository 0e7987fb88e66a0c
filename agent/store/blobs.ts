import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { BlobRef, BlobWriter } from '../../drivers/contract.ts';
import { toStoreError } from './errors.ts';

/**
 * Content-addressed files for large payloads (DICOM). A blob is written to a temporary file,
 * fsynced, renamed to its SHA-256 name and the directory fsynced, so that once writeStream()
 * resolves the bytes survive a power cut and the journal may reference them.
 */
export class BlobStore implements BlobWriter {
  private readonly tmpDir: string;
  /** Fan-out directories known to exist durably (saves a mkdir per blob). */
  private readonly durableDirs = new Set<string>();

  constructor(private readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  path(ref: Pick<BlobRef, 'hash'>): string {
    return join(this.root, ref.hash.slice(0, 2), ref.hash);
  }

  async write(data: Buffer): Promise<BlobRef> {
    return this.writeStream([data]);
  }

  async writeStream(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>): Promise<BlobRef> {
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    // Small payloads are gathered in memory and written with synchronous calls, leaving only the
    // two fsyncs to the thread pool: each pool hop costs ~0.1 ms, a dozen per blob otherwise.
    let small: Buffer[] | null = [];
    let handle;
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        if (small) {
          small.push(Buffer.from(chunk)); // a copy: the producer may reuse its buffer
          if (size <= SMALL_BLOB) continue;
          handle = await open(tmp, 'wx');
          await handle.writev(small);
          small = null;
          continue;
        }
        // Awaiting each write is the backpressure: the producer waits for the disk.
        await handle!.write(chunk);
      }
      if (small) await writeSmallFile(tmp, Buffer.concat(small, size));
      else {
        await handle!.sync();
        await handle!.close();
        handle = undefined;
      }
      const ref = { hash: hash.digest('hex'), size };
      const dir = join(this.root, ref.hash.slice(0, 2));
      await this.ensureDir(dir);
      renameSync(tmp, this.path(ref));
      await fsyncDir(dir);
      return ref;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw toStoreError(err);
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
    await rm(this.path({ hash }), { force: true });
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
      if (dir === 'tmp' || dir.length !== 2) continue;
      for (const name of await readdir(join(this.root, dir))) yield name;
    }
  }
}

/** Blobs up to this size take the in-memory path of writeStream. */
const SMALL_BLOB = 1024 * 1024;

const fsyncFd = promisify(fsync);

/** Writes, fsyncs (in the pool) and closes a new file. */
async function writeSmallFile(path: string, bytes: Buffer): Promise<void> {
  const fd = openSync(path, 'wx');
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** A directory's entries made durable (after a rename or mkdir into it). */
async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
