// ESC/POS receipt printer simulator (TCP 9100 style): decodes what it receives — raster bands
// (GS v 0), QR codes (GS ( k), cuts (GS V), status queries (DLE EOT) — into one job per cut with
// a PNG of the paper. The reader functions below recognise a ticket's lines and number from the
// dots alone by comparing them with glyphs rendered again, so nothing but the raster carries text.
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { bytesPerRow, emptyRaster, getDot, rasterToPng, setDot, stackRasters, type Raster } from '../../modules/printer/raster.ts';
import { registerTicketFonts, renderLine, type TextStyle } from '../../modules/printer/textRenderer.ts';

export interface PrintedJob {
  /** The bands as received, in order. */
  bands: Raster[];
  /** All bands stacked: the paper. */
  image: Raster;
  png: Buffer;
  qr: string[];
  /** Bytes printed in text mode (a raster ticket has none). */
  text: string;
  cut: boolean;
  bytes: number;
  unknown: number[];
  startedAt: number;
  firstRasterAt: number | null;
  /** performance.now() in the simulator's process when the first raster band / the cut arrived (benchmark). */
  firstRasterMono: number | null;
  cutMono: number | null;
  completedAt: number;
}

export interface PrinterSimOptions {
  port?: number;
  host?: string;
  paperOut?: boolean;
  coverOpen?: boolean;
  /** Writes each job's PNG here (job-<n>.png). */
  outDir?: string;
}

export interface PrinterSim {
  port: number;
  jobs: PrintedJob[];
  statusQueries: number;
  setState(state: { paperOut?: boolean; coverOpen?: boolean }): void;
  onJob(listener: (job: PrintedJob) => void): () => void;
  nextJob(timeoutMs?: number): Promise<PrintedJob>;
  /** First raster byte per connection, for the benchmark. */
  onFirstRaster(listener: () => void): () => void;
  stop(): Promise<void>;
}

class EscposDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private job: Omit<PrintedJob, 'image' | 'png' | 'completedAt'> | null = null;

  constructor(
    private readonly reply: (bytes: Buffer) => void,
    private readonly status: () => { paperOut: boolean; coverOpen: boolean },
    private readonly done: (job: PrintedJob) => void,
    private readonly firstRaster: () => void,
    private readonly countQuery: () => void,
  ) {}

  private current(): NonNullable<EscposDecoder['job']> {
    this.job ??= {
      bands: [],
      qr: [],
      text: '',
      cut: false,
      bytes: 0,
      unknown: [],
      startedAt: Date.now(),
      firstRasterAt: null,
      firstRasterMono: null,
      cutMono: null,
    };
    return this.job;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const used = this.step();
      if (used === 0) break;
      if (this.job) this.job.bytes += used;
      this.buf = this.buf.subarray(used);
    }
  }

  /** Decodes one command at the head of the buffer; 0 = need more bytes. */
  private step(): number {
    const b = this.buf;
    if (b.length === 0) return 0;
    const c = b[0]!;
    if (c === 0x10) {
      if (b.length < 3) return 0;
      if (b[1] === 0x04) {
        const s = this.status();
        const n = b[2]!;
        this.countQuery();
        const byte =
          n === 2
            ? 0x12 | (s.coverOpen ? 0x04 : 0) | (s.paperOut ? 0x20 : 0)
            : n === 4
              ? 0x12 | (s.paperOut ? 0x60 : 0)
              : 0x16 | (s.coverOpen || s.paperOut ? 0x08 : 0);
        this.reply(Buffer.from([byte]));
        return 3;
      }
      this.current().unknown.push(c);
      return 1;
    }
    if (c === 0x1b) {
      if (b.length < 2) return 0;
      const op = b[1]!;
      if (op === 0x40) return 2;
      if ([0x61, 0x64, 0x21, 0x45, 0x74, 0x4d, 0x33].includes(op)) return b.length < 3 ? 0 : 3;
      this.current().unknown.push(op);
      return 2;
    }
    if (c === 0x1d) {
      if (b.length < 2) return 0;
      const op = b[1]!;
      if (op === 0x76) {
        if (b.length < 8) return 0;
        const xBytes = b[4]! | (b[5]! << 8);
        const rows = b[6]! | (b[7]! << 8);
        const len = 8 + xBytes * rows;
        if (b.length < len) return 0;
        const job = this.current();
        if (job.firstRasterAt === null) {
          job.firstRasterAt = Date.now();
          job.firstRasterMono = performance.now();
          this.firstRaster();
        }
        job.bands.push({ width: xBytes * 8, height: rows, data: new Uint8Array(b.subarray(8, len)) });
        return len;
      }
      if (op === 0x28) {
        if (b.length < 5) return 0;
        const len = 5 + (b[3]! | (b[4]! << 8));
        if (b.length < len) return 0;
        // GS ( k cn=49 fn=80: store QR data
        if (b[2] === 0x6b && b[5] === 49 && b[6] === 80) this.current().qr.push(b.subarray(8, len).toString('utf8'));
        return len;
      }
      if (op === 0x56) {
        if (b.length < 3) return 0;
        const m = b[2]!;
        const len = m === 65 || m === 66 ? 4 : 3;
        if (b.length < len) return 0;
        const job = this.current();
        job.cut = true;
        job.cutMono = performance.now();
        this.finish();
        return len;
      }
      if (op === 0x21 || op === 0x42) return b.length < 3 ? 0 : 3;
      this.current().unknown.push(op);
      return 2;
    }
    if (c === 0x0a || c === 0x0d) return 1;
    this.current().text += String.fromCharCode(c);
    return 1;
  }

  finish(): void {
    const job = this.job;
    this.job = null;
    if (!job || (job.bands.length === 0 && job.qr.length === 0 && !job.text && !job.cut)) return;
    const image = job.bands.length ? stackRasters(job.bands) : emptyRaster(8, 0);
    this.done({ ...job, image, png: rasterToPng(image), completedAt: Date.now() });
  }
}

