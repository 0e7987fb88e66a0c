import { connect, type Socket } from 'node:net';
import type { Rng } from '../lib/rng.ts';
import { chunksAt } from '../lib/rng.ts';

/** How an attacking connection ends. */
export type Ending = 'end' | 'half-open' | 'reset' | 'destroy' | 'linger';
export const ENDINGS: readonly Ending[] = ['end', 'half-open', 'reset', 'destroy', 'linger'];

export interface ThrowResult {
  ending: Ending;
  sent: number;
  received: Buffer;
  /** Connection refused, reset by the box, or another socket error. */
  error?: string;
  /** The box closed the connection first. */
  closedByPeer: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `bytes` to 127.0.0.1:`port` cut at random offsets with random pauses, then ends the
 * connection one of several ways: FIN and wait, FIN and stay half-open, TCP reset, destroy, or
 * linger idle. Never throws; resolves when the socket is gone (or after `maxMs`).
 */
export function throwAt(port: number, bytes: Buffer, rng: Rng, opts: { maxMs?: number; ending?: Ending; drip?: boolean } = {}): Promise<ThrowResult> {
  const maxMs = opts.maxMs ?? 8000;
  const ending = opts.ending ?? rng.pick(ENDINGS);
  const chunks = opts.drip
    ? chunksAt(
        bytes,
        Array.from({ length: Math.max(0, Math.min(bytes.length, 200) - 1) }, (_, i) => i + 1),
      )
    : chunksAt(bytes, rng.splits(bytes.length, 32));
  const pauses = chunks.map(() => (opts.drip ? rng.range(5, 30) : rng.chance(0.7) ? 0 : rng.skewed(40)));
  const lingerMs = rng.range(200, 3000);
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let receivedBytes = 0;
    let sent = 0;
    let error: string | undefined;
    let closedByPeer = false;
    let done = false;
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(cap);
      socket.destroy();
      resolve({ ending, sent, received: Buffer.concat(received), closedByPeer, ...(error ? { error } : {}) });
    };
    const cap = setTimeout(finish, maxMs);
    socket.on('data', (d: Buffer) => {
      if (receivedBytes < 1 << 20) received.push(d);
      receivedBytes += d.length;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      finish();
    });
    socket.on('end', () => {
      closedByPeer = true;
    });
    socket.on('close', finish);
    socket.once('connect', async () => {
      socket.setNoDelay(true);
      for (let i = 0; i < chunks.length && !done; i++) {
        const c = chunks[i]!;
        if (c.length === 0) continue;
        if (!socket.write(c)) await new Promise<void>((r) => (socket.once('drain', r), socket.once('close', r)));
        sent += c.length;
        if (pauses[i]) await sleep(pauses[i]!);
      }
      if (done) return;
      switch (ending) {
        case 'end':
          socket.end();
          setTimeout(finish, 3000);
          break;
        case 'half-open':
          socket.end(); // our side closed; the box may still answer and must close its side itself
          break;
        case 'reset':
          socket.resetAndDestroy();
          finish();
          break;
        case 'destroy':
          finish();
          break;
        case 'linger':
          setTimeout(finish, lingerMs);
          break;
      }
    });
  });
}
