/**
 * A CCCD chip card on pcscd's virtual reader (vsmartcard vpcd). Built from a synthetic
 * citizen, with EF.SOD signed by a test CSCA made at start. Runnable for the demo:
 *   tsx test/sim/cardSimulator.ts --port 35963 [--latency 30] [--bac-only]
 * (pcscd with /etc/reader.conf.d/vpcd must be running; it listens on 35963 by default).
 */
import { fileURLToPath } from 'node:url';
import { SimulatedChip } from './card/chip.ts';
import { buildChipOptions, qrOf, type CardBuildOptions } from './card/card.ts';
import { DEFAULT_CITIZEN, type SyntheticCitizen } from './card/files.ts';
import { generateTestPki, type TestPki } from './card/pki.ts';
import { VpcdLink } from './card/vpcdLink.ts';

/** ATR with historical bytes announcing extended Lc/Le (ISO 7816-4 card capabilities, tag 73). */
export const SIM_ATR_EXTENDED = atrWith([0x80, 0x73, 0x00, 0x00, 0x40]);
export const SIM_ATR_SHORT = atrWith([0x80, 0x73, 0x00, 0x00, 0x00]);

function atrWith(hist: number[]): Buffer {
  // TS=3B, T0 (TD1 present, k historical bytes), TD1 → TD2 present T=0, TD2 T=1, hist, TCK.
  const body = [0x80 | hist.length, 0x80, 0x01, ...hist];
  const tck = body.reduce((a, b) => a ^ b, 0);
  return Buffer.from([0x3b, ...body, tck]);
}

export interface CardSimulatorOptions extends Partial<Omit<CardBuildOptions, 'signer'>> {
  /** vpcd port (default 35963). */
  port?: number;
  host?: string;
  latencyMs?: number;
  removeAtApdu?: number;
  /** Existing test PKI; one is generated when absent. */
  pki?: TestPki;
  /** Insert the card right away (default true). */
  insert?: boolean;
}

export interface CardSimulator {
  stop(): Promise<void>;
  insert(): Promise<void>;
  remove(): Promise<void>;
  /** APDUs the chip has answered since start. */
  readonly apduCount: number;
  chip: SimulatedChip;
  link: VpcdLink;
  pki: TestPki;
  /** The QR text printed on this card. */
  qr: string;
  citizen: SyntheticCitizen;
}

export async function startCardSimulator(options: CardSimulatorOptions = {}): Promise<CardSimulator> {
  const pki = options.pki ?? generateTestPki();
  const citizen = options.citizen ?? DEFAULT_CITIZEN;
  const chip = new SimulatedChip(buildChipOptions({ ...options, citizen, signer: pki.signer }));
  const atr = options.extendedLength === false ? SIM_ATR_SHORT : SIM_ATR_EXTENDED;
  const link = new VpcdLink(
    { atr, powerOn: () => chip.reset(), powerOff: () => chip.reset(), reset: () => chip.reset(), handle: (a) => chip.handle(a) },
    {
      port: options.port ?? 35963,
      host: options.host ?? '127.0.0.1',
      latencyMs: options.latencyMs ?? 0,
      ...(options.removeAtApdu !== undefined ? { removeAtApdu: options.removeAtApdu } : {}),
    },
  );
  if (options.insert !== false) await link.insert();
  return {
    stop: async () => {
      await link.remove();
      if (!options.pki) pki.remove(); // made for this simulator alone
    },
    insert: () => link.insert(),
    remove: () => link.remove(),
    get apduCount() {
      return chip.apdus;
    },
    chip,
    link,
    pki,
    qr: qrOf(citizen),
    citizen,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const sim = await startCardSimulator({
    port: Number(arg('--port') ?? 35963),
    latencyMs: Number(arg('--latency') ?? 30),
    pace: !process.argv.includes('--bac-only'),
  });
  process.stdout.write(`card simulator on vpcd port ${arg('--port') ?? 35963}\nQR text: ${sim.qr}\nCSCA: ${sim.pki.cscaPath}\n`);
  const shutdown = (): void => void sim.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
