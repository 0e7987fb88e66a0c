import { SimulatedChip, type ChipOptions } from './chip.ts';
import { buildDg1, buildDg13, buildDg2, buildEfCom, buildSod, CCCD_CARD_ACCESS, DEFAULT_CITIZEN, type DocumentSigner, type SyntheticCitizen } from './files.ts';

export interface CardBuildOptions {
  citizen?: SyntheticCitizen;
  signer: DocumentSigner;
  /** Field 13 nesting. */
  parents?: 'two-sequences' | 'one-sequence';
  dg2ImageBytes?: number;
  /** Without EF.CardAccess the chip is BAC-only. */
  pace?: boolean;
  extendedLength?: boolean;
  wrongKeySw?: number;
  /** Changes one byte of this data group AFTER signing (a forged card). */
  tamperDataGroup?: number;
  /** MRZ expiry the chip's BAC key uses (YYMMDD); defaults to the citizen's expiry. */
  bacExpiry?: string;
}

const yymmdd = (ddmmyyyy: string): string => ddmmyyyy.slice(8, 10) + ddmmyyyy.slice(3, 5) + ddmmyyyy.slice(0, 2);

export function buildChipOptions(o: CardBuildOptions): ChipOptions {
  const c = o.citizen ?? DEFAULT_CITIZEN;
  const groups = new Map<number, Buffer>([
    [1, buildDg1(c)],
    [2, buildDg2(o.dg2ImageBytes)],
    [13, buildDg13(c, o.parents)],
  ]);
  const sod = buildSod(groups, o.signer);
  if (o.tamperDataGroup !== undefined) {
    const g = Buffer.from(groups.get(o.tamperDataGroup)!);
    g[g.length - 1] = g[g.length - 1]! ^ 0x01;
    groups.set(o.tamperDataGroup, g);
  }
  const doe = o.bacExpiry ?? (/^\d{2}\/\d{2}\/\d{4}$/.test(c.expiryDate) ? yymmdd(c.expiryDate) : '991231');
  return {
    files: {
      ...(o.pace === false ? {} : { cardAccess: CCCD_CARD_ACCESS }),
      // Real cards also list DG3, DG14, DG15; DG3 needs terminal authentication and is skipped.
      com: buildEfCom([1, 2, 3, 13, 14, 15]),
      dg1: groups.get(1)!,
      dg2: groups.get(2)!,
      dg13: groups.get(13)!,
      sod,
    },
    bacKey: { documentNumber: c.idNumber.slice(3), dateOfBirth: yymmdd(c.dateOfBirth), dateOfExpiry: doe },
    can: c.idNumber.slice(-6),
    extendedLength: o.extendedLength ?? true,
    ...(o.wrongKeySw !== undefined ? { wrongKeySw: o.wrongKeySw } : {}),
  };
}

export function buildChip(o: CardBuildOptions): SimulatedChip {
  return new SimulatedChip(buildChipOptions(o));
}

/** The QR text printed on the simulated card. */
export function qrOf(c: SyntheticCitizen = DEFAULT_CITIZEN): string {
  const d = (s: string): string => s.replace(/\//g, '');
  return [c.idNumber, c.oldIdNumber, c.fullName, d(c.dateOfBirth), c.sex, c.placeOfResidence, d(c.issueDate)].join('|');
}
