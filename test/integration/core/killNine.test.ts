import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import pino from 'pino';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { openStore } from '../../../core/store/store.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { HttpJsonDestination } from '../../../core/forward/httpJson.ts';
import { startHttpSink } from '../../sim/httpSink.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const ROUNDS = 12;
const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Runs the append loop child until killed with SIGKILL after `lifeMs`; returns the keys it acknowledged. */
async function runAndKill(startAt: number, sinkUrl: string, lifeMs: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/appendLoopChild.ts', dir, sinkUrl, String(startAt), '10'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  lines.on('line', (line) => {
    if (line === 'READY') ready();
    else if (line.startsWith('ACK ')) acked.push(line.slice(4));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await readyP;
  await new Promise((r) => setTimeout(r, lifeMs));
  child.kill('SIGKILL');
  await exited;
  return acked;
}

describe('persist before acknowledge under kill -9', () => {
  it('keeps every acknowledged item across repeated SIGKILLs, and forwarding resumes to completion', async () => {
    const sink = await startHttpSink();
    let startAt = 0;
    const allAcked: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const acked = await runAndKill(startAt, sink.url, 150 + Math.floor(Math.random() * 600));
      allAcked.push(...acked);
      // After each kill: every acknowledged key is in the journal (reads a copy, as a restart would).
      const db = new Database(join(dir, 'journal.db'), { readonly: true });
      const stored = new Set((db.prepare('SELECT idem_key FROM journal').all() as Array<{ idem_key: string }>).map((r) => r.idem_key));
      db.close();
      const missing = allAcked.filter((k) => !stored.has(k));
      expect(missing, `round ${round}: acknowledged but lost`).toEqual([]);
      startAt += 1_000_000; // fresh key range per run: numbering never collides after a kill
    }
    expect(allAcked.length).toBeGreaterThan(ROUNDS * 10);

    // Restart once more and let forwarding finish: every stored item reaches the sink at least
    // once, and the sink can tell repeats (same idempotency key) apart.
    const store = await openStore({ dir });
    const forwarder = new OutboxForwarder(
      new HttpJsonDestination('sink', { url: sink.url }),
      store.outbox,
      systemClock,
      pino({ level: 'silent' }),
      new EventBus(),
      {
        window: 8,
        ordered: true,
        attemptTimeoutMs: 5_000,
        backoff: { initialMs: 50, maxMs: 500, jitter: 0.5 },
      },
    );
    forwarder.start();
    await waitFor(() => store.outbox.status(['sink'])[0]!.pending === 0, 'the outbox to drain after the last restart', 120_000);
    await forwarder.stop();
    const storedKeys = (store.db.prepare('SELECT idem_key FROM journal').all() as Array<{ idem_key: string }>).map((r) => r.idem_key);
    const delivered = new Set(sink.received.map((r) => r.idempotencyKey));
    expect(storedKeys.filter((k) => !delivered.has(k))).toEqual([]);
    store.close();
    await sink.stop();
  });
});
