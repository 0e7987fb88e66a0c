import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { AstmDriver, type AstmDriverConfig } from '../../../modules/astm/index.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import type { LabResult } from '../../../modules/lab/result.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';

type Store = Awaited<ReturnType<typeof openStore>>;
let store: Store;
let cleanup: () => void;
const running: Array<{ stop(): Promise<void> }> = [];
beforeAll(async () => {
  const t = tempDir('astm-tcp-');
  cleanup = t.cleanup;
  store = await openStore({ dir: t.dir });
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
afterAll(() => {
  store.close();
  cleanup();
});

async function serverAndSim(id: string, config: Partial<AstmDriverConfig> = {}, simFrameSize = 247) {
  const ctx = makeDriverContext(store, { id, routes: ['lis'] });
  const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0, ...config });
  await driver.start();
  running.push(driver);
  const sim = await startAstmAnalyzer({ mode: 'client', port: driver.listeningPort!, frameSize: simFrameSize, replyTimeoutMs: 5_000 });
  running.push(sim);
  await sim.ready();
  return { ctx, driver, sim };
}
const results = (source: string) => store.journalStore.list({ source, stream: 'lab.result', limit: 1000 }).map((r) => r.parsed as LabResult);
const galileo = loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm');
const cepheid = loadAstmFixture('fixtures/lab/synthetic_cepheid_genexpert.astm');

