import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AstmFrameError, checksum, encodeFrame, ETB, ETX, FRAME_SIZE_E1381, parseFrame, splitIntoFrames, STX } from '../../../modules/astm/frame.ts';

describe('ASTM frame', () => {
  it('computes the checksum over FN, text and ETX (hand-computed vector)', () => {
    // '1' 0x31 + 'L' 0x4C + '|' 0x7C + '1' 0x31 + CR 0x0D + ETX 0x03 = 314 = 0x13A → '3A'
    const f = encodeFrame(1, Buffer.from('L|1\r'), true);
    expect(f.toString('latin1')).toBe('\x021L|1\r\x033A\r\n');
    expect(checksum(Buffer.from('1L|1\r\x03'))).toBe('3A');
  });

  it('parses what it encodes, with or without the CR LF trailer', () => {
    const f = encodeFrame(7, Buffer.from('R|1|^^^GLU|5,4\r'), false);
    expect(parseFrame(f)).toEqual({ fn: 7, text: Buffer.from('R|1|^^^GLU|5,4\r'), final: false });
    expect(parseFrame(f.subarray(0, f.length - 2)).fn).toBe(7);
    expect(
      parseFrame(
        Buffer.from(
          f
            .toString('latin1')
            .toLowerCase()
            .replace(/r\|1\|\^\^\^glu\|5,4/, 'R|1|^^^GLU|5,4'),
          'latin1',
        ),
      ).final,
    ).toBe(false);
  });

  it('rejects a bad checksum with a typed error', () => {
    const f = encodeFrame(1, Buffer.from('H|\\^&\r'), true);
    f[f.length - 4] = f[f.length - 4] === 0x30 ? 0x31 : 0x30;
    expect(() => parseFrame(f)).toThrow(AstmFrameError);
    try {
      parseFrame(f);
    } catch (err) {
      expect((err as AstmFrameError).code).toBe('ASTM_FRAME_CHECKSUM');
    }
  });

  it('splits outgoing messages at the device frame size, FN wrapping 7→0', () => {
    const message = Buffer.alloc(240 * 9 + 17, 0x41);
    const frames = splitIntoFrames(message, FRAME_SIZE_E1381);
    expect(frames).toHaveLength(10);
    expect(frames.every((f) => f.length <= FRAME_SIZE_E1381)).toBe(true);
    expect(frames[0]!.length).toBe(247);
    expect(frames.map((f) => f[1]! - 0x30)).toEqual([1, 2, 3, 4, 5, 6, 7, 0, 1, 2]);
    expect(frames.slice(0, -1).every((f) => f[f.length - 5] === ETB)).toBe(true);
    expect(frames.at(-1)![frames.at(-1)!.length - 5]).toBe(ETX);
    expect(Buffer.concat(frames.map((f) => parseFrame(f).text))).toEqual(message);
    // A LIS01-A2 device takes the whole message in one frame.
    expect(splitIntoFrames(message, 64_000)).toHaveLength(1);
  });

  it('fuzz: parseFrame only ever throws AstmFrameError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withStx) => {
        const input = withStx ? Buffer.concat([Buffer.of(STX), bytes]) : Buffer.from(bytes);
        try {
          const f = parseFrame(input);
          expect(f.fn).toBeGreaterThanOrEqual(0);
          expect(f.fn).toBeLessThan(8);
        } catch (err) {
          expect(err).toBeInstanceOf(AstmFrameError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: encode → parse round-trips any text without control bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a.map((b) => (b < 0x20 ? b + 0x20 : b)))),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        (text, fn, final) => {
          expect(parseFrame(encodeFrame(fn, text, final))).toEqual({ fn, text, final });
        },
      ),
    );
  });
});