export async function startPrinter(options: PrinterSimOptions = {}): Promise<PrinterSim> {
  const state = { paperOut: options.paperOut ?? false, coverOpen: options.coverOpen ?? false };
  const jobs: PrintedJob[] = [];
  const listeners = new Set<(job: PrintedJob) => void>();
  const rasterListeners = new Set<() => void>();
  const sockets = new Set<Socket>();
  let statusQueries = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new EscposDecoder(
      (bytes) => socket.write(bytes),
      () => state,
      (job) => {
        jobs.push(job);
        if (options.outDir) writeFileSync(`${options.outDir}/job-${jobs.length}.png`, job.png);
        for (const l of listeners) l(job);
      },
      () => {
        for (const l of rasterListeners) l();
      },
      () => {
        statusQueries++;
      },
    );
    socket.on('data', (d) => decoder.push(d));
    socket.on('close', () => {
      decoder.finish();
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const sim: PrinterSim = {
    port,
    jobs,
    get statusQueries() {
      return statusQueries;
    },
    setState(s) {
      Object.assign(state, s);
    },
    onJob(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onFirstRaster(l) {
      rasterListeners.add(l);
      return () => rasterListeners.delete(l);
    },
    nextJob(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          off();
          reject(new Error(`no print job within ${timeoutMs} ms`));
        }, timeoutMs);
        const off = sim.onJob((job) => {
          clearTimeout(t);
          off();
          resolve(job);
        });
      });
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return sim;
}

// ---- reading the paper back ----

/** Rows/columns [x0,x1) × [y0,y1) as a new raster. */
export function crop(r: Raster, x0: number, y0: number, x1: number, y1: number, invert = false): Raster {
  const out = emptyRaster(Math.max(0, x1 - x0), Math.max(0, y1 - y0));
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (getDot(r, x, y) !== invert) setDot(out, x - x0, y - y0);
  return out;
}

/** Crops to the bounding box of the black dots. */
export function trim(r: Raster): Raster {
  let x0 = r.width,
    y0 = r.height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < r.height; y++)
    for (let x = 0; x < r.width; x++)
      if (getDot(r, x, y)) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  return x1 < 0 ? emptyRaster(0, 0) : crop(r, x0, y0, x1 + 1, y1 + 1);
}

function inkCount(r: Raster): number {
  let n = 0;
  for (const byte of r.data) for (let v = byte; v; v &= v - 1) n++;
  return n;
}

/**
 * Splits the paper into text lines: runs of rows with ink, joining gaps under `joinGap` rows
 * (Vietnamese stacked marks sit a few rows above their letter). A line printed white on black
 * is inverted. Thin rules are dropped.
 */
