// ASTM ACK turnaround: time from the last byte of a frame written by the analyzer to our ACK
// read back, with the real store (SQLite WAL, synchronous=FULL: every frame fsynced before its
// ACK). Over a socat pseudo-terminal pair at 9600 baud, and over TCP for comparison.
//   npx tsx bench/astm.ts [--messages 200]
import { openStore } from '../core/store/store.ts';
import { AstmDriver, type AstmDriverConfig } from '../modules/astm/index.ts';
import { makeDriverContext } from '../test/helpers/driverContext.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { startPtyPair } from '../test/integration/astm/socatPty.ts';
import { startAstmAnalyzer, type AstmAnalyzer } from '../test/sim/astmAnalyzer.ts';

const argIdx = process.argv.indexOf('--messages');
const messages = argIdx > 0 ? Number(process.argv[argIdx + 1]) : 200;

function message(n: number): string {
  return (
    ['H|\\^&|||Bench^1', `P|1||PID${n}`, `O|1|B${n}||^^^GLU|R`, `R|1|^^^GLU|${(n % 70) / 10 + 3}|mmol/L||N||F||||20261122100000`, 'L|1|N'].join('\r') + '\r'
  );
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function run(
  label: string,
  config: (dir: string) => Promise<{ driver: Partial<AstmDriverConfig>; sim: Parameters<typeof startAstmAnalyzer>[0]; stop(): Promise<void> }>,
) {
  const { dir, cleanup } = tempDir('astm-bench-');
  const store = await openStore({ dir });
  const setup = await config(dir);
  const ctx = makeDriverContext(store, { id: 'bench', routes: ['lis'] });
  const driver = new AstmDriver(ctx, { frameSize: 247, ...setup.driver } as AstmDriverConfig);
  await driver.start();
  const simOptions = setup.sim!.mode === 'client' ? { ...setup.sim, port: driver.listeningPort } : setup.sim;
  const sim: AstmAnalyzer = await startAstmAnalyzer(simOptions);
  await sim.ready();
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) {
    const r = await sim.send(message(i));
    if (!r.ok) throw new Error(`message ${i} failed: ${r.reason}`);
    lat.push(...r.ackLatencyMs);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sim.stop();
  await driver.stop();
  await setup.stop();
  store.close();
  cleanup();
  return `| ${label} | ${messages} | ${lat.length} | ${pct(lat, 50).toFixed(2)} | ${pct(lat, 99).toFixed(2)} | ${Math.max(...lat).toFixed(2)} | ${(messages / seconds).toFixed(0)} |`;
}

const rows = [
  await run('serial, socat pty, 9600 8N1', async (dir) => {
    const pty = await startPtyPair(dir);
    return { driver: { transport: 'serial', path: pty.a, baudRate: 9600 }, sim: { mode: 'serial', path: pty.b, baudRate: 9600 }, stop: () => pty.stop() };
  }),
  await run('TCP loopback', async () => ({ driver: { transport: 'tcp-server', host: '127.0.0.1', port: 0 }, sim: { mode: 'client' }, stop: async () => {} })),
];

console.log('ASTM ACK turnaround (frame written → ACK read), real store, synchronous=FULL; goal p99 < 10 ms\n');
console.log('| link | messages | frames | p50 ms | p99 ms | max ms | messages/s |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
process.exit(0);
