import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACK, encodeFrame, ENQ, EOT, NAK, parseFrame, STX, type AstmFrame } from '../../../modules/astm/frame.ts';
import { AstmLink, type TransmissionEnd } from '../../../modules/astm/link.ts';
import { ManualClock } from '../../helpers/manualClock.ts';

function harness(opts: { frameSize?: number; decide?: (f: AstmFrame) => Promise<boolean>; role?: 'host' | 'instrument' } = {}) {
  const clock = new ManualClock();
  const out: number[] = [];
  const frames: AstmFrame[] = [];
  const ends: TransmissionEnd[] = [];
  const link = new AstmLink(
    { clock, role: opts.role ?? 'host', frameSize: opts.frameSize ?? 247 },
    {
      write: (b) => out.push(...b),
      frame: async (f) => {
        const ok = opts.decide ? await opts.decide(f) : true;
        if (ok) frames.push(f);
        return ok;
      },
      transmissionEnd: (how) => ends.push(how),
    },
  );
  const take = () => out.splice(0);
  return { clock, link, out, frames, ends, take };
}

const tick = () => new Promise((r) => setImmediate(r));
const f = (fn: number, text: string, final = true) => encodeFrame(fn, Buffer.from(text), final);

describe('AstmLink receiver', () => {
  it('ACKs ENQ and each good frame, sends nothing for EOT', async () => {
    const h = harness();
    h.link.receive(Buffer.of(ENQ));
    expect(h.take()).toEqual([ACK]);
    h.link.receive(f(1, 'H|\\^&\r', false));
    await tick();
    h.link.receive(f(2, 'L|1|N\r'));
    await tick();
    expect(h.take()).toEqual([ACK, ACK]);
    h.link.receive(Buffer.of(EOT));
    await tick();
    expect(h.take()).toEqual([]);
    expect(h.ends).toEqual(['eot']);
    expect(h.frames.map((x) => x.text.toString())).toEqual(['H|\\^&\r', 'L|1|N\r']);
  });

  it('ignores noise while idle and answers nothing to it', () => {
    const h = harness();
    h.link.receive(Buffer.from('garbage\x02\x03\x06\x15 more'));
    expect(h.take()).toEqual([]);
    expect(h.link.lineState).toBe('neutral');
  });

  it('does not ACK a frame until the owner made it durable; NAK when that fails', async () => {
    let release!: (ok: boolean) => void;
    const h = harness({ decide: () => new Promise<boolean>((r) => (release = r)) });
    h.link.receive(Buffer.of(ENQ));
    h.take();
    h.link.receive(Buffer.concat([f(1, 'H|\\^&\r'), Buffer.of(EOT)]));
    await tick();
    expect(h.take()).toEqual([]);
    expect(h.ends).toEqual([]); // EOT waits behind the pending frame
    release(false);
    await tick();
    expect(h.take()).toEqual([NAK]);
    expect(h.ends).toEqual(['eot']);
  });

  it('NAKs a bad checksum and accepts the resend', async () => {
    const h = harness();
    h.link.receive(Buffer.of(ENQ));
    h.take();
    const bad = f(1, 'H|\\^&\r');
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0x01;
    h.link.receive(bad);
    await tick();
    expect(h.take()).toEqual([NAK]);
    h.link.receive(f(1, 'H|\\^&\r'));
    await tick();
    expect(h.take()).toEqual([ACK]);
    expect(h.frames).toHaveLength(1);
  });

  it('NAKs a wrong frame number', async () => {
    const h = harness();
    h.link.receive(Buffer.of(ENQ));
    h.take();
    h.link.receive(f(3, 'H|\\^&\r'));
    await tick();
    expect(h.take()).toEqual([NAK]);
    expect(h.frames).toHaveLength(0);
  });

  it('ACKs a retransmission after a lost ACK without delivering it twice', async () => {
    const h = harness();
    h.link.receive(Buffer.of(ENQ));
    h.link.receive(f(1, 'H|\\^&\r', false));
    await tick();
    h.link.receive(f(1, 'H|\\^&\r', false));
    await tick();
    h.link.receive(f(2, 'L|1\r'));
    await tick();
    expect(h.take()).toEqual([ACK, ACK, ACK, ACK]);
    expect(h.frames).toHaveLength(2);
    // Same FN but different bytes is not a retransmission.
    h.link.receive(f(2, 'L|2\r'));
    await tick();
    expect(h.take()).toEqual([NAK]);
  });

  it('discards an incomplete message after 30 s without a frame (compressed time)', async () => {
    const h = harness();
    h.link.receive(Buffer.of(ENQ));
    h.link.receive(f(1, 'H|\\^&\r', false));
    await tick();
    h.clock.advance(29_999);
    expect(h.ends).toEqual([]);
    h.clock.advance(1);
    expect(h.ends).toEqual(['timeout']);
    h.take();
    // The line is neutral again: a stray frame gets no answer.
    h.link.receive(f(2, 'L|1\r'));
    await tick();
    expect(h.take()).toEqual([]);
  });

  it('EOT after an ETB frame ends the transmission (the owner sees the last frame was not final)', async () => {
    const h = harness();
    h.link.receive(Buffer.concat([Buffer.of(ENQ), f(1, 'H|\\^&\r', false)]));
    await tick();
    h.link.receive(Buffer.of(EOT));
    expect(h.ends).toEqual(['eot']);
    expect(h.frames.at(-1)!.final).toBe(false);
  });

  it('tolerates a missing CR LF trailer', async () => {
    const h = harness();
    const a = f(1, 'H|\\^&\r', false);
    const b = f(2, 'L|1\r');
    h.link.receive(Buffer.concat([Buffer.of(ENQ), a.subarray(0, a.length - 2)]));
    await tick();
    h.link.receive(b.subarray(0, b.length - 1));
    await tick();
    expect(h.take()).toEqual([ACK, ACK, ACK]);
  });

  it('gives the same frames and replies for any split of the input', async () => {
    const stream = Buffer.concat([Buffer.of(ENQ), f(1, 'H|\\^&\r', false), f(2, 'P|1\r', false), f(2, 'P|1\r', false), f(3, 'L|1\r'), Buffer.of(EOT)]);
    const run = async (chunks: Buffer[]) => {
      const h = harness();
      for (const c of chunks) {
        h.link.receive(c);
        await tick();
      }
      return { out: h.take(), frames: h.frames.map((x) => x.text.toString()), ends: h.ends };
    };
    const whole = await run([stream]);
    expect(whole.frames).toEqual(['H|\\^&\r', 'P|1\r', 'L|1\r']);
    for (let i = 1; i < stream.length; i++) expect(await run([stream.subarray(0, i), stream.subarray(i)])).toEqual(whole);
    expect(await run([...stream].map((b) => Buffer.of(b)))).toEqual(whole);
  });
});

