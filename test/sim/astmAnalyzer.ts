// ASTM analyzer simulator: sends record messages with E1381 link framing over TCP (as client
// or server) or a serial port, and can misbehave the ways real lines do: lost ACKs, corrupted
// checksums, wrong frame numbers, stalls, EOT after an ETB frame, contention. It also answers
// the host's transfers (host query replies) as a receiver.
//
//   tsx test/sim/astmAnalyzer.ts [--host 127.0.0.1] [--port 4010] [--mode client|server|serial]
//        [--path /dev/pts/N] [--file fixtures/lab/x.astm] [--interval 5000] [--frame-size 247]
//        [--restamp false]   (by default R.13 is set to now, so every round is a new result)
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ACK, ENQ, EOT, ETB, ETX, NAK, STX, checksum, splitIntoFrames } from '../../modules/astm/frame.ts';

export interface AstmSendFaults {
  /** Frame indexes (0-based) whose ACK we "lose": the frame is sent again after the ACK. */
  loseAck?: number[];
  /** Frame indexes sent once with a corrupted checksum before the good copy. */
  corruptChecksum?: number[];
  /** Frame indexes sent once with a wrong frame number before the good copy. */
  wrongFn?: number[];
  /** Send this many damaged copies of the first frame before the good one (6 = abort). */
  badCopiesOfFirstFrame?: number;
  /** Pause this long after the given frame index (no EOT): tests the 30 s receive timeout. */
  stallAfter?: { frame: number; ms: number };
  /** Send EOT right after this frame index (an ETB frame) and stop. */
  eotAfter?: number;
}

export interface AstmSendReport {
  ok: boolean;
  reason?: string;
  frames: number;
  /** Frames whose ACK we saw (counting from the first). */
  ackedFrames: number;
  /** Milliseconds from the last byte of a frame written to its ACK read. */
  ackLatencyMs: number[];
  naks: number;
}

export interface AstmAnalyzerOptions {
  mode?: 'client' | 'server' | 'serial';
  host?: string;
  port?: number;
  /** serial mode: device path. */
  path?: string;
  baudRate?: number;
  frameSize?: number;
  replyTimeoutMs?: number;
  /** client mode: the local address to dial from (127.0.0.2 plays another PC on the LAN). */
  localAddress?: string;
  /** client mode: reconnect after the box hung up (default true). */
  reconnect?: boolean;
}

export interface AstmAnalyzer {
  /** Resolves when a connection (or the serial port) is up. */
  ready(): Promise<void>;
  /** Sends one message (record text, CR-terminated) in one transmission. */
  send(message: string | Buffer, faults?: AstmSendFaults): Promise<AstmSendReport>;
  /** Sends raw bytes as they are (bare records, noise). */
  writeRaw(bytes: Buffer): Promise<void>;
  /**
   * Contention: when the host next sends ENQ, answer with our own ENQ instead of ACK, wait
   * (E1381: at least 1 s) and send `message`; the host must yield and receive it first.
   */
  contendOnNextHostEnq(message: string | Buffer, waitMs?: number): Promise<AstmSendReport>;
  /** Messages the host sent us (host query answers), as text. */
  received: string[];
  waitForReceived(count: number, timeoutMs?: number): Promise<string[]>;
  /** The TCP port listened on in server mode. */
  port?: number;
  stop(): Promise<void>;
}

