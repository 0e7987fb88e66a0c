import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { maskCccd, maskName, redact } from '../../../agent/mask.ts';
import { createLogger } from '../../../agent/log.ts';

describe('personal data masking', () => {
  it('masks CCCD numbers and names as documented', () => {
    expect(maskCccd('001099012345')).toBe('0010*****345');
    expect(maskName('Nguyễn Văn An')).toBe('N. V. A.');
    expect(maskName('Đặng  Thị   Ánh')).toBe('Đ. T. Á.');
  });

  it('masks nested personal keys wherever they appear', () => {
    expect(redact({ card: { cccd: '079203001234', fullName: 'Trần Thị Bích' }, list: [{ address: 'Số 1, Hà Nội' }], count: 3 })).toEqual({
      card: { cccd: '0792*****234', fullName: 'T. T. B.' },
      list: [{ address: '[address]' }],
      count: 3,
    });
  });

  it('never lets a CCCD number or a name reach the log output', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger('info', sink);
    log.info({ identity: { idNumber: '001099012345', name: 'Lê Văn Tám', birthDate: '1950-02-03' } }, 'card read');
    await new Promise((r) => setImmediate(r));
    const out = lines.join('');
    expect(out).toContain('0010*****345');
    expect(out).not.toContain('001099012345');
    expect(out).not.toContain('Tám');
    expect(out).not.toContain('1950-02-03');
  });
});
