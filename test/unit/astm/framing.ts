import { encodeFrame, ENQ, EOT, splitIntoFrames } from '../../../modules/astm/frame.ts';

/** Framing styles seen in real captures (spec lab.md). */
export type FramingStyle = 'split-at-limit' | 'record-per-etx-frame' | 'record-per-etb-frame' | 'one-frame';

/** A whole transmission ENQ … EOT for a CR-terminated message, in one of the real framing styles. */
export function framedTransmission(message: Buffer, style: FramingStyle, frameSize = 247): Buffer {
  const parts: Buffer[] = [Buffer.of(ENQ)];
  if (style === 'split-at-limit') parts.push(...splitIntoFrames(message, frameSize));
  else if (style === 'one-frame') parts.push(encodeFrame(1, message, true));
  else {
    const records: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < message.length; i++) {
      if (message[i] === 0x0d) {
        records.push(message.subarray(start, i + 1));
        start = i + 1;
      }
    }
    if (start < message.length) records.push(message.subarray(start));
    records.forEach((r, i) => parts.push(encodeFrame((i + 1) % 8, r, style === 'record-per-etx-frame' || i === records.length - 1)));
  }
  parts.push(Buffer.of(EOT));
  return Buffer.concat(parts);
}