describe('AstmLink sender', () => {
  /** Drives the link's sender with a scripted receiver reply per byte sequence written. */
  it('sends ENQ, frames split at the limit with FN wrapping, then EOT', async () => {
    const h = harness({ frameSize: 64 });
    const message = Buffer.alloc(57 * 9 + 3, 0x52);
    const done = h.link.send(message);
    expect(h.take()).toEqual([ENQ]);
    h.link.receive(Buffer.of(ACK));
    const fns: number[] = [];
    for (;;) {
      const w = Buffer.from(h.take());
      if (w[0] === EOT) break;
      expect(w[0]).toBe(STX);
      expect(w.length).toBeLessThanOrEqual(64);
      fns.push(parseFrame(w).fn);
      h.link.receive(Buffer.of(ACK));
    }
    expect(fns).toEqual([1, 2, 3, 4, 5, 6, 7, 0, 1, 2]);
    expect(await done).toEqual({ ok: true });
  });

  it('resends a NAKed frame and aborts with EOT after six failed tries', async () => {
    const h = harness();
    const done = h.link.send(Buffer.from('H|\\^&\rL|1\r'));
    h.take();
    h.link.receive(Buffer.of(ACK));
    const firstFrame = Buffer.from(h.take());
    for (let i = 1; i < 6; i++) {
      h.link.receive(Buffer.of(NAK));
      expect(Buffer.from(h.take())).toEqual(firstFrame); // same frame, same FN
    }
    h.link.receive(Buffer.of(0x41)); // anything other than ACK/EOT counts as NAK
    expect(h.take()).toEqual([EOT]);
    expect(await done).toEqual({ ok: false, reason: 'frame 1 refused 6 times' });
  });

  it('aborts after 15 s without a reply (compressed time)', async () => {
    const h = harness();
    const done = h.link.send(Buffer.from('H|\\^&\rL|1\r'));
    h.link.receive(Buffer.of(ACK));
    h.take();
    h.clock.advance(15_000);
    expect(h.take()).toEqual([EOT]);
    expect((await done).ok).toBe(false);
  });

  it('contention: the host yields to the instrument, receives, then sends', async () => {
    const h = harness();
    const done = h.link.send(Buffer.from('H|\\^&\rL|1\r'));
    expect(h.take()).toEqual([ENQ]);
    h.link.receive(Buffer.of(ENQ)); // both sent ENQ: instrument wins
    expect(h.take()).toEqual([]);
    expect(h.link.lineState).toBe('contention');
    h.clock.advance(1_000);
    h.link.receive(Buffer.of(ENQ)); // the instrument's next ENQ
    expect(h.take()).toEqual([ACK]);
    h.link.receive(f(1, 'H|\\^&\rL|1\r'));
    await tick();
    expect(h.take()).toEqual([ACK]);
    h.link.receive(Buffer.of(EOT));
    expect(h.take()).toEqual([ENQ]); // now the host's turn
    h.link.receive(Buffer.of(ACK));
    h.take();
    h.link.receive(Buffer.of(ACK));
    expect(h.take()).toEqual([EOT]);
    expect(await done).toEqual({ ok: true });
    expect(h.frames).toHaveLength(1);
  });

  it('contention: no ENQ within 20 s makes the line neutral and the host tries again', () => {
    const h = harness();
    void h.link.send(Buffer.from('L|1\r'));
    h.take();
    h.link.receive(Buffer.of(ENQ));
    h.clock.advance(19_999);
    expect(h.take()).toEqual([]);
    h.clock.advance(1);
    expect(h.take()).toEqual([ENQ]);
  });

  it('waits 10 s after a NAK to ENQ (receiver busy)', () => {
    const h = harness();
    void h.link.send(Buffer.from('L|1\r'));
    h.take();
    h.link.receive(Buffer.of(NAK));
    h.clock.advance(9_999);
    expect(h.take()).toEqual([]);
    h.clock.advance(1);
    expect(h.take()).toEqual([ENQ]);
  });

  it('fuzz: random input never throws and never answers while neutral except to ENQ', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        const h = harness();
        h.link.receive(bytes);
        await tick();
        await tick();
        if (!bytes.includes(ENQ)) expect(h.take()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('bounds what it queues while a frame is being stored', async () => {
    let release!: (ok: boolean) => void;
    const events: string[] = [];
    const clock = new ManualClock();
    const out: number[] = [];
    const link = new AstmLink(
      { clock, role: 'host', frameSize: 247, maxQueuedBytes: 100 },
      { write: (b) => out.push(...b), frame: () => new Promise<boolean>((r) => (release = r)), transmissionEnd: () => {}, event: (e) => events.push(e.type) },
    );
    link.receive(Buffer.concat([Buffer.of(ENQ), f(1, 'H|\\^&\r')]));
    link.receive(Buffer.alloc(1000, 0x41));
    expect(events).toContain('overflow');
    release(true);
    await tick();
    expect(out).toEqual([ACK, ACK]);
  });
});
