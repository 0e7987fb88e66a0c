import { deflateSync } from 'node:zlib';

/** A 1-bit image as thermal printers take it: rows of ceil(width/8) bytes, MSB = leftmost dot, 1 = black. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

export function bytesPerRow(width: number): number {
  return Math.ceil(width / 8);
}

export function emptyRaster(width: number, height: number): Raster {
  return { width, height, data: new Uint8Array(bytesPerRow(width) * height) };
}

export function getDot(r: Raster, x: number, y: number): boolean {
  return ((r.data[y * bytesPerRow(r.width) + (x >> 3)]! >> (7 - (x & 7))) & 1) === 1;
}

export function setDot(r: Raster, x: number, y: number): void {
  const i = y * bytesPerRow(r.width) + (x >> 3);
  r.data[i] = r.data[i]! | (0x80 >> (x & 7));
}

/** RGBA pixels → 1 bit: a dot is black when its luminance over white is below half (alpha-aware). */
export function rasterFromRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Raster {
  const r = emptyRaster(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const a = rgba[i + 3]! / 255;
      const lum = (0.299 * rgba[i]! + 0.587 * rgba[i + 1]! + 0.114 * rgba[i + 2]!) * a + 255 * (1 - a);
      if (lum < 128) setDot(r, x, y);
    }
  }
  return r;
}

/** Rows [y0, y1) as a new raster. */
export function sliceRows(r: Raster, y0: number, y1: number): Raster {
  const bpr = bytesPerRow(r.width);
  return { width: r.width, height: y1 - y0, data: r.data.slice(y0 * bpr, y1 * bpr) };
}

/** Stacks rasters vertically (widths may differ; the result has the widest). */
export function stackRasters(parts: Raster[]): Raster {
  const width = Math.max(0, ...parts.map((p) => p.width));
  const out = emptyRaster(
    width,
    parts.reduce((n, p) => n + p.height, 0),
  );
  const bpr = bytesPerRow(width);
  let y = 0;
  for (const p of parts) {
    const pb = bytesPerRow(p.width);
    for (let row = 0; row < p.height; row++) out.data.set(p.data.subarray(row * pb, row * pb + pb), (y + row) * bpr);
    y += p.height;
  }
  return out;
}

/** Minimal PNG (1-bit greyscale) for looking at what a printer would print. */
export function rasterToPng(r: Raster): Buffer {
  const bpr = bytesPerRow(r.width);
  const raw = Buffer.alloc((bpr + 1) * r.height);
  for (let y = 0; y < r.height; y++) {
    raw[y * (bpr + 1)] = 0;
    // PNG greyscale: 1 = white, so invert the printer's 1 = black.
    for (let i = 0; i < bpr; i++) raw[y * (bpr + 1) + 1 + i] = ~r.data[y * bpr + i]! & 0xff;
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(r.width, 0);
  ihdr.writeUInt32BE(r.height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
