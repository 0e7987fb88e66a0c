import type { LabTextEncoding } from './encoding.ts';

/**
 * Lab analyzer models as data over the protocol drivers (modules/astm, modules/hl7). A device's
 * configuration names a profile and may override any of these settings.
 */

export type LabQuirk =
  /** Prints bare records H…L with no ENQ/STX framing and expects no ACK. */
  | 'bareRecords'
  /** Sends messages without an L record; the ETX frame before EOT ends the message. */
  | 'noTerminatorRecord'
  /** Embeds &R& (repeat escape) inside result values (Sysmex XN). */
  | 'escapedRepeatsInValues'
  /** Non-default delimiters announced in H (Cepheid GeneXpert `H|@^\`). */
  | 'nonDefaultDelimiters'
  /** Frames larger than the E1381-95 limit (cobas c311 624-byte frames). */
  | 'largeFrames'
  /** HL7: MSH-18 'UNICODE' means UTF-8 (Mindray). */
  | 'unicodeMeansUtf8'
  /** HL7: QC messages flagged by MSH-11 = Q with masked values like '***.**'. */
  | 'qcByProcessingId';

export interface AstmProfileSettings {
  /** 'framed' = E1381 ENQ/STX/ETX link; 'bare' = records H…L without link framing. */
  framing: 'framed' | 'bare';
  /** Largest frame in bytes, both directions (247 for E1381-95, up to 64,000 for LIS01-A2). */
  frameSize: number;
  /** Who listens on TCP when the device is configured as the standard's default. */
  defaultTransport: 'tcp-server' | 'tcp-client' | 'serial';
  /** Serial defaults (E1381: 9600 8N1). */
  serial?: { baudRate: number; dataBits: 7 | 8; parity: 'none' | 'even' | 'odd'; stopBits: 1 | 2 };
  /** Largest H…L message (decoded text held until its L record). */
  maxMessageBytes: number;
  /** Largest transmission (ENQ … EOT, frame text summed): a sender past it is cut off. */
  maxTransmissionBytes: number;
}

export interface Hl7ProfileSettings {
  version: string;
  /** Host query style the device uses, if any. */
  query?: 'QRY^Q02' | 'QBP^Q11' | 'none';
  /** MLLP release 2 commit bytes (06/15) instead of HL7 ACK messages. */
  mllpRelease2?: boolean;
  /** Largest MLLP message: small by default, larger for devices that send Base64 images (histograms). */
  maxMessageBytes: number;
}

export interface LabDeviceProfile {
  id: string;
  /** Human name shown in the console. */
  name: string;
  protocol: 'astm' | 'hl7';
  encoding: LabTextEncoding;
  /** IANA zone for times without an offset; the device config's timezone wins. */
  timezone: string;
  quirks: LabQuirk[];
  /** Device test code → LIS test code. Unmapped codes are forwarded as sent. */
  testCodes: Record<string, string>;
  astm?: AstmProfileSettings;
  hl7?: Hl7ProfileSettings;
}

const VN = 'Asia/Ho_Chi_Minh';
const SERIAL_9600_8N1 = { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 } as const;
const MiB = 1024 * 1024;
/** Plain result messages: a few KB; 1 MiB leaves room for hundreds of results. */
const TEXT_ONLY = { maxMessageBytes: 1 * MiB, maxTransmissionBytes: 4 * MiB } as const;

export const LAB_PROFILES: Record<string, LabDeviceProfile> = {
  'generic-astm': {
    id: 'generic-astm',
    name: 'Generic ASTM E1381/E1394 analyzer',
    protocol: 'astm',
    encoding: 'utf-8',
    timezone: VN,
    quirks: [],
    testCodes: {},
    astm: { framing: 'framed', frameSize: 247, defaultTransport: 'tcp-server', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
  },
  'sysmex-xn': {
    id: 'sysmex-xn',
    name: 'Sysmex XN-series haematology (ASTM)',
    protocol: 'astm',
    encoding: 'latin1',
    timezone: VN,
    // Real XN captures carry 2.6 KB frames and &R& inside values.
    quirks: ['largeFrames', 'escapedRepeatsInValues'],
    testCodes: {
      WBC: 'CBC-WBC',
      RBC: 'CBC-RBC',
      HGB: 'CBC-HGB',
      HCT: 'CBC-HCT',
      PLT: 'CBC-PLT',
      MCV: 'CBC-MCV',
      MCH: 'CBC-MCH',
      MCHC: 'CBC-MCHC',
      'NEUT%': 'CBC-NEUT%',
      'LYMPH%': 'CBC-LYMPH%',
    },
    // XN can append scattergram/histogram data to a run: room for it.
    astm: {
      framing: 'framed',
      frameSize: 64_000,
      defaultTransport: 'tcp-client',
      serial: SERIAL_9600_8N1,
      maxMessageBytes: 4 * MiB,
      maxTransmissionBytes: 16 * MiB,
    },
  },
  'roche-cobas-c': {
    id: 'roche-cobas-c',
    name: 'Roche cobas c 311 / c 501 chemistry (ASTM)',
    protocol: 'astm',
    encoding: 'latin1',
    timezone: VN,
    // A 624-byte c311 frame was captured in the wild.
    quirks: ['largeFrames'],
    // cobas sends R.3 as ^^^<ACN>/<dilution>: both spellings are mapped.
    testCodes: {
      '687': 'GLU',
      '687/': 'GLU',
      '418': 'CREA',
      '418/': 'CREA',
      '690': 'ALT',
      '690/': 'ALT',
      '685': 'AST',
      '685/': 'AST',
      '781': 'UREA',
      '781/': 'UREA',
      '435': 'CHOL',
      '435/': 'CHOL',
    },
    astm: { framing: 'framed', frameSize: 64_000, defaultTransport: 'serial', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
  },
  'cepheid-genexpert': {
    id: 'cepheid-genexpert',
    name: 'Cepheid GeneXpert (ASTM, H|@^\\ delimiters)',
    protocol: 'astm',
    encoding: 'utf-8',
    timezone: VN,
    quirks: ['nonDefaultDelimiters'],
    testCodes: { 'MTB-RIF': 'MTB-XPERT', 'Xpert MTB-RIF Ultra': 'MTB-XPERT' },
    astm: { framing: 'framed', frameSize: 247, defaultTransport: 'tcp-client', serial: SERIAL_9600_8N1, ...TEXT_ONLY },
  },
  'mindray-bc': {
    id: 'mindray-bc',
    name: 'Mindray BC-5380 / BC-6800 haematology (HL7 v2.3.1)',
    protocol: 'hl7',
    encoding: 'utf-8',
    timezone: VN,
    quirks: ['unicodeMeansUtf8', 'qcByProcessingId'],
    testCodes: {},
    // BC-5380/6800 send histograms and scattergrams as Base64 bitmaps in OBX (ED): up to a few hundred KB each.
    hl7: { version: '2.3.1', query: 'QRY^Q02', maxMessageBytes: 4 * MiB },
  },
  'generic-hl7': {
    id: 'generic-hl7',
    name: 'Generic HL7 v2 analyzer over MLLP',
    protocol: 'hl7',
    encoding: 'utf-8',
    timezone: VN,
    quirks: [],
    testCodes: {},
    hl7: { version: '2.5', query: 'none', maxMessageBytes: 1 * MiB },
  },
};

export function labProfile(id: string): LabDeviceProfile {
  const p = LAB_PROFILES[id];
  if (!p) throw new Error(`unknown lab profile '${id}' (known: ${Object.keys(LAB_PROFILES).join(', ')})`);
  return p;
}