interface Conn {
  write(b: Buffer): Promise<void>;
  close(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startAstmAnalyzer(options: AstmAnalyzerOptions = {}): Promise<AstmAnalyzer> {
  const mode = options.mode ?? 'client';
  const frameSize = options.frameSize ?? 247;
  const replyTimeoutMs = options.replyTimeoutMs ?? 15_000;
  const received: string[] = [];
  let conn: Conn | null = null;
  let readyResolve!: () => void;
  let readyPromise = new Promise<void>((r) => (readyResolve = r));
  let stopped = false;
  let sending = false;
  // Bytes for the sender (when sending) or the passive receiver (otherwise).
  let waiter: ((b: number | null) => void) | null = null;
  const queue: number[] = [];
  // Passive receiver state.
  let rxFrame: number[] | null = null;
  let rxText: Buffer[] = [];
  let rxLastFn = 0;
  const receivedWaiters: Array<() => void> = [];
  let contend: { message: string | Buffer; waitMs: number; resolve: (r: AstmSendReport) => void } | null = null;

  const onBytes = (chunk: Buffer) => {
    for (const b of chunk) {
      if (sending) {
        if (waiter) {
          const w = waiter;
          waiter = null;
          w(b);
        } else queue.push(b);
      } else passive(b);
    }
  };

  function passive(b: number): void {
    if (rxFrame) {
      rxFrame.push(b);
      const end = rxFrame.findIndex((x) => x === ETX || x === ETB);
      if (end >= 0 && rxFrame.length >= end + 5) {
        const f = Buffer.from(rxFrame);
        rxFrame = null;
        const ok = checksum(f, 1, end + 1) === f.subarray(end + 1, end + 3).toString('latin1');
        const fn = f[1]! - 0x30;
        if (ok && fn === ((rxLastFn + 1) & 7)) {
          rxText.push(f.subarray(2, end));
          rxLastFn = fn;
        }
        void conn?.write(Buffer.of(ok ? ACK : NAK));
      }
      return;
    }
    if (b === ENQ && contend) {
      const c = contend;
      contend = null;
      void conn?.write(Buffer.of(ENQ));
      setTimeout(() => void send(c.message).then(c.resolve), c.waitMs);
      return;
    }
    if (b === ENQ) {
      rxText = [];
      rxLastFn = 0;
      void conn?.write(Buffer.of(ACK));
    } else if (b === STX) rxFrame = [b];
    else if (b === EOT && rxText.length) {
      received.push(Buffer.concat(rxText).toString('utf8'));
      rxText = [];
      for (const w of receivedWaiters.splice(0)) w();
    }
  }

  function nextByte(timeoutMs: number): Promise<number | null> {
    if (queue.length) return Promise.resolve(queue.shift()!);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        waiter = null;
        resolve(null);
      }, timeoutMs);
      waiter = (b) => {
        clearTimeout(t);
        resolve(b);
      };
    });
  }

  const attach = (c: Conn) => {
    conn = c;
    readyResolve();
  };
  const detach = () => {
    conn = null;
    readyPromise = new Promise<void>((r) => (readyResolve = r));
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(null);
    }
  };

  let server: net.Server | null = null;
  let socket: net.Socket | null = null;
  let serial: { close(cb?: () => void): void; isOpen: boolean } | null = null;
  const wireSocket = (s: net.Socket) => {
    s.setNoDelay(true);
    socket = s;
    s.on('data', onBytes);
    s.on('error', () => {});
    s.once('close', () => {
      if (socket === s) {
        socket = null;
        detach();
      }
    });
    attach({ write: (b) => new Promise((r) => (s.destroyed ? r() : s.write(b, () => r()))), close: () => s.destroy() });
  };

  if (mode === 'server') {
    server = net.createServer((s) => {
      socket?.destroy();
      wireSocket(s);
    });
    await new Promise<void>((r) => server!.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => r()));
  } else if (mode === 'client') {
    const connect = () => {
      if (stopped) return;
      const s = net.connect({
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 4010,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
      s.once('connect', () => wireSocket(s));
      s.once('error', () => {});
      s.once('close', () => {
        if (!stopped && options.reconnect !== false) setTimeout(connect, 100);
      });
    };
    connect();
  } else {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path: options.path!, baudRate: options.baudRate ?? 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    serial = port;
    port.on('data', onBytes);
    port.on('error', () => {});
    attach({ write: (b) => new Promise((r) => port.write(b, () => port.drain(() => r()))), close: () => port.close() });
  }

  async function send(message: string | Buffer, faults: AstmSendFaults = {}): Promise<AstmSendReport> {
    const report: AstmSendReport = { ok: false, frames: 0, ackedFrames: 0, ackLatencyMs: [], naks: 0 };
    await readyPromise;
    const c = conn;
    if (!c) return { ...report, reason: 'not connected' };
    sending = true;
    queue.length = 0;
    try {
      const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
      const frames = splitIntoFrames(bytes, frameSize);
      report.frames = frames.length;
      // Establishment; the instrument wins contention, so a host ENQ is simply ignored.
      let established = false;
      for (let attempt = 0; attempt < 6 && !established; attempt++) {
        await c.write(Buffer.of(ENQ));
        for (;;) {
          const r = await nextByte(replyTimeoutMs);
          if (r === null) return { ...report, reason: 'no reply to ENQ' };
          if (r === ACK) {
            established = true;
            break;
          }
          if (r === NAK) {
            await sleep(100);
            break;
          }
          if (r === ENQ) {
            await sleep(50);
            break;
          }
        }
      }
      if (!established) return { ...report, reason: 'host never answered ACK to ENQ' };
      for (let i = 0; i < frames.length; i++) {
        const good = frames[i]!;
        const copies: Buffer[] = [];
        if (faults.corruptChecksum?.includes(i)) {
          const bad = Buffer.from(good);
          bad[bad.length - 4] = bad[bad.length - 4] === 0x30 ? 0x31 : 0x30;
          copies.push(bad);
        }
        if (faults.wrongFn?.includes(i)) {
          const bad = Buffer.from(good);
          bad[1] = 0x30 + ((bad[1]! - 0x30 + 3) & 7);
          bad.write(checksum(bad, 1, bad.length - 4), bad.length - 4, 'latin1');
          copies.push(bad);
        }
        if (i === 0 && faults.badCopiesOfFirstFrame) {
          for (let k = 0; k < faults.badCopiesOfFirstFrame; k++) {
            const bad = Buffer.from(good);
            bad[bad.length - 4] = bad[bad.length - 4] === 0x30 ? 0x31 : 0x30;
            copies.push(bad);
          }
        }
        let tries = 0;
        let lostOnce = false;
        let k = 0;
        for (;;) {
          const isGood = k >= copies.length;
          const bytesOut = isGood ? good : copies[k]!;
          tries++;
          const t0 = performance.now();
          await c.write(bytesOut);
          const r = await nextByte(replyTimeoutMs);
          if (r === null) {
            await c.write(Buffer.of(EOT)).catch(() => {});
            return { ...report, reason: `no reply to frame ${i + 1}` };
          }
          if (r === ACK || r === EOT) {
            if (!isGood) return { ...report, reason: `host acknowledged a damaged copy of frame ${i + 1}` };
            if (faults.loseAck?.includes(i) && !lostOnce) {
              lostOnce = true; // pretend the ACK never arrived: send the same frame again
              continue;
            }
            report.ackedFrames = i + 1;
            report.ackLatencyMs.push(performance.now() - t0);
            break;
          }
          report.naks++;
          if (tries >= 6) {
            await c.write(Buffer.of(EOT));
            return { ...report, reason: `frame ${i + 1} refused 6 times` };
          }
          if (!isGood) k++;
        }
        if (faults.eotAfter === i) {
          await c.write(Buffer.of(EOT));
          return { ...report, reason: 'EOT sent after an ETB frame (fault injected)' };
        }
        if (faults.stallAfter?.frame === i) await sleep(faults.stallAfter.ms);
      }
      await c.write(Buffer.of(EOT));
      report.ok = true;
      return report;
    } finally {
      sending = false;
      // Bytes that arrived after the transfer belong to the passive receiver.
      const rest = queue.splice(0);
      for (const b of rest) passive(b);
    }
  }

  return {
    ready: () => readyPromise,
    send,
    async writeRaw(bytes) {
      await readyPromise;
      await conn?.write(bytes);
    },
    contendOnNextHostEnq(message, waitMs = 1_000) {
      return new Promise((resolve) => (contend = { message, waitMs, resolve }));
    },
    received,
    async waitForReceived(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`simulator received ${received.length} of ${count} host transfers`);
        await new Promise<void>((r) => {
          receivedWaiters.push(r);
          setTimeout(r, 50);
        });
      }
      return received;
    },
    get port() {
      const a = server?.address();
      return a && typeof a === 'object' ? a.port : undefined;
    },
    async stop() {
      stopped = true;
      socket?.destroy();
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      if (serial?.isOpen) await new Promise<void>((r) => serial!.close(() => r()));
    },
  };
}

