import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { AstmDriver } from '../../../modules/astm/index.ts';
import type { LabResult } from '../../../modules/lab/result.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { startPtyPair } from './socatPty.ts';

type Store = Awaited<ReturnType<typeof openStore>>;
let store: Store;
let cleanup: () => void;
let dir: string;
beforeAll(async () => {
  const t = tempDir('astm-serial-');
  cleanup = t.cleanup;
  dir = t.dir;
  store = await openStore({ dir: t.dir });
});
afterAll(() => {
  store.close();
  cleanup();
});

describe('ASTM driver over a serial line (socat pseudo-terminal pair)', () => {
  it('receives framed messages at 9600 8N1 with a lost ACK and a bad checksum', async () => {
    const pty = await startPtyPair(dir);
    const ctx = makeDriverContext(store, { id: 'serial1', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'serial', path: pty.a, baudRate: 9600, profile: 'roche-cobas-c', frameSize: 247 });
    await driver.start();
    const sim = await startAstmAnalyzer({ mode: 'serial', path: pty.b, baudRate: 9600, replyTimeoutMs: 5_000 });
    try {
      expect(ctx.statuses.at(-1)).toMatchObject({ state: 'running', detail: `serial ${pty.a} at 9600 baud` });
      const report = await sim.send(loadAstmFixture('fixtures/lab/go-astm_euroimmun_sampleigg.astm'), { loseAck: [1], corruptChecksum: [2] });
      expect(report.ok).toBe(true);
      expect((await sim.send(loadAstmFixture('fixtures/lab/synthetic_cobas_qc.astm'))).ok).toBe(true);
      const results = store.journalStore.list({ source: 'serial1', stream: 'lab.result', limit: 1000 }).map((r) => r.parsed as LabResult);
      expect(results).toHaveLength(21);
      // roche-cobas-c maps 687 → GLU; the QC result is flagged
      expect(results.filter((r) => r.qc).map((r) => r.testCode)).toEqual(['GLU']);
      expect(store.journalStore.list({ source: 'serial1', stream: 'lab.astm.frame', limit: 1000 })).toHaveLength(report.frames + 1);
    } finally {
      await sim.stop();
      await driver.stop();
      await pty.stop();
    }
  });

  it('bare-record device printing H…L on the serial line', async () => {
    const pty = await startPtyPair(dir);
    const ctx = makeDriverContext(store, { id: 'serial-bare', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'serial', path: pty.a, framing: 'bare' });
    await driver.start();
    const sim = await startAstmAnalyzer({ mode: 'serial', path: pty.b });
    try {
      await sim.writeRaw(Buffer.from(loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm').toString('latin1').replace(/\r/g, '\r\n'), 'latin1'));
      await waitFor(() => store.journalStore.list({ source: 'serial-bare', stream: 'lab.result', limit: 100 }).length === 14, '14 results from bare records');
    } finally {
      await sim.stop();
      await driver.stop();
      await pty.stop();
    }
  });
});
