import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { astmTransmissions, mllpMessages } from '../../../modules/lab/replay.ts';
import { AstmDriver } from '../../../modules/astm/index.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import type { LabResult } from '../../../modules/lab/result.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { startMllpLis } from '../../sim/mllpLis.ts';

type Store = Awaited<ReturnType<typeof openStore>>;
const { dir, cleanup } = tempDir('edge-replay-');
let original: Store;
let replayed: Store;
const stops: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  original = await openStore({ dir: join(dir, 'original') });
  replayed = await openStore({ dir: join(dir, 'replayed') });
});
afterAll(async () => {
  for (const s of stops.reverse()) await s();
  original.close();
  replayed.close();
  cleanup();
});

/** The real CLI, as IT staff run it. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/edge-agent.js', 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** What the console's capture download gives: the inbound bytes of the device's last connection. */
async function captureFile(store: Store, device: string, name: string): Promise<string> {
  const last = () =>
    store.db.prepare('SELECT id, ended_ms AS ended FROM capture WHERE device = ? ORDER BY id DESC LIMIT 1').get(device) as
      | { id: number; ended: number | null }
      | undefined;
  // The connection is over once its capture is closed: every chunk is in by then.
  await waitFor(() => last()?.ended != null, `the capture of ${device} to close`);
  const { id } = last()!;
  const bytes = Buffer.concat(
    store.captures
      .chunks(id)
      .filter((c) => c.direction === 'in')
      .map((c) => c.bytes),
  );
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

const results = (store: Store, source: string) => store.journalStore.list({ source, stream: 'lab.result', limit: 1000 });

describe('edge-agent replay', () => {
  it('re-sends an HL7 capture over MLLP, message by message, and reports each ACK', async () => {
    const startHl7 = async (store: Store, id: string) => {
      const driver = hl7DriverFactory.create(makeDriverContext(store, { id, routes: [] }), { host: '127.0.0.1', port: 0 }) as Hl7Driver;
      await driver.start();
      stops.push(() => driver.stop());
      return driver;
    };
    const first = await startHl7(original, 'bc-a');
    const dev = await TestMllpClient.open(first.port!);
    for (let i = 1; i <= 3; i++)
      await dev.send(
        `MSH|^~\\&|BC|LAB|||20261122090000||ORU^R01|C-${i}|P|2.3.1||||||UNICODE\rPID|1||P${i}||Võ^Thị Hạnh\rOBR|1||S-${i}\rOBX|1|NM|WBC||${i}.5|10*9/L|||||F\r`,
      );
    dev.close();
    const file = await captureFile(original, 'bc-a', 'hl7.bin');
    expect(mllpMessages(readFileSync(file))).toHaveLength(3);

    const second = await startHl7(replayed, 'bc-b');
    const out = await cli([file, '--to', `tcp://127.0.0.1:${second.port}`]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/C-1: AA for C-1\nC-2: AA for C-2\nC-3: AA for C-3\n3 message\(s\) sent, 0 not accepted/);
    const a = results(original, 'bc-a').map((r) => (r.parsed as LabResult).valueText);
    const b = results(replayed, 'bc-b').map((r) => (r.parsed as LabResult).valueText);
    expect(b).toEqual(a);
    expect(b).toEqual(['3.5', '2.5', '1.5']);

    // A LIS that refuses: every line says AE with its reason, and the exit code says so.
    const lis = await startMllpLis({ mode: 'AE' });
    stops.push(() => lis.stop());
    const refused = await cli([file, '--mllp', '--to', `tcp://127.0.0.1:${lis.port}`]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/C-1: AE for C-1/);
    expect(refused.stdout).toMatch(/3 not accepted/);
  });

  it('re-sends an ASTM capture as the analyzer did, without the frames the box NAKed or its retransmissions', async () => {
    const ctxA = makeDriverContext(original, { id: 'xn-a', routes: [] });
    const a = new AstmDriver(ctxA, { transport: 'tcp-server', host: '127.0.0.1', port: 0 });
    await a.start();
    stops.push(() => a.stop());
    const sim = await startAstmAnalyzer({ mode: 'client', port: a.listeningPort!, frameSize: 247, replyTimeoutMs: 5_000 });
    stops.push(() => sim.stop());
    await sim.ready();
    const message = loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm');
    expect(await sim.send(message, { corruptChecksum: [1], loseAck: [2] })).toMatchObject({ ok: true });
    await waitFor(() => results(original, 'xn-a').length === 14, 'the 14 Galileo results');
    await sim.stop();
    const file = await captureFile(original, 'xn-a', 'astm.bin');
    expect(astmTransmissions(readFileSync(file))).toHaveLength(1);

    const ctxB = makeDriverContext(replayed, { id: 'xn-b', routes: [] });
    const b = new AstmDriver(ctxB, { transport: 'tcp-server', host: '127.0.0.1', port: 0 });
    await b.start();
    stops.push(() => b.stop());
    const out = await cli([file, '--astm', '--to', `tcp://127.0.0.1:${b.listeningPort}`]);
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/accepted \(every frame ACKed, EOT sent\)\n1 transmission\(s\) sent, 0 not accepted/);
    expect(out.code).toBe(0);
    const key = (r: { parsed: unknown }) => {
      const p = r.parsed as LabResult;
      return `${p.specimenId} ${p.deviceTestCode} ${p.valueText} ${p.completedRaw}`;
    };
    await waitFor(() => results(replayed, 'xn-b').length === 14, 'the replayed results');
    expect(results(replayed, 'xn-b').map(key).sort()).toEqual(results(original, 'xn-a').map(key).sort());
  });

  it('says what is wrong with a bad invocation or an unknown file', async () => {
    const noise = join(dir, 'noise.bin');
    writeFileSync(noise, 'hello');
    const out = await cli([noise, '--to', 'tcp://127.0.0.1:9']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot tell the protocol.*--astm or --mllp/);
    expect((await cli([noise, '--to', 'http://x'])).stderr).toMatch(/--to must look like tcp:\/\/HOST:PORT/);
    expect((await cli([noise])).stderr).toMatch(/usage: edge-agent replay/);
  });
});
