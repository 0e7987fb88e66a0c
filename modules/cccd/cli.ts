import { readFileSync } from 'node:fs';
import { maskCccd, maskName } from '../../core/contract/mask.ts';
import { PcscCardWatcher, type CardPresent } from './reader.ts';
import { readCccd } from './emrtd.ts';
import { CardError, plainMessages } from './errors.ts';
import { keysFromDigits, keysFromMrzText, keysFromQr, type CardKeys, type CccdIdentity } from './identity.ts';
import { parseCccdQr } from './qr.ts';
import { loadCertificates } from './sod.ts';

export const CARD_READ_USAGE =
  'edge-agent card read [--reader NAME] (--qr TEXT | --mrz TEXT | --can DIGITS) [--dg2] [--dg1] [--csca FILE] [--timeout SECONDS] [--show-pii]';

export interface CardReadIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export function maskIdentity(id: CccdIdentity): Record<string, unknown> {
  return {
    ...id,
    idNumber: maskCccd(id.idNumber),
    fullName: maskName(id.fullName),
    dateOfBirth: id.dateOfBirth ? '[date]' : '',
    permanentAddress: id.permanentAddress ? '[address]' : '',
    placeOfOrigin: id.placeOfOrigin ? '[address]' : '',
    oldIdNumber: id.oldIdNumber ? maskCccd(id.oldIdNumber) : '',
  };
}

interface Args {
  reader?: string;
  keys: CardKeys;
  dg1: boolean;
  dg2: boolean;
  showPii: boolean;
  csca?: string;
  timeoutMs: number;
}

function parseArgs(argv: string[]): Args {
  const a = argv[0] === 'card' ? argv.slice(argv[1] === 'read' ? 2 : 1) : argv[0] === 'read' ? argv.slice(1) : argv;
  const value = (name: string): string | undefined => {
    const i = a.indexOf(name);
    if (i < 0) return undefined;
    const v = a[i + 1];
    if (v === undefined) throw new CardError('CARD_NO_KEY', `${name} needs a value`);
    return v;
  };
  const qr = value('--qr');
  const mrz = value('--mrz');
  const can = value('--can');
  if ([qr, mrz, can].filter((x) => x !== undefined).length !== 1)
    throw new CardError('CARD_NO_KEY', `give exactly one of --qr, --mrz, --can\nusage: ${CARD_READ_USAGE}`);
  const keys = qr !== undefined ? keysFromQr(parseCccdQr(qr)) : mrz !== undefined ? keysFromMrzText(mrz) : keysFromDigits(can!);
  const reader = value('--reader');
  const csca = value('--csca');
  return {
    keys,
    dg1: a.includes('--dg1'),
    dg2: a.includes('--dg2'),
    showPii: a.includes('--show-pii'),
    timeoutMs: Number(value('--timeout') ?? 30) * 1000,
    ...(reader !== undefined ? { reader } : {}),
    ...(csca !== undefined ? { csca } : {}),
  };
}

/** `edge-agent card read`: waits for a card, reads it, prints JSON. Returns the exit code. */
export async function runCardRead(
  argv: string[],
  io: CardReadIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 2;
  }
  // A reader named on the command line may be the virtual one (demo, tests).
  const watcher = new PcscCardWatcher({ readerName: args.reader ?? '', allowVirtualReader: args.reader !== undefined });
  const t0 = performance.now();
  try {
    const card = await new Promise<CardPresent>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CardError('CARD_READER_MISSING', `no card on ${args.reader ? `"${args.reader}"` : 'any reader'} within ${args.timeoutMs / 1000} s`)),
        args.timeoutMs,
      );
      let downTimer: NodeJS.Timeout | null = null;
      watcher.on('card', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      watcher.on('service-down', (m) => {
        downTimer ??= setTimeout(() => reject(new CardError('CARD_SERVICE_DOWN', `${plainMessages.CARD_SERVICE_DOWN} (${m})`)), 3000);
      });
      watcher.on('service-up', () => {
        if (downTimer) clearTimeout(downTimer);
        downTimer = null;
      });
      watcher.start();
    });
    const tCard = performance.now();
    const r = await readCccd(card.transport, {
      keys: args.keys,
      atr: card.atr,
      readDg1: args.dg1,
      readDg2: args.dg2,
      cscas: args.csca ? loadCertificates(readFileSync(args.csca, 'utf8')) : [],
    });
    const ms = Math.round(performance.now() - tCard);
    const out = {
      reader: card.reader,
      access: r.access,
      identity: args.showPii ? r.identity : maskIdentity(r.identity),
      verification: {
        hashes: r.verification.hashes ? { ok: r.verification.hashes.ok, checked: r.verification.hashes.checked.map((n) => `DG${n}`) } : 'EF.SOD not read',
        signature: r.verification.signature.status,
        detail: r.verification.signature.detail,
      },
      ...(r.face ? { face: { mime: r.face.mime, bytes: r.face.image.length } } : {}),
      apduCount: r.apduCount,
      bytesRead: r.bytesRead,
      msFromCard: ms,
      msTotal: Math.round(performance.now() - t0),
    };
    io.out(JSON.stringify(out, null, 2) + '\n');
    return 0;
  } catch (err) {
    const e = err instanceof CardError ? err : new CardError('CARD_PROTOCOL', (err as Error).message);
    io.err(`card read failed [${e.code}]: ${plainMessages[e.code]}\n  detail: ${e.message}\n`);
    return 1;
  } finally {
    watcher.stop();
  }
}
