import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { AstmDriver } from '../../../modules/astm/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';

// A real full disk (a small tmpfs): the analyzer must get NAK, never an ACK for data not on disk.
const mountPoint = mkdtempSync(join(tmpdir(), 'astm-full-'));
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the ASTM disk-full test mounts a tmpfs and must run as root (sudo npm test)');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
});
afterAll(() => {
  execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

describe('ASTM driver on a full disk', () => {
  it('answers NAK while the journal refuses, reports degraded, and takes the resend once space returns', async () => {
    const store = await openStore({ dir: join(mountPoint, 'store'), minFreeBytes: 0 });
    const ctx = makeDriverContext(store, { id: 'full', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0 });
    await driver.start();
    const sim = await startAstmAnalyzer({ mode: 'client', port: driver.listeningPort!, replyTimeoutMs: 5_000 });
    const message = loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm');
    try {
      expect((await sim.send(message)).ok).toBe(true);
      // Fill the disk.
      const filler = join(mountPoint, 'filler');
      const { bavail, bsize } = statfsSync(mountPoint);
      writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 4096)));
      const euro = loadAstmFixture('fixtures/lab/go-astm_euroimmun_sampleigg.astm');
      const refused = await sim.send(euro);
      expect(refused.ok).toBe(false);
      expect(refused.naks).toBe(6);
      expect(refused.reason).toBe('frame 1 refused 6 times');
      expect(ctx.statuses.some((s) => s.state === 'degraded' && s.detail?.includes('journal refused'))).toBe(true);
      const before = store.journalStore.list({ source: 'full', stream: 'lab.result', limit: 1000 }).length;
      expect(before).toBe(14);
      // Space returns: the analyzer's re-send is stored, each result once.
      rmSync(filler);
      const again = await sim.send(euro);
      expect(again.ok).toBe(true);
      await waitFor(() => ctx.statuses.at(-1)!.state === 'running', 'running again');
      expect(store.journalStore.list({ source: 'full', stream: 'lab.result', limit: 1000 })).toHaveLength(14 + 20);
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      await sim.stop();
      await driver.stop();
      store.close();
    }
  });
});
