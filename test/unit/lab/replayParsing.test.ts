import { describe, expect, it } from 'vitest';
import { astmTransmissions, detectProtocol, mllpMessages } from '../../../modules/lab/replay.ts';
import { ENQ, EOT, splitIntoFrames } from '../../../modules/astm/frame.ts';
import { mllpFrame } from '../../../modules/hl7/mllp.ts';

const message = Buffer.from('H|\\^&|||XN-550\rP|1||PID-1||Đỗ^Văn Minh\rO|1|SID-1||^^^WBC\rR|1|^^^WBC|6.2|10*3/uL||N||F\rL|1|N\r'.repeat(3));

describe('reading a capture for replay', () => {
  it('rebuilds each ASTM transmission from its frames, dropping a checksum-failed copy and a retransmission after a lost ACK', () => {
    const frames = splitIntoFrames(message, 64);
    const corrupted = Buffer.from(frames[1]!);
    corrupted[corrupted.length - 3] = 0x30 + ((corrupted[corrupted.length - 3]! - 0x30 + 1) % 10); // wrong checksum digit
    const incomplete = Buffer.concat([Buffer.from([ENQ]), frames[0]!]); // no EOT: never results
    const capture = Buffer.concat([
      Buffer.from([ENQ]),
      frames[0]!,
      corrupted,
      frames[1]!,
      frames[2]!,
      frames[2]!,
      ...frames.slice(3),
      Buffer.from([EOT]),
      Buffer.from([ENQ]),
      ...splitIntoFrames(Buffer.from('H|\\^&\rL|1\r'), 247),
      Buffer.from([EOT]),
      incomplete,
    ]);
    const out = astmTransmissions(capture);
    expect(out.map((b) => b.toString('utf8'))).toEqual([message.toString('utf8'), 'H|\\^&\rL|1\r']);
  });

  it('finds MLLP messages whatever sits between them, and tells the protocols apart', () => {
    const a = 'MSH|^~\\&|A|B|||20261122||ORU^R01|1|P|2.5\r';
    const capture = Buffer.concat([mllpFrame(a), Buffer.from('\r\n'), mllpFrame(a.replace('|1|', '|2|'))]);
    expect(mllpMessages(capture).map(String)).toEqual([a, a.replace('|1|', '|2|')]);
    expect(detectProtocol(capture)).toBe('mllp');
    expect(detectProtocol(Buffer.from([ENQ, 0x02]))).toBe('astm');
    expect(() => detectProtocol(Buffer.from('H|\\^&'))).toThrow(/--astm or --mllp/);
  });
});
