import { createHash } from 'node:crypto';

/**
 * Which stored message a newly received one is. The journal key of the first message with a
 * control id is `hl7:<device>:<MSH-10>`; it is a resend only when its content is the same,
 * compared by `hl7ContentHash`. A different message reusing a stored control id (a forged one
 * that took the id the analyzer uses next, an analyzer whose counter restarted) is stored under
 * `hl7:<device>:<MSH-10>:<hash>` and flagged, so neither copy shadows the other.
 */

/**
 * SHA-256 of the message bytes as a resend repeats them: segment separators normalised (CR, LF
 * or CRLF, empty lines dropped) and MSH-7 (message date/time, which some senders restamp when
 * they resend) left out. Everything else counts: a message with any other byte changed is a
 * different message.
 */
export function hl7ContentHash(raw: Buffer): string {
  // latin1 maps bytes 1:1, so the hash is over the bytes whatever the encoding.
  const segments = raw
    .toString('latin1')
    .split(/\r\n|\r|\n/)
    .filter((s) => s.length > 0);
  const msh = segments[0];
  if (msh?.startsWith('MSH') && msh.length > 3) {
    const fields = msh.split(msh[3]!);
    if (fields.length > 6) fields[6] = '';
    segments[0] = fields.join(msh[3]!);
  }
  return createHash('sha256').update(segments.join('\r'), 'latin1').digest('hex');
}

export function primaryMessageKey(device: string, controlId: string): string {
  return `hl7:${device}:${controlId}`;
}

/** The key of a different message that reused a stored control id. */
export function reusedMessageKey(device: string, controlId: string, contentHash: string): string {
  return `${primaryMessageKey(device, controlId)}:${contentHash.slice(0, 16)}`;
}

/** A stored entry is this message again: same content hash (entries stored before hashes existed count as the same). */
export function isSameMessage(storedMeta: Record<string, unknown> | undefined, contentHash: string): boolean {
  const stored = storedMeta?.contentHash;
  return typeof stored !== 'string' || stored === contentHash;
}
