import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { rasterFromRgba, type Raster } from './raster.ts';

/**
 * Text to 1-bit dots with @napi-rs/canvas (Skia, prebuilt binary inside the npm package) and
 * DejaVu Sans from Debian's fonts-dejavu-core (full Vietnamese coverage, precomposed and
 * combining marks). Text is NFC-normalised; positions are whole dots so a line renders the
 * same dots wherever it sits on the ticket.
 */
export const DEFAULT_FONT_DIR = '/usr/share/fonts/truetype/dejavu';

type Canvas = typeof import('@napi-rs/canvas');
let canvasModule: Canvas | null = null;
/** Skia (~20 MB of the process) is loaded at the first ticket, not when the agent starts. */
function canvas(): Canvas {
  canvasModule ??= createRequire(import.meta.url)('@napi-rs/canvas') as Canvas;
  return canvasModule;
}
const REGULAR = 'TicketSans';
const BOLD = 'TicketSansBold';
let registeredFrom: string | null = null;

export function registerTicketFonts(fontDir = DEFAULT_FONT_DIR): void {
  if (registeredFrom === fontDir) return;
  const regular = `${fontDir}/DejaVuSans.ttf`;
  const bold = `${fontDir}/DejaVuSans-Bold.ttf`;
  for (const f of [regular, bold]) if (!existsSync(f)) throw new Error(`font ${f} is missing: apt-get install fonts-dejavu-core`);
  canvas().GlobalFonts.registerFromPath(regular, REGULAR);
  canvas().GlobalFonts.registerFromPath(bold, BOLD);
  registeredFrom = fontDir;
}

export interface TextStyle {
  size: number;
  bold?: boolean;
}

export function cssFont(style: TextStyle): string {
  return `${style.size}px ${style.bold ? BOLD : REGULAR}`;
}

export function measureText(text: string, style: TextStyle): number {
  const ctx = canvas().createCanvas(1, 1).getContext('2d');
  ctx.font = cssFont(style);
  return Math.ceil(ctx.measureText(text.normalize('NFC')).width);
}

export interface DrawItem {
  text: string;
  style: TextStyle;
  /** Left edge in dots (whole number). */
  x: number;
  /** Baseline in dots (whole number). */
  baseline: number;
  /** White text on a black box (priority mark). */
  inverse?: { x: number; y: number; w: number; h: number };
}

/** Draws items on a white canvas of width × height and thresholds it to a raster. */
export function drawRaster(width: number, height: number, items: DrawItem[], rules: Array<{ y: number; h: number }> = []): Raster {
  const surface = canvas().createCanvas(width, height);
  const ctx = surface.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = '#000';
  for (const r of rules) ctx.fillRect(0, r.y, width, r.h);
  for (const item of items) {
    if (item.inverse) {
      ctx.fillStyle = '#000';
      ctx.fillRect(item.inverse.x, item.inverse.y, item.inverse.w, item.inverse.h);
      ctx.fillStyle = '#fff';
    } else {
      ctx.fillStyle = '#000';
    }
    ctx.font = cssFont(item.style);
    ctx.fillText(item.text.normalize('NFC'), Math.round(item.x), Math.round(item.baseline));
  }
  const img = ctx.getImageData(0, 0, width, height);
  return rasterFromRgba(img.data, width, height);
}

/** One line of text alone, for template comparison (the simulator's recogniser uses it). */
export function renderLine(text: string, style: TextStyle, inverse = false): Raster {
  const w = measureText(text, style) + style.size;
  const h = Math.ceil(style.size * 1.6);
  const item: DrawItem = { text, style, x: Math.round(style.size / 2), baseline: Math.round(style.size * 1.2) };
  if (!inverse) return drawRaster(w, h, [item]);
  // White on black thresholds differently at glyph edges: render it that way, then flip.
  const r = drawRaster(w, h, [{ ...item, inverse: { x: 0, y: 0, w, h } }]);
  for (let i = 0; i < r.data.length; i++) r.data[i] = ~r.data[i]! & 0xff;
  return r;
}
