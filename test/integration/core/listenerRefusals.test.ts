import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../core/store/store.ts';
import { AstmDriver } from '../../../modules/astm/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { dialFrom, whenClosed } from '../../helpers/hl7Attack.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { capturingLogger } from '../his/logCapture.ts';

const { dir, cleanup } = tempDir('edge-refusals-');
let store: Store;
beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
});
afterAll(() => {
  store.close();
  cleanup();
});

/** `n` connections from `from`, each refused (closed by the box) before the next. */
async function refusedConnections(port: number, from: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await whenClosed(await dialFrom(port, from));
}

describe('refused connections to an ASTM listener are logged once, then summed up once a minute per reason and peer', () => {
  it('a flood of 1,000 refused connections writes two lines per peer, with the counts; the status counters have every one', async () => {
    const clock = new ManualClock();
    const { log, lines } = capturingLogger();
    const ctx = { ...makeDriverContext(store, { id: 'astm-flood', routes: [] }), log };
    const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0, allowedPeers: ['127.0.0.1'] }, clock);
    await driver.start();
    const port = driver.listeningPort!;
    const refusals = () =>
      lines.map((l) => JSON.parse(l) as { msg: string; peer?: string; reason?: string; refusedSinceLastLine?: number }).filter((l) => l.reason);

    await refusedConnections(port, '127.0.0.2', 1_000);
    await refusedConnections(port, '127.0.0.3', 20);
    await waitFor(() => driver.status().counters?.refusedPeers === 1_020, 'every refusal counted');
    // The first refusal from each peer, at once and in full; nothing for the 1,018 others yet.
    expect(refusals()).toEqual([
      expect.objectContaining({ peer: '127.0.0.2', reason: 'not-allowed', msg: expect.stringMatching(/^connection refused: not in allowedPeers/) }),
      expect.objectContaining({ peer: '127.0.0.3', reason: 'not-allowed', msg: expect.stringMatching(/^connection refused: not in allowedPeers/) }),
    ]);

    clock.advance(60_000);
    expect(refusals().slice(2)).toEqual([
      expect.objectContaining({
        peer: '127.0.0.2',
        refusedSinceLastLine: 999,
        msg: 'refused 999 connections from 127.0.0.2 in the last 60 s (not on the allow-list)',
      }),
      expect.objectContaining({
        peer: '127.0.0.3',
        refusedSinceLastLine: 19,
        msg: 'refused 19 connections from 127.0.0.3 in the last 60 s (not on the allow-list)',
      }),
    ]);

    // The flood goes on from one peer: one summary a minute, with that minute's count.
    await refusedConnections(port, '127.0.0.2', 1_234);
    clock.advance(30_000);
    expect(refusals()).toHaveLength(4);
    clock.advance(30_000);
    expect(refusals().at(-1)).toMatchObject({ msg: 'refused 1,234 connections from 127.0.0.2 in the last 60 s (not on the allow-list)' });
    expect(refusals()).toHaveLength(5);

    // A quiet minute writes nothing and forgets the peer: its next refusal is written in full.
    clock.advance(120_000);
    expect(refusals()).toHaveLength(5);
    await refusedConnections(port, '127.0.0.2', 1);
    await waitFor(() => refusals().length === 6, 'the refusal after a quiet minute');
    expect(refusals().at(-1)!.msg).toMatch(/^connection refused: not in allowedPeers/);
    expect(driver.status().counters?.refusedPeers).toBe(2_255);
    await driver.stop();
  });

  it('a listed peer over its connection cap: the same, per reason; stop() writes the pending summary', async () => {
    const clock = new ManualClock();
    const { log, lines } = capturingLogger();
    const ctx = { ...makeDriverContext(store, { id: 'astm-busy', routes: [] }), log };
    const driver = new AstmDriver(
      ctx,
      { transport: 'tcp-server', host: '127.0.0.1', port: 0, allowedPeers: ['127.0.0.0/29'], limits: { maxConnectionsPerPeer: 1, idleSeconds: 0 } },
      clock,
    );
    await driver.start();
    const port = driver.listeningPort!;
    const held = await dialFrom(port, '127.0.0.4');
    await waitFor(() => driver.status().counters?.connections === 1, 'the first connection admitted');
    held.write('\x05'); // busy (ENQ): the cap cannot make room with it
    await refusedConnections(port, '127.0.0.4', 300);
    (await dialFrom(port, '127.0.0.5')).destroy(); // another address: admitted, not logged
    const refusals = () => lines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.reason);
    expect(refusals()).toEqual([
      expect.objectContaining({
        reason: 'too-many-from-peer',
        msg: expect.stringMatching(/^connection refused: already 1 busy connections from this address/),
      }),
    ]);
    held.destroy();
    await driver.stop();
    expect(refusals().at(-1)).toMatchObject({
      reason: 'too-many-from-peer',
      msg: expect.stringMatching(/^refused 299 connections from 127\.0\.0\.4 in the last \d+ s \(over maxConnectionsPerPeer\)$/),
    });
    expect(driver.status().counters?.refusedBusy).toBe(300);
  });
});
