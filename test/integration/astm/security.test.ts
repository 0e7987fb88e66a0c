import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { AstmDriver, type AstmDriverConfig } from '../../../modules/astm/index.ts';
import { ENQ, STX } from '../../../modules/astm/frame.ts';
import { loadAstmFixture, startAstmAnalyzer, type AstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { dialFrom, journalKeys, whenClosed } from '../../helpers/hl7Attack.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { waitFor } from '../../helpers/wait.ts';

const { dir, cleanup } = tempDir('edge-astm-sec-');
let store: Store;
const running: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
afterAll(() => {
  store.close();
  cleanup();
});

async function listen(id: string, config: Partial<AstmDriverConfig>): Promise<AstmDriver> {
  const driver = new AstmDriver(makeDriverContext(store, { id, routes: ['lis'] }), { transport: 'tcp-server', host: '127.0.0.1', port: 0, ...config });
  await driver.start();
  running.push(driver);
  return driver;
}
async function analyzer(driver: AstmDriver, from?: string, reconnect = true): Promise<AstmAnalyzer> {
  const sim = await startAstmAnalyzer({
    mode: 'client',
    port: driver.listeningPort!,
    replyTimeoutMs: 1_500,
    reconnect,
    ...(from ? { localAddress: from } : {}),
  });
  running.push(sim);
  return sim;
}
const counter = (d: AstmDriver, name: string) => d.status().counters?.[name] ?? 0;
const results = (source: string) => store.journalStore.list({ source, stream: 'lab.result', limit: 1000 });
const galileo = loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ASTM tcp-server admits only its listed peers and survives floods', () => {
  it('refuses an analyzer at an unlisted address (nothing stored) and serves the listed one', async () => {
    const driver = await listen('astm-listed', { allowedPeers: ['127.0.0.1'] });
    const before = journalKeys(store);
    const forger = await analyzer(driver, '127.0.0.2', false);
    const report = await forger.send(galileo);
    expect(report.ok).toBe(false);
    expect(report.ackedFrames).toBe(0);
    expect(journalKeys(store)).toEqual(before);
    expect(counter(driver, 'refusedPeers')).toBeGreaterThanOrEqual(1);
    const device = await analyzer(driver);
    await device.ready();
    expect(await device.send(galileo)).toMatchObject({ ok: true, naks: 0 });
    expect(results('astm-listed')).toHaveLength(14);
  });

  it('4 idle sockets no longer lock the analyzer out (the old maxConnections field still applies), nor a flood from other addresses', async () => {
    // The configuration older boxes have: maxConnections 4, read as limits.maxConnections.
    const driver = await listen('astm-flood', { allowedPeers: ['127.0.0.0/29'], maxConnections: 4, limits: { maxConnectionsPerPeer: 2, idleSeconds: 0 } });
    const sockets = [];
    for (let i = 0; i < 4; i++) sockets.push(await dialFrom(driver.listeningPort!, '127.0.0.1'));
    for (const from of ['127.0.0.2', '127.0.0.3']) for (let i = 0; i < 4; i++) sockets.push(await dialFrom(driver.listeningPort!, from));
    await waitFor(() => counter(driver, 'refusedBusy') >= 6, 'the sockets past the caps to be refused');
    expect(counter(driver, 'connections')).toBeLessThanOrEqual(4);
    await sleep(2_100); // the flood's sockets are idle now: the analyzer's connection takes the idlest one's place
    const device = await analyzer(driver);
    await device.ready();
    expect(await device.send(galileo)).toMatchObject({ ok: true, naks: 0 });
    expect(results('astm-flood')).toHaveLength(14);
    for (const s of sockets) s.destroy();
  });

  it('a frame larger than frameSize, streamed without end, is refused as it streams and its sender cut off while the analyzer is served; RSS does not grow by its size', async () => {
    const driver = await listen('astm-big', { allowedPeers: ['127.0.0.1', '127.0.0.2'] });
    const device = await analyzer(driver);
    await device.ready();
    const before = results('astm-big').length;
    const rss = process.memoryUsage().rss;
    const attacker = await dialFrom(driver.listeningPort!, '127.0.0.2');
    attacker.on('error', () => undefined);
    const gone = whenClosed(attacker);
    let written = 0;
    let closed = false;
    void gone.then(() => (closed = true));
    const huge = 64 * 1024 * 1024;
    const streaming = (async () => {
      attacker.write(Buffer.from([ENQ, STX, 0x31]));
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      while (!closed && written < huge) {
        await Promise.race([new Promise<void>((r) => (attacker.write(chunk) ? r() : attacker.once('drain', () => r()))), gone]);
        written += chunk.length;
      }
    })();
    const reports = [];
    for (let i = 0; i < 3; i++) reports.push(await device.send(galileo));
    await streaming;
    expect(closed).toBe(true);
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(process.memoryUsage().rss - rss).toBeLessThan(huge / 2);
    expect(reports.every((r) => r.ok)).toBe(true);
    expect(results('astm-big').length).toBe(before + 14); // the same fixture three times: stored once
    expect(counter(driver, 'oversizedFrames')).toBeGreaterThanOrEqual(1);
    expect(counter(driver, 'cutOff')).toBeGreaterThanOrEqual(1);
  });

  it('a frame that never ends: a silent one is closed idle, a trickling one after a minute without a frame; nothing stored', async () => {
    // The link's and the session's time is a ManualClock: a minute passes when the test says so.
    const clock = new ManualClock(Date.now());
    const driver = new AstmDriver(
      makeDriverContext(store, { id: 'astm-slow', routes: ['lis'] }),
      { transport: 'tcp-server', host: '127.0.0.1', port: 0, allowedPeers: ['127.0.0.1'], limits: { idleSeconds: 1 } },
      clock,
    );
    await driver.start();
    running.push(driver);
    const before = journalKeys(store);
    const silent = await dialFrom(driver.listeningPort!, '127.0.0.1');
    silent.write(Buffer.from([ENQ, STX, 0x31, 0x48, 0x7c]));
    await whenClosed(silent);
    const trickle = await dialFrom(driver.listeningPort!, '127.0.0.1');
    const acked = new Promise((r) => trickle.once('data', r));
    trickle.write(Buffer.from([ENQ, STX, 0x31]));
    await acked; // ENQ answered: the transfer is open, its frame never ends
    for (let i = 0; i < 3 && !trickle.destroyed; i++) {
      trickle.write('A');
      await sleep(300); // the byte reaches the box (real sockets), then 31 s pass on its clock
      clock.advance(31_000);
    }
    trickle.write('A');
    await whenClosed(trickle);
    expect(counter(driver, 'cutOff')).toBe(1);
    expect(journalKeys(store)).toEqual(before);
  });
});
