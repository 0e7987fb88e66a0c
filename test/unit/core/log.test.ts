import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../../core/log.ts';
import { StoreError } from '../../../core/store/errors.ts';

/** A logger writing into memory; `lines()` parses what it wrote. */
function memoryLogger() {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const log = createLogger('info', sink);
  return {
    log,
    text: async () => {
      await new Promise((r) => setImmediate(r));
      return chunks.join('');
    },
    lines: async () => {
      await new Promise((r) => setImmediate(r));
      return chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

describe('logger', () => {
  it("keeps an error's message, stack, type and code (log.error({ err }))", async () => {
    const m = memoryLogger();
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6661'), { code: 'ECONNREFUSED', errno: -111 });
    m.log.error({ err, destination: 'lis' }, 'delivery failed');
    const [line] = await m.lines();
    expect(line!.err).toMatchObject({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:6661', code: 'ECONNREFUSED', errno: -111 });
    expect(String((line!.err as { stack: string }).stack)).toMatch(/^Error: connect ECONNREFUSED 127\.0\.0\.1:6661\n\s+at /);
    expect(line!.msg).toBe('delivery failed');
  });

  it('an error that names itself keeps its type, not a "name" masked as initials (StoreError read "S.")', async () => {
    const m = memoryLogger();
    m.log.error({ err: new StoreError('EDGE_STORE_FAILED', 'the journal could not be written: disk I/O error') }, 'append failed');
    const [line] = await m.lines();
    expect(line!.err).toMatchObject({ type: 'StoreError', code: 'EDGE_STORE_FAILED', message: 'the journal could not be written: disk I/O error' });
    expect(line!.err).not.toHaveProperty('name');
  });

  it("keeps an error logged alone, or from a child logger, with its message as the line's message", async () => {
    const m = memoryLogger();
    m.log.child({ device: 'xn1' }).warn(new RangeError('frame of 70000 bytes exceeds 65536'));
    const [line] = await m.lines();
    expect(line).toMatchObject({
      device: 'xn1',
      msg: 'frame of 70000 bytes exceeds 65536',
      err: { type: 'RangeError', message: 'frame of 70000 bytes exceeds 65536' },
    });
  });

  it("masks personal data in fields, in the message, and in an error's message and stack", async () => {
    const m = memoryLogger();
    m.log.info({ identity: { idNumber: '001099012345', name: 'Lê Văn Tám', birthDate: '1950-02-03' } }, 'card read');
    m.log.warn(
      { err: new Error('no appointment for 079203001234 (BHYT GD4797932194951)'), PatientName: 'TRAN^THI^BICH', HoTen: 'Trần Thị Bích' },
      'look-up of 079203001234 failed',
    );
    m.log.info('scanned 079203001234|025123456|Trần Thị Bích|01011999|Nữ|Hà Nội|15082021');
    const out = await m.text();
    expect(out).toContain('0010*****345');
    expect(out).toContain('0792*****234');
    for (const personal of ['001099012345', '079203001234', 'GD4797932194951', 'Tám', 'Bích', 'BICH', '1950-02-03', '025123456', 'Hà Nội'])
      expect(out).not.toContain(personal);
    const [, failed, scanned] = await m.lines();
    expect(failed!.msg).toBe('look-up of 0792*****234 failed');
    expect(failed!.err).toMatchObject({ message: 'no appointment for 0792*****234 (BHYT GD**********951)' });
    expect(scanned!.msg).toBe('scanned [card text]');
  });
});
