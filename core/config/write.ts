import { copyFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncPathSync } from '../store/durable.ts';

/**
 * Replaces a configuration file so that a power cut leaves either the old or the new file,
 * never a torn one: the old file is kept as FILE.bak, the new text goes to a temporary file in
 * the same directory, is fsynced, renamed over the original, and the directory is fsynced.
 */
export function writeConfigAtomically(file: string, text: string): void {
  const dir = dirname(file);
  if (existsSync(file)) copyFileSync(file, `${file}.bak`);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, text, { mode: 0o640 });
  fsyncPathSync(tmp);
  renameSync(tmp, file);
  fsyncPathSync(dir);
}
