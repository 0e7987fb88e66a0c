import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Store } from '../../core/store/store.ts';

/** One-result ORU^R01 (HL7 2.5) with the given control id, specimen and value; `messageTime` is MSH-7. */
export function oru(controlId: string, specimen: string, value: string, messageTime = '20261122080000'): string {
  return `MSH|^~\\&|BC-5380|Mindray|||${messageTime}||ORU^R01|${controlId}|P|2.5||||||UNICODE UTF-8\rPID|1||BN-7||Trần^Văn Bình\rOBR|1||${specimen}|CBC\rOBX|1|NM|WBC^WBC||${value}|10*9/L|4.0-10.0|N|||F|||20261122075500\r`;
}

/** Sends messages with Debian python3-hl7's `mllp_send` (an independent sender, always from 127.0.0.1); its stdout holds the ACKs. */
export async function mllpSend(dir: string, port: number, messages: string[]): Promise<string> {
  if (spawnSync('which', ['mllp_send']).status !== 0) throw new Error('mllp_send is missing: apt-get install python3-hl7');
  const file = join(dir, `send-${Date.now()}-${Math.random().toString(36).slice(2)}.hl7`);
  writeFileSync(file, messages.map((m) => m.replace(/\r/g, '\r\n')).join(''));
  const r = await promisify(execFile)('mllp_send', ['--loose', '--file', file, '--port', String(port), '127.0.0.1'], { encoding: 'utf8', timeout: 30_000 });
  return r.stdout;
}

/**
 * A raw TCP socket from a chosen local address (another PC on the LAN: 127.0.0.2…). It reads
 * (and drops) what the box sends, so it sees the box hang up.
 */
export function dialFrom(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      s.resume();
      resolve(s);
    });
    s.once('error', reject);
  });
}

export function whenClosed(s: Socket): Promise<void> {
  return new Promise((r) => (s.destroyed || s.closed ? r() : s.once('close', () => r())));
}

/**
 * Streams `totalBytes` of one MLLP frame that never ends (VT, then filler), respecting
 * backpressure, until the box hangs up. Resolves with the bytes the socket took before that.
 */
export async function streamHugeFrame(s: Socket, totalBytes: number): Promise<{ written: number; closedByBox: boolean }> {
  s.on('error', () => undefined);
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let written = 0;
  let closed = s.destroyed;
  const gone = whenClosed(s).then(() => void (closed = true));
  const write = (b: Buffer) => new Promise<void>((r) => (s.write(b) ? r() : s.once('drain', () => r())));
  const closedOrDrained = (p: Promise<void>) => Promise.race([p, gone]);
  await closedOrDrained(write(Buffer.from([0x0b, 0x4d, 0x53, 0x48, 0x7c])));
  while (!closed && written < totalBytes) {
    await closedOrDrained(write(chunk));
    if (!closed) written += chunk.length;
  }
  const closedByBox = closed;
  s.destroy();
  return { written, closedByBox };
}

/** Every journal row as (stream, idempotency key): what an attack must leave unchanged. */
export function journalKeys(store: Store): string[] {
  return (store.db.prepare('SELECT stream, idem_key FROM journal ORDER BY id').all() as { stream: string; idem_key: string }[]).map(
    (r) => `${r.stream} ${r.idem_key}`,
  );
}
