import { closeSync, fsync, fdatasync, fsyncSync, openSync } from 'node:fs';
import { promisify } from 'node:util';

/** fsync and fdatasync in the thread pool: the event loop keeps serving while the disk flushes. */
export const fsyncFd = promisify(fsync);
export const fdatasyncFd = promisify(fdatasync);

/** A directory's entries made durable (after a create, rename, link or mkdir in it). */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file's content or a directory's entries made durable, synchronously (start-up, config writes). */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
