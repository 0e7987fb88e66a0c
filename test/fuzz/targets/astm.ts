import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AstmFrameError, encodeFrame, EOT, parseFrame } from '../../../modules/astm/frame.ts';
import { buildQueryAnswer } from '../../../modules/astm/hostQuery.ts';
import { AstmLink } from '../../../modules/astm/link.ts';
import { AstmRecordError, extractResults, parseMessage } from '../../../modules/astm/records.ts';
import { AstmSession } from '../../../modules/astm/session.ts';
import { decodeText, LAB_TEXT_ENCODINGS } from '../../../modules/lab/encoding.ts';
import { resultIdentity } from '../../../modules/lab/result.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { chunksAt, type Rng } from '../lib/rng.ts';
import { oracle, type FuzzTarget } from '../lib/target.ts';
import { ASTM_TOKENS, astmMessages, astmStreams } from '../seeds.ts';

export const frameTarget: FuzzTarget = {
  name: 'astm.frame',
  about:
    'parseFrame (modules/astm/frame.ts) on one mutated frame. Allowed: AstmFrameError. Oracle: a frame that parses re-encodes (encodeFrame) to the bytes it was read from, checksum case aside.',
  seeds: () => astmStreams().flatMap((s) => s.subarray(1, 1 + 300)),
  tokens: ASTM_TOKENS,
  maxInputBytes: 70_000,
  expected: (err) => err instanceof AstmFrameError,
  run(input: Buffer) {
    const f = parseFrame(input);
    const again = encodeFrame(f.fn, f.text, f.final);
    const original = Buffer.from(input.subarray(0, f.text.length + 5));
    original.write(original.toString('latin1', f.text.length + 3, f.text.length + 5).toUpperCase(), f.text.length + 3, 'latin1');
    oracle(again.subarray(0, f.text.length + 5).equals(original), 'a parsed frame does not re-encode to its bytes');
  },
};

interface LinkRun {
  log: string[];
}

async function runLink(chunks: Buffer[], withSend: boolean): Promise<LinkRun> {
  const clock = new ManualClock();
  const log: string[] = [];
  const link = new AstmLink(
    { clock, role: 'host', frameSize: 247, maxIncomingFrame: 2048, maxQueuedBytes: 1 << 20 },
    {
      write: (b) => log.push(`w:${b.toString('hex')}`),
      // Persist-before-ACK with a store that refuses some frames (NAK): decided by content, not timing.
      frame: async (f) => {
        log.push(`f:${f.fn}:${f.final}:${f.text.length}`);
        return f.text.length % 7 !== 3;
      },
      transmissionEnd: (how) => log.push(`end:${how}`),
      event: (e) => log.push(`e:${e.type}`),
    },
  );
  // The send's outcome settles on a microtask whose place among the byte events depends on the
  // chunking: it is compared once, at the end, not as a step.
  let sent = 'none';
  if (withSend) void link.send(Buffer.from('H|\\^&\rL|1|N\r')).then((o) => (sent = String(o.ok)));
  const state = link as unknown as { frameBuf: number[] | null; inbox: number[]; paused: boolean };
  // Every frame's "durable" promise settles before time moves or the link closes, however many
  // frames one chunk held: otherwise the split would decide what is still pending at the close.
  const drain = async (): Promise<void> => {
    for (let i = 0; i < 4 || (state.paused && i < 1_000_000); i++) await Promise.resolve();
  };
  for (const c of chunks) {
    link.receive(c);
    await drain();
  }
  await drain();
  oracle((state.frameBuf?.length ?? 0) <= 2048 + 1, `the link holds a frame of ${state.frameBuf?.length} bytes, above maxIncomingFrame`);
  oracle(state.inbox.length <= (1 << 20) + 16, `the link queued ${state.inbox.length} bytes, above maxQueuedBytes`);
  clock.advance(31_000);
  clock.advance(31_000);
  link.close();
  for (let i = 0; i < 8; i++) await Promise.resolve();
  log.push(`sent:${sent}`);
  return { log };
}

export const linkTarget: FuzzTarget = {
  name: 'astm.link',
  about:
    'AstmLink (modules/astm/link.ts), the E1381 state machine, as host, fed a mutated byte stream whole and cut at random offsets (frames made durable asynchronously, some refused), timers run on a manual clock, sometimes with a message of its own to send (contention). Checks: never throws; the same writes, frames and transmission ends whatever the split; frame and queue buffers within their bounds.',
  seeds: astmStreams,
  tokens: ASTM_TOKENS,
  maxInputBytes: 128 * 1024,
  expected: () => false,
  async run(input: Buffer, rng: Rng) {
    const withSend = rng.chance(0.2);
    const whole = await runLink([input], withSend);
    const split = await runLink(chunksAt(input, rng.splits(input.length, 12)), withSend);
    oracle(
      whole.log.length === split.log.length && whole.log.every((l, i) => l === split.log[i]),
      `split changed the link's behaviour (first difference at step ${whole.log.findIndex((l, i) => l !== split.log[i])}: ${whole.log.find((l, i) => l !== split.log[i])} vs ${split.log.find((l, i) => l !== whole.log[i])})`,
    );
  },
};

