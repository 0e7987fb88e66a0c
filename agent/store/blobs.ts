import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
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
    let handle;
    try {
      handle = await open(tmp, 'wx');
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        // Awaiting each write is the backpressure: the producer waits for the disk.
        await handle.write(chunk);
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      const ref = { hash: hash.digest('hex'), size };
      const dir = join(this.root, ref.hash.slice(0, 2));
      await this.ensureDir(dir);
      await rename(tmp, this.path(ref));
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

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
