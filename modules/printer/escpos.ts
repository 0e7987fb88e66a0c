import { bytesPerRow, sliceRows, type Raster } from './raster.ts';

/** ESC/POS commands used for tickets (Epson ESC/POS Application Programming Guide). */
export const ESC = 0x1b;
export const GS = 0x1d;
export const DLE = 0x10;
export const EOT = 0x04;

/** ESC @: initialise (clears a half-received command left by a previous broken job). */
export const INIT = Buffer.from([ESC, 0x40]);

/** ESC a n: 0 left, 1 centre. */
export function align(n: 0 | 1 | 2): Buffer {
  return Buffer.from([ESC, 0x61, n]);
}

/** ESC d n: print and feed n lines. */
export function feedLines(n: number): Buffer {
  return Buffer.from([ESC, 0x64, Math.max(0, Math.min(255, n))]);
}

/** GS V 66 n: feed n dots and partial cut (function B). */
export function cut(feedDots = 24): Buffer {
  return Buffer.from([GS, 0x56, 66, Math.max(0, Math.min(255, feedDots))]);
}

/**
 * GS v 0 m xL xH yL yH d1…dk: raster bit image, normal density. One command per band: some
 * printers drop long images sent as one command (their receive buffer overflows).
 */
export function rasterBand(band: Raster): Buffer {
  const x = bytesPerRow(band.width);
  const head = Buffer.from([GS, 0x76, 0x30, 0, x & 0xff, x >> 8, band.height & 0xff, band.height >> 8]);
  return Buffer.concat([head, Buffer.from(band.data.buffer, band.data.byteOffset, band.data.byteLength)]);
}

export function rasterBands(image: Raster, bandRows: number): Buffer[] {
  const out: Buffer[] = [];
  for (let y = 0; y < image.height; y += bandRows) out.push(rasterBand(sliceRows(image, y, Math.min(image.height, y + bandRows))));
  return out;
}

/** GS ( k: QR code model 2 — select model, module size, error correction, store, print. */
export function qrCode(data: string, moduleSize = 6, ec: 'L' | 'M' | 'Q' | 'H' = 'M'): Buffer {
  const bytes = Buffer.from(data, 'utf8');
  if (bytes.length > 7089) throw new RangeError('QR data too long');
  const fn = (cn: number, fnByte: number, params: number[] | Buffer): Buffer => {
    // pL pH count cn, fn and the parameters.
    const len = params.length + 2;
    return Buffer.concat([Buffer.from([GS, 0x28, 0x6b, len & 0xff, len >> 8, cn, fnByte]), Buffer.from(params)]);
  };
  return Buffer.concat([
    fn(49, 65, [50, 0]), // model 2
    fn(49, 67, [Math.max(1, Math.min(16, moduleSize))]),
    fn(49, 69, [{ L: 48, M: 49, Q: 50, H: 51 }[ec]]),
    fn(49, 80, Buffer.concat([Buffer.from([48]), bytes])),
    fn(49, 81, [48]),
  ]);
}

/** DLE EOT n: real-time status. n=1 printer, 2 offline cause, 4 paper roll sensor. */
export function statusQuery(n: 1 | 2 | 4): Buffer {
  return Buffer.from([DLE, EOT, n]);
}

export interface PrinterStatusBits {
  coverOpen: boolean;
  paperOut: boolean;
  paperNearEnd: boolean;
  offline: boolean;
  error: boolean;
}

/**
 * Decodes the answers to DLE EOT 2 (offline cause: bit 2 cover open, bit 5 stopped for paper
 * end, bit 6 error) and DLE EOT 4 (bits 2–3 near end, bits 5–6 paper end).
 */
export function parseStatus(offline: number | null, paper: number | null): PrinterStatusBits {
  const o = offline ?? 0;
  const p = paper ?? 0;
  return {
    coverOpen: (o & 0x04) !== 0,
    paperOut: (o & 0x20) !== 0 || (p & 0x60) !== 0,
    paperNearEnd: (p & 0x0c) !== 0,
    offline: (o & 0x04) !== 0 || (o & 0x20) !== 0 || (o & 0x40) !== 0,
    error: (o & 0x40) !== 0,
  };
}
