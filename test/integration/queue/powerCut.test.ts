import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openStore } from '../../../core/store/store.ts';
import { TicketQueue } from '../../../modules/queue/ticketQueue.ts';
import type { QueueConfig } from '../../../modules/queue/types.ts';
import { tempDir } from '../../helpers/tmp.ts';

const config = JSON.parse(readFileSync(new URL('../../../fixtures/queue/config.json', import.meta.url), 'utf8')) as QueueConfig;
let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

/** Runs the issuing child until it acknowledged `count` tickets, then SIGKILLs it mid-flight. */
async function runAndKill(dir: string, count: number): Promise<{ issued: Array<{ id: string; number: string }>; called: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/queue/issueLoopChild.ts', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const issued: Array<{ id: string; number: string }> = [];
  const called: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, id, number] = line.split(' ');
        if (kind === 'ISSUED') issued.push({ id: id!, number: number! });
        if (kind === 'CALLED') called.push(id!);
        if (issued.length >= count && child.exitCode === null) {
          child.kill('SIGKILL');
        }
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
  return { issued, called };
}

describe('power cut (SIGKILL) during issuing', () => {
  it("keeps every acknowledged ticket, today's numbers and the waiting list", async () => {
    const tmp = tempDir('queue-kill-');
    cleanup = tmp.cleanup;
    const first = await runAndKill(tmp.dir, 60);
    const second = await runAndKill(tmp.dir, 30);
    expect(first.issued.length).toBeGreaterThanOrEqual(60);

    const store = await openStore({ dir: tmp.dir });
    try {
      const queue = new TicketQueue({ db: store.db, config, journal: store.journalFor('queue', []) });
      await queue.start();
      for (const t of [...first.issued, ...second.issued]) expect(queue.get(t.id).number).toBe(t.number);
      for (const id of [...first.called, ...second.called]) expect(queue.get(id).firstCalledAt).not.toBeNull();
      // Numbers continued after the restart instead of starting again at 0001.
      const noi = [...first.issued, ...second.issued].filter((t) => t.id.includes('-noi-')).map((t) => Number(t.number));
      expect(new Set(noi).size).toBe(noi.length);
      const lastFirst = Math.max(...first.issued.filter((t) => t.id.includes('-noi-')).map((t) => Number(t.number)));
      const firstSecond = Number(second.issued.find((t) => t.id.includes('-noi-'))!.number);
      expect(firstSecond).toBeGreaterThan(lastFirst);
      // Waiting list: every acknowledged ticket not seen called still waits, except one whose call
      // committed in each run just before its kill (the call was durable, its answer never left).
      const calledSet = new Set([...first.called, ...second.called]);
      const waitingIds = new Set(queue.waiting('noi').map((t) => t.id));
      const calledUnseen: string[] = [];
      for (const t of [...first.issued, ...second.issued]) {
        if (!t.id.includes('-noi-') || calledSet.has(t.id) || waitingIds.has(t.id)) continue;
        expect(queue.get(t.id).firstCalledAt, `${t.id} neither waiting nor called`).not.toBeNull();
        calledUnseen.push(t.id);
      }
      expect(calledUnseen.length).toBeLessThanOrEqual(2);
      // Every committed change reached the journal (re-journaled at start if the kill fell between).
      const unjournaled = store.db.prepare('SELECT COUNT(*) AS n FROM queue_events WHERE journaled = 0').get() as { n: number };
      expect(unjournaled.n).toBe(0);
      const events = store.db.prepare('SELECT COUNT(*) AS n FROM queue_events').get() as { n: number };
      const journaled = store.db.prepare("SELECT COUNT(*) AS n FROM journal WHERE stream = 'queue.event'").get() as { n: number };
      expect(journaled.n).toBe(events.n);
    } finally {
      store.close();
    }
  });
});