describe('ASTM driver over TCP with the real store', () => {
  it('box as TCP server: every fixture arrives, results journaled and routed, status reported', async () => {
    const { ctx, driver, sim } = await serverAndSim('tcp-srv');
    for (const name of [
      'go-astm_galileo_result.astm',
      'go-astm_euroimmun_sampleigg.astm',
      'go-astm_ihcom_v52_bloodtype.astm',
      'synthetic_cepheid_genexpert.astm',
      'synthetic_sysmex_xn.astm',
    ]) {
      const report = await sim.send(loadAstmFixture(`fixtures/lab/${name}`));
      expect(report, name).toMatchObject({ ok: true, naks: 0 });
      expect(report.ackedFrames).toBe(report.frames);
    }
    expect(results('tcp-srv').length).toBe(14 + 20 + 4 + 2 + 5);
    expect(ctx.statuses.at(-1)!.state).toBe('running');
    expect(ctx.statuses.at(-1)!.detail).toMatch(/listening on 127\.0\.0\.1:\d+, 1 connection/);
    expect(driver.status().counters!.results).toBe(45);
    const outbox = store.db
      .prepare(`SELECT count(*) AS n FROM outbox o JOIN journal j ON j.id = o.journal_id WHERE j.source = 'tcp-srv' AND o.destination = 'lis'`)
      .get() as { n: number };
    expect(outbox.n).toBe(45);
    // Raw capture of the connection holds what came in.
    const cap = store.db.prepare(`SELECT count(*) AS n FROM capture WHERE device = 'tcp-srv'`).get() as { n: number } | undefined;
    expect(cap?.n ?? 0).toBeGreaterThan(0);
  });

  it('lost ACK, corrupted checksum, wrong FN: each frame stored once, results complete', async () => {
    const { sim } = await serverAndSim('tcp-faults');
    const report = await sim.send(galileo, { loseAck: [0, 2], corruptChecksum: [1], wrongFn: [3] });
    expect(report.ok).toBe(true);
    expect(report.naks).toBe(2);
    expect(results('tcp-faults')).toHaveLength(14);
    const frames = store.journalStore.list({ source: 'tcp-faults', stream: 'lab.astm.frame', limit: 1000 });
    expect(frames).toHaveLength(report.frames);
  });

  it('six failed tries abort the transfer with EOT and store nothing; the re-send later succeeds', async () => {
    const { sim } = await serverAndSim('tcp-six');
    const bad = await sim.send(cepheid, { badCopiesOfFirstFrame: 6 });
    expect(bad).toMatchObject({ ok: false, reason: 'frame 1 refused 6 times', naks: 6 });
    await new Promise((r) => setTimeout(r, 100));
    expect(results('tcp-six')).toHaveLength(0);
    expect((await sim.send(cepheid)).ok).toBe(true);
    expect(results('tcp-six')).toHaveLength(2);
  });

  it('a stall past the receive timeout discards the message; EOT after ETB keeps it as incomplete', async () => {
    const { sim } = await serverAndSim('tcp-stall', { timers: { receiveTimeoutMs: 300 } }, 64);
    const stalled = await sim.send(cepheid, { stallAfter: { frame: 1, ms: 600 } });
    // After the stall the box is neutral again: the next frame gets no answer.
    expect(stalled.ok).toBe(false);
    const cut = await sim.send(cepheid, { eotAfter: 2 });
    expect(cut.ok).toBe(false);
    await waitFor(() => store.journalStore.list({ source: 'tcp-stall', stream: 'lab.astm.incomplete' }).length === 2, 'two incomplete transmissions');
    expect(results('tcp-stall')).toHaveLength(0);
  });

  it('box as TCP client: connects to the analyzer and receives', async () => {
    const sim = await startAstmAnalyzer({ mode: 'server', port: 0 });
    running.push(sim);
    const ctx = makeDriverContext(store, { id: 'tcp-cli', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'tcp-client', host: '127.0.0.1', port: sim.port!, reconnectMs: 100 });
    await driver.start();
    running.push(driver);
    await sim.ready();
    expect((await sim.send(cepheid)).ok).toBe(true);
    expect(
      results('tcp-cli')
        .map((r) => r.testCode)
        .sort(),
    ).toEqual(['MTB-RIF', 'RIF']);
    expect(results('tcp-cli')[0]!.patientName).toBe('Nguyễn Văn An');
  });

  it('host query answered from the local order cache while no LIS is reachable', async () => {
    const cacheDb = new Database(':memory:');
    const cache = new SqliteOrderCache(cacheDb);
    cache.upsert({ specimenId: 'SP-Q-0001', patientId: 'BN7', patientName: 'Trần Thị Hương', tests: ['687', '418'] });
    const ctx = makeDriverContext(store, { id: 'tcp-query', routes: ['lis'] });
    ctx.services.provide(ORDER_CACHE_SERVICE, cache);
    const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0, profile: 'roche-cobas-c', encoding: 'utf-8' });
    await driver.start();
    running.push(driver);
    const sim = await startAstmAnalyzer({ mode: 'client', port: driver.listeningPort! });
    running.push(sim);
    const t0 = Date.now();
    expect((await sim.send(loadAstmFixture('fixtures/lab/synthetic_cobas_query.astm'))).ok).toBe(true);
    const [answer] = await sim.waitForReceived(1, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(answer).toContain('O|1|SP-Q-0001||^^^687\\^^^418|');
    expect(answer).toContain('Trần^Hương^Thị');
    expect(
      answer!
        .split('\r')
        .find((l) => l.startsWith('O|'))!
        .split('|')[25],
    ).toBe('Q');
    cacheDb.close();
  });

  it('contention: the box answers a query, the analyzer sends ENQ at the same time and wins', async () => {
    const ctx = makeDriverContext(store, { id: 'tcp-contend', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0 });
    await driver.start();
    running.push(driver);
    const sim = await startAstmAnalyzer({ mode: 'client', port: driver.listeningPort! });
    running.push(sim);
    const contended = sim.contendOnNextHostEnq(cepheid, 1_000);
    expect((await sim.send(loadAstmFixture('fixtures/lab/synthetic_cobas_query.astm'))).ok).toBe(true);
    const report = await contended;
    expect(report.ok).toBe(true);
    expect(results('tcp-contend')).toHaveLength(2);
    // Then the line is the box's again and the (unknown specimen) answer arrives.
    const [answer] = await sim.waitForReceived(1, 25_000);
    expect(
      answer!
        .split('\r')
        .find((l) => l.startsWith('O|'))!
        .split('|')[25],
    ).toBe('Z');
  });
});

describe('demo analyzer stream', () => {
  it('streams restamped fixtures to the box: every round makes new results', async () => {
    const { startAstmAnalyzerStream, restampResults } = await import('../../sim/astmAnalyzer.ts');
    expect(restampResults(Buffer.from('H|\\^&\rR|1|^^^K|4\rL|1\r'), '20261122120000').toString()).toBe(
      'H|\\^&||||||||||||20261122120000\rR|1|^^^K|4|||||||||20261122120000\rL|1\r',
    );
    const ctx = makeDriverContext(store, { id: 'demo-stream', routes: ['lis'] });
    const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0 });
    await driver.start();
    running.push(driver);
    const sent: string[] = [];
    const stream = await startAstmAnalyzerStream({
      port: driver.listeningPort!,
      files: ['fixtures/lab/synthetic_cepheid_genexpert.astm'],
      intervalMs: 1_100,
      onSent: (f, r) => r.ok && sent.push(f),
    });
    running.push(stream);
    await waitFor(() => sent.length >= 2, 'two rounds', 10_000);
    await waitFor(() => results('demo-stream').length >= 4, 'results of two rounds', 5_000);
  });
});