/** Fixture messages as CR-terminated record text (captures with LF line ends are converted). */
export function loadAstmFixture(path: string): Buffer {
  const text = readFileSync(path)
    .toString('latin1')
    .replace(/\r\n|\n|\r/g, '\r');
  return Buffer.from(text.endsWith('\r') ? text : text + '\r', 'latin1');
}

/**
 * Sets every R record's completed time (R.13) and the header's time (H.14) to `now`: each demo round then carries new
 * results (a rerun) instead of repeats that the box would rightly drop as duplicates.
 */
export function restampResults(message: Buffer, now: string): Buffer {
  const text = message.toString('latin1');
  const fieldDelim = text.startsWith('H') ? text[1]! : '|';
  // R.13 (completed) and H.14 (message time, which the box compares with its clock).
  const lines = text.split('\r').map((line) => {
    const index = line.startsWith('R' + fieldDelim) ? 12 : line.startsWith('H' + fieldDelim) ? 13 : -1;
    if (index < 0) return line;
    const f = line.split(fieldDelim);
    while (f.length <= index) f.push('');
    f[index] = now;
    return f.join(fieldDelim);
  });
  return Buffer.from(lines.join('\r'), 'latin1');
}

export interface AstmAnalyzerStreamOptions extends AstmAnalyzerOptions {
  /** Fixture files to send in turn (default: every fixtures/lab/*.astm except queries). */
  files?: string[];
  intervalMs?: number;
  /** Restamp R.13 each round so results are new (default true). */
  restamp?: boolean;
  onSent?: (file: string, report: AstmSendReport) => void;
}

