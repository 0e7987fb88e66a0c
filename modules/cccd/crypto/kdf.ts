import { createHash } from 'node:crypto';
import { adjustParity } from './des.ts';

export const KDF_ENC = 1;
export const KDF_MAC = 2;
export const KDF_PACE = 3;

/** ICAO 9303-11 §9.7.1: KDF(K, c) = H(K || c), c as a 32-bit big-endian counter. */
export function kdf(secret: Buffer, counter: number, cipher: '3des' | 'aes128'): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(counter);
  const h = createHash('sha1').update(secret).update(c).digest();
  return cipher === '3des' ? adjustParity(h.subarray(0, 16)) : h.subarray(0, 16);
}
