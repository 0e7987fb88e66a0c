/**
 * CCCD card read: APDUs and milliseconds from card present to identity, for DG13 only,
 * DG13+DG1, and with DG2, over the card simulator with 30 ms per APDU (a contactless reader's
 * round trip is 20–60 ms). Goal: DG13 only under 1 s.
 *
 *   npx tsx bench/card.ts            in-process simulator (+ real pcscd/vpcd when run as root)
 */
import { readCccd, minimumApdus, SHORT_READ, type EmrtdReadOptions } from '../modules/cccd/emrtd.ts';
import { keysFromQr } from '../modules/cccd/identity.ts';
import { parseCccdQr } from '../modules/cccd/qr.ts';
import { loadCertificates } from '../modules/cccd/sod.ts';
import { buildChip, qrOf } from '../test/sim/card/card.ts';
import { generateTestPki } from '../test/sim/card/pki.ts';

const LATENCY_MS = 30;
const DG2_IMAGE = 16_000;
const pki = generateTestPki();
const cscas = loadCertificates(pki.cscaPem);
const keys = keysFromQr(parseCccdQr(qrOf()));

interface Row {
  scenario: string;
  access: string;
  apdus: string;
  files: string;
  apduCount: number;
  minFid: number;
  minSfi: number;
  ms: number;
}

const scenarios: Array<{ name: string; opts: Partial<EmrtdReadOptions> }> = [
  { name: 'DG13 only', opts: {} },
  { name: 'DG13 + DG1', opts: { readDg1: true } },
  { name: 'DG13 + DG1 + DG2', opts: { readDg1: true, readDg2: true } },
];

async function inProcess(
  pace: boolean,
  extended: boolean,
  fileAccess: 'fid' | 'sfi',
  opts: Partial<EmrtdReadOptions>,
): Promise<Omit<Row, 'scenario' | 'apdus'>> {
  const chip = buildChip({ signer: pki.signer, pace, extendedLength: extended, dg2ImageBytes: DG2_IMAGE });
  const transport = {
    transmit: async (a: Buffer) => {
      await new Promise((r) => setTimeout(r, LATENCY_MS));
      return chip.handle(a);
    },
  };
  const t0 = performance.now();
  const r = await readCccd(transport, { keys, cscas, extendedLength: extended, fileAccess, ...opts });
  const ms = performance.now() - t0;
  const sizes = Object.values(r.bytesRead);
  const chunk = extended ? 0x2000 : SHORT_READ;
  // Access control: PACE = MSE:Set AT + 4 GENERAL AUTHENTICATE + SELECT applet; BAC = SELECT applet +
  // GET CHALLENGE + MUTUAL AUTHENTICATE, plus the SELECT of the absent EF.CardAccess (6A82).
  const fixed = pace ? 6 : 4;
  return {
    access: r.access,
    files: Object.entries(r.bytesRead)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    apduCount: r.apduCount,
    minFid: minimumApdus(sizes, chunk, true) + fixed,
    minSfi: minimumApdus(sizes, chunk, false) + fixed,
    ms,
  };
}

const rows: Row[] = [];
for (const s of scenarios) {
  for (const [pace, extended, fileAccess] of [
    [true, true, 'fid'],
    [true, false, 'fid'],
    [true, true, 'sfi'],
    [false, true, 'fid'],
  ] as Array<[boolean, boolean, 'fid' | 'sfi']>) {
    if (s.name !== 'DG13 only' && (!pace || fileAccess === 'sfi')) continue;
    const r = await inProcess(pace, extended, fileAccess, s.opts);
    rows.push({ scenario: s.name, apdus: `${extended ? 'extended' : 'short (223 B)'}, ${fileAccess === 'fid' ? 'SELECT by FID' : 'READ by SFI'}`, ...r });
  }
}

const fmt = (r: Row): string => `| ${r.scenario} | ${r.access} | ${r.apdus} | ${r.apduCount} | ${r.minFid} / ${r.minSfi} | ${Math.round(r.ms)} | ${r.files} |`;
const header = '| read | access | APDU mode | APDUs | minimum (FID / SFI) | ms | bytes read |\n|---|---|---|---|---|---|---|';
console.log(`## CCCD card read, in-process simulator, ${LATENCY_MS} ms per APDU (Node ${process.version})\n`);
console.log(header);
for (const r of rows) console.log(fmt(r));

// The same through the real pcscd + vpcd + pcsclite, when this machine can run them.
if (process.getuid?.() === 0) {
  try {
    const { startPcscd } = await import('../test/integration/cccd/pcscd.ts');
    const { startCardSimulator } = await import('../test/sim/cardSimulator.ts');
    const { runCardRead } = await import('../modules/cccd/cli.ts');
    const pcscd = await startPcscd();
    try {
      console.log(`\n## Through the real pcscd + vsmartcard vpcd + npm pcsclite, simulator adds ${LATENCY_MS} ms per APDU\n`);
      console.log('| read | access | APDUs | ms from card to identity |\n|---|---|---|---|');
      for (const s of scenarios) {
        const before = pcscd.removals(0);
        const sim = await startCardSimulator({ pki, port: pcscd.port, latencyMs: LATENCY_MS, dg2ImageBytes: DG2_IMAGE });
        let out = '';
        const args = [
          '--reader',
          pcscd.readerNames[0],
          '--qr',
          qrOf(),
          '--csca',
          pki.cscaPath,
          ...(s.opts.readDg1 ? ['--dg1'] : []),
          ...(s.opts.readDg2 ? ['--dg2'] : []),
        ];
        const code = await runCardRead(args, { out: (x) => (out += x), err: (x) => process.stderr.write(x) });
        await sim.stop();
        await pcscd.waitRemoved(0, before);
        if (code !== 0) continue;
        const j = JSON.parse(out);
        console.log(`| ${s.name} | ${j.access} | ${j.apduCount} | ${j.msFromCard} |`);
      }
      console.log(
        '\nvpcd sends each APDU as two TCP writes (length, then payload); with Nagle on its side and delayed ACK on the simulator side that adds about 40 ms per APDU on loopback. A USB CCID reader has no such cost.',
      );
    } finally {
      await pcscd.stop();
    }
  } catch (err) {
    console.log(`\n(pcscd path skipped: ${(err as Error).message.split('\n')[0]})`);
  }
}