export function splitLines(page: Raster, joinGap = 6): Raster[] {
  const bpr = bytesPerRow(page.width);
  const inked = (y: number): boolean => page.data.subarray(y * bpr, (y + 1) * bpr).some((v) => v !== 0);
  const runs: Array<[number, number]> = [];
  for (let y = 0; y < page.height; y++) {
    if (!inked(y)) continue;
    const last = runs[runs.length - 1];
    if (last && y - last[1] <= joinGap) last[1] = y + 1;
    else runs.push([y, y + 1]);
  }
  const lines: Raster[] = [];
  for (const [y0, y1] of runs) {
    if (y1 - y0 < 8) continue;
    let region = crop(page, 0, y0, page.width, y1);
    if (inkCount(region) > region.width * region.height * 0.5) {
      // White text on a black bar: invert, and drop the bar's solid margins.
      region = crop(page, 0, y0, page.width, y1, true);
      const rows: number[] = [];
      const rb = bytesPerRow(region.width);
      for (let y = 0; y < region.height; y++) if (region.data.subarray(y * rb, (y + 1) * rb).some((v) => v !== 0)) rows.push(y);
      if (rows.length === 0) continue;
      region = crop(region, 0, rows[0]!, region.width, rows[rows.length - 1]! + 1);
    }
    lines.push(trim(region));
  }
  return lines;
}

/** 0 = identical dots; 1 = nothing in common or different sizes. Both inputs trimmed. */
export function difference(a: Raster, b: Raster): number {
  if (Math.abs(a.width - b.width) > 2 || Math.abs(a.height - b.height) > 2) return 1;
  const w = Math.max(a.width, b.width);
  const h = Math.max(a.height, b.height);
  let diff = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const da = x < a.width && y < a.height && getDot(a, x, y);
      const db = x < b.width && y < b.height && getDot(b, x, y);
      if (da !== db) diff++;
    }
  return diff / Math.max(1, inkCount(a), inkCount(b));
}

/** How far a printed line is from `text` rendered again in `style` (0 = same dots). */
export function lineDifference(line: Raster, text: string, style: TextStyle, inverse = false, fontDir?: string): number {
  registerTicketFonts(fontDir);
  const template = renderLine(text, style, inverse);
  // Padding bits right of the last column are not dots: clear them before trimming.
  return difference(line, trim(crop(template, 0, 0, template.width, template.height)));
}

/**
 * Reads a number line glyph by glyph: splits it at blank columns and picks, for each glyph, the
 * closest of the digits and capital letters rendered again in the number's style.
 */
export function recogniseNumber(line: Raster, style: TextStyle, fontDir?: string): { text: string; worst: number } {
  registerTicketFonts(fontDir);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const templates = [...alphabet].map((ch) => ({ ch, r: trim(renderLine(ch, style)) }));
  const cols: Array<[number, number]> = [];
  for (let x = 0; x < line.width; x++) {
    let ink = false;
    for (let y = 0; y < line.height && !ink; y++) ink = getDot(line, x, y);
    if (!ink) continue;
    const last = cols[cols.length - 1];
    if (last && last[1] === x) last[1] = x + 1;
    else cols.push([x, x + 1]);
  }
  let text = '';
  let worst = 0;
  for (const [x0, x1] of cols) {
    const glyph = trim(crop(line, x0, 0, x1, line.height));
    const best = templates.map((t) => ({ ch: t.ch, d: difference(glyph, t.r) })).sort((a, b) => a.d - b.d)[0]!;
    text += best.ch;
    worst = Math.max(worst, best.d);
  }
  return { text, worst };
}

// tsx test/sim/printer.ts --port 9100 [--out dir]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const sim = await startPrinter({ port: Number(arg('port') ?? 9100), host: arg('host') ?? '127.0.0.1', outDir: arg('out') });
  sim.onJob((job) =>
    process.stdout.write(
      `job ${sim.jobs.length}: ${job.image.width}x${job.image.height} dots, ${job.bands.length} bands, qr=${JSON.stringify(job.qr)}, cut=${job.cut}\n`,
    ),
  );
  process.stdout.write(`printer simulator listening on 127.0.0.1:${sim.port}\n`);
  const stop = (): void => void sim.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
