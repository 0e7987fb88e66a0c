import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('astm-kill-');
afterAll(cleanup);

function startChild(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'astmDriverChild.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`driver child exited early (${code})`)));
  });
}

/** A message with three results for one specimen, long enough for several 64-byte frames. */
function message(n: number): string {
  const sp = `SP${String(n).padStart(5, '0')}`;
  return (
    [
      'H|\\^&|||KillSim^1.0',
      `P|1||PID${n}|||Nguyễn^Thị^Hạnh||19900101|F`,
      `O|1|${sp}||^^^GLU\\^^^CREA\\^^^ALT|R`,
      `R|1|^^^GLU|${(n % 90) / 10 + 3}|mmol/L|3.9-6.1|N||F||||20261122100000`,
      `R|2|^^^CREA|${60 + (n % 50)}|umol/L|62-106|N||F||||20261122100000`,
      `R|3|^^^ALT|${10 + (n % 40)}|U/L|0-40|N||F||||20261122100000`,
      'L|1|N',
    ].join('\r') + '\r'
  );
}

describe('ASTM driver under kill -9', () => {
  it('every result whose frames were ACKed is in the journal exactly once', async () => {
    const total = 150;
    const ackedComplete = new Set<number>();
    let next = 0;
    let kills = 0;
    // Until five kills have happened and at least `total` messages were sent: a fast machine
    // must not finish the stream before the kills (the test would then prove nothing).
    const more = () => next < total || kills < 5;
    while (more()) {
      const { child, port } = await startChild();
      const sim = await startAstmAnalyzer({ mode: 'client', port, frameSize: 64, replyTimeoutMs: 5_000 });
      await sim.ready();
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      // Kill at a random moment during the stream, five times; the last life runs to the end.
      let killedByUs = false;
      const killer = kills < 5 ? setTimeout(() => ((killedByUs = true), child.kill('SIGKILL')), 30 + Math.random() * 400) : null;
      while ((killer ? true : next < total) && child.exitCode === null && child.signalCode === null) {
        const report = await sim.send(message(next));
        if (report.ok || report.ackedFrames === report.frames) {
          ackedComplete.add(next);
          next++;
        } else if (child.exitCode !== null || child.signalCode !== null || report.reason?.includes('not connected') || report.reason?.startsWith('no reply')) {
          break; // the analyzer re-sends this whole message to the restarted box
        }
      }
      if (killer) clearTimeout(killer);
      if (killedByUs) kills++;
      else child.kill('SIGKILL'); // stream finished: end this life too
      await exited;
      await sim.stop();
    }
    expect(kills).toBe(5);

    const db = new Database(join(dir, 'journal.db'), { readonly: true });
    const rows = db.prepare(`SELECT idem_key, parsed FROM journal WHERE stream = 'lab.result'`).all() as { idem_key: string; parsed: string }[];
    const bySpecimenTest = new Map<string, number>();
    for (const r of rows) {
      const p = JSON.parse(r.parsed) as { specimenId: string; deviceTestCode: string };
      const k = `${p.specimenId}/${p.deviceTestCode}`;
      bySpecimenTest.set(k, (bySpecimenTest.get(k) ?? 0) + 1);
    }
    for (const n of ackedComplete) {
      for (const t of ['GLU', 'CREA', 'ALT']) expect(bySpecimenTest.get(`SP${String(n).padStart(5, '0')}/${t}`), `SP${n}/${t}`).toBe(1);
    }
    expect([...bySpecimenTest.values()].every((c) => c === 1)).toBe(true);
    // Every acknowledged message, plus at most the one in flight at the last kill (stored, its
    // last ACK lost: the analyzer would send it again and it would not be stored twice).
    expect(rows.length).toBeGreaterThanOrEqual(next * 3);
    expect(rows.length).toBeLessThanOrEqual((next + 1) * 3);
    // Each result is routed once to the LIS outbox.
    const outbox = db.prepare(`SELECT count(*) AS n FROM outbox WHERE destination = 'lis'`).get() as { n: number } | undefined;
    if (outbox) expect(outbox.n).toBe(rows.length);
    db.close();
  });
});