/** The demo's analyzer: sends fixture messages one after another until stopped. */
export async function startAstmAnalyzerStream(options: AstmAnalyzerStreamOptions = {}): Promise<{ stop(): Promise<void>; sim: AstmAnalyzer }> {
  const sim = await startAstmAnalyzer(options);
  const dir = 'fixtures/lab';
  const files =
    options.files ??
    readdirSync(dir)
      .filter((f) => f.endsWith('.astm') && !f.includes('query'))
      .map((f) => join(dir, f));
  const interval = options.intervalMs ?? 5_000;
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const file = files[n % files.length]!;
      let bytes = loadAstmFixture(file);
      if (options.restamp !== false) bytes = restampResults(bytes, astmNow());
      const report = await sim.send(bytes);
      options.onSent?.(file, report);
      for (let waited = 0; waited < interval && !stopped; waited += 100) await sleep(Math.min(100, interval - waited));
    }
  })();
  return {
    sim,
    async stop() {
      stopped = true;
      await sim.stop();
      await loop.catch(() => undefined);
    },
  };
}

function astmNow(timeZone = 'Asia/Ho_Chi_Minh'): string {
  const p = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date());
  const g = (t: string) => p.find((x) => x.type === t)?.value ?? '00';
  return `${g('year')}${g('month')}${g('day')}${g('hour')}${g('minute')}${g('second')}`;
}

async function main(): Promise<void> {
  const args = new Map<string, string>();
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) args.set(argv[i]!.replace(/^--/, ''), argv[i + 1] ?? '');
  const mode = (args.get('mode') ?? 'client') as 'client' | 'server' | 'serial';
  const interval = Number(args.get('interval') ?? 5_000);
  const stream = await startAstmAnalyzerStream({
    mode,
    host: args.get('host') ?? '127.0.0.1',
    port: Number(args.get('port') ?? (mode === 'server' ? 0 : 4010)),
    path: args.get('path'),
    frameSize: Number(args.get('frame-size') ?? 247),
    files: args.get('file') ? [args.get('file')!] : undefined,
    intervalMs: interval,
    restamp: args.get('restamp') !== 'false',
    onSent: (file, report) =>
      process.stdout.write(
        `${new Date().toISOString()} ${file}: ${report.ok ? 'sent' : 'failed: ' + report.reason} (${report.ackedFrames}/${report.frames} frames)\n`,
      ),
  });
  process.stdout.write(`astm analyzer simulator (${mode}${stream.sim.port ? ` on port ${stream.sim.port}` : ''}) sending fixtures every ${interval} ms\n`);
  const shutdown = () => void stream.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
