import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('edge-hl7-kill-');
afterAll(cleanup);

function startChild(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/hl7ListenerChild.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('PORT ')) resolve({ child, port: Number(line.slice(5)) });
    });
  });
}

describe('HL7 listener under kill -9', () => {
  it('every message the sender got AA for is in the journal exactly once, with its results, across repeated SIGKILLs', async () => {
    const acked: string[] = [];
    let n = 0;
    for (let round = 0; round < 6; round++) {
      const { child, port } = await startChild();
      const client = await TestMllpClient.open(port);
      const exited = new Promise((r) => child.once('exit', r));
      setTimeout(() => child.kill('SIGKILL'), 200 + Math.floor(Math.random() * 500));
      // Send like an analyzer: next message after the ACK; a message in flight at the kill is resent next round.
      for (;;) {
        const id = `K${n}`;
        let ack: string;
        try {
          ack = await client.send(
            `MSH|^~\\&|BC|LAB|||20261122080000||ORU^R01|${id}|P|2.3.1\rPID|1||P${n}\rOBR|1||S${n}\rOBX|1|NM|WBC^WBC||${n % 20}.5|10*9/L|||||F\rOBX|2|NM|HGB^HGB||1${n % 9}0|g/L|||||F\r`,
          );
        } catch {
          break; // killed
        }
        if (msa(ack).code === 'AA') acked.push(id);
        n++;
      }
      client.close();
      await exited;
    }
    expect(acked.length).toBeGreaterThan(20);
    const db = new Database(join(dir, 'journal.db'), { readonly: true });
    const messages = db.prepare(`SELECT idem_key, count(*) AS c FROM journal WHERE stream = 'lab.message' GROUP BY idem_key`).all() as Array<{
      idem_key: string;
      c: number;
    }>;
    const stored = new Map(messages.map((m) => [m.idem_key.split(':')[2]!, m.c]));
    expect(acked.filter((id) => stored.get(id) !== 1)).toEqual([]);
    // Two results per acknowledged message, each once (result identity is unique in the journal).
    const results = (db.prepare(`SELECT count(*) AS c FROM journal WHERE stream = 'lab.result'`).get() as { c: number }).c;
    expect(results).toBeGreaterThanOrEqual(2 * acked.length);
    expect(results).toBeLessThanOrEqual(2 * stored.size);
    db.close();
  });
});