export const recordsTarget: FuzzTarget = {
  name: 'astm.records',
  about:
    'E1394 records: decodeText in each lab encoding, parseMessage, extractResults (+ resultIdentity), and buildQueryAnswer for each query (modules/astm/records.ts, hostQuery.ts). Allowed: AstmRecordError. Oracle: no more results than R records; each answer starts with H and ends with an L record.',
  seeds: () => astmMessages().map((m) => Buffer.from(m, 'utf8')),
  tokens: ASTM_TOKENS,
  expected: (err) => err instanceof AstmRecordError,
  run(input: Buffer, rng: Rng) {
    const msg = parseMessage(decodeText(input, rng.pick(LAB_TEXT_ENCODINGS)));
    const summary = extractResults(msg, {
      device: 'fuzz',
      timezone: 'Asia/Ho_Chi_Minh',
      receivedAt: '2026-12-04T10:00:00+07:00',
      testCodes: { WBC: 'LIS-WBC' },
    });
    oracle(summary.results.length <= (summary.counts.R ?? 0), 'more results than R records');
    for (const r of summary.results) resultIdentity(r);
    for (const q of summary.queries) {
      const answer = buildQueryAnswer(
        q,
        (id) => (id.length % 2 ? { specimenId: id, tests: ['WBC', 'HGB'], patientName: 'Trần Văn Bình', priority: 'R' } : undefined),
        msg.delimiters,
        { now: '20261204100000' },
      );
      oracle(answer.startsWith('H') && /\rL[^\r]*\r$/.test(answer), 'a host query answer is not H…L');
    }
  },
};

/** One real store (tmpfs when there is one) reused across inputs, renewed now and then so it stays small. */
class ScratchStore {
  private store: Store | null = null;
  private dir = '';
  private uses = 0;

  async get(): Promise<Store> {
    if (this.store && this.uses++ < 2000) return this.store;
    this.close();
    this.dir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'fuzz-astm-'));
    this.store = await openStore({ dir: this.dir, minFreeBytes: 0 });
    this.uses = 0;
    return this.store;
  }

  close(): void {
    this.store?.close();
    this.store = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const scratch = new ScratchStore();
process.once('exit', () => scratch.close());

export const sessionTarget: FuzzTarget = {
  name: 'astm.session',
  about:
    'AstmSession (modules/astm/session.ts) over a real SQLite store: a mutated transmission in random chunks, then EOT and the receive timeout on a manual clock. Checks: never throws, every journal append settles, and no store failure: a message that cannot be parsed must be kept as astm.unparsed and ACKed, never NAKed for ever (a NAK is what the analyzer gets when anything but AstmRecordError escapes the parser).',
  seeds: astmStreams,
  tokens: ASTM_TOKENS,
  maxInputBytes: 128 * 1024,
  expected: () => false,
  async run(input: Buffer, rng: Rng) {
    const store = await scratch.get();
    const ctx = makeDriverContext(store, { id: 'fuzz-astm', capture: rng.chance(0.2) });
    const logged: string[] = [];
    ctx.log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    const clock = new ManualClock();
    const profileEncoding = rng.pick(LAB_TEXT_ENCODINGS);
    const session = new AstmSession(
      ctx,
      {
        framing: rng.chance(0.8) ? 'framed' : 'bare',
        frameSize: 247,
        encoding: profileEncoding,
        timezone: 'Asia/Ho_Chi_Minh',
        testCodes: {},
        quirks: rng.chance(0.3) ? ['noTerminatorRecord'] : [],
        forwardQc: false,
        maxMessageBytes: 64 * 1024,
      },
      clock,
      'fuzz',
      () => undefined,
    );
    // Frames are made durable by real I/O while the session's clock stands still: wait for each
    // ACK before moving time on, or the store timeout would fire on a manual-clock jump.
    const link = session.link as unknown as { paused: boolean };
    const settled = async (): Promise<void> => {
      for (let i = 0; i < 10_000 && link.paused; i++) await new Promise((r) => setTimeout(r, 1));
    };
    for (const c of chunksAt(input, rng.splits(input.length, 8))) {
      session.receive(c);
      await settled();
    }
    session.receive(Buffer.of(EOT));
    await settled();
    await session.idle();
    clock.advance(31_000);
    await session.idle();
    session.close();
    await session.idle();
    const why = logged
      .map((l) => JSON.parse(l) as { msg?: string; err?: { message?: string }; reason?: string })
      .find((l) => l.msg?.startsWith('could not store'));
    oracle(
      session.counters.storeFailures === 0,
      `the session failed to store ${session.counters.storeFailures} time(s) (${why?.msg}: ${why?.err?.message ?? JSON.stringify(why?.err)}): the analyzer gets NAK for this input every time it resends it`,
    );
  },
};
