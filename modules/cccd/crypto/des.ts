import { createCipheriv, createDecipheriv } from 'node:crypto';
import { pad, xor } from './padding.ts';

/*
 * OpenSSL 3 (Node 20+) has no single DES in the default provider. Two-key 3DES (des-ede)
 * with K1 = K2 = K collapses to single DES: E_K(D_K(E_K(x))) = E_K(x).
 */

const ZERO8 = Buffer.alloc(8);

function run(alg: string, key: Buffer, iv: Buffer | null, data: Buffer, encrypt: boolean): Buffer {
  const c = encrypt ? createCipheriv(alg, key, iv) : createDecipheriv(alg, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Two-key 3DES (K1 K2 K1) in CBC mode, no padding. */
export function tdesCbc(key16: Buffer, data: Buffer, encrypt: boolean, iv: Buffer = ZERO8): Buffer {
  return run('des-ede-cbc', key16, iv, data, encrypt);
}

function singleDesCbcLastBlock(key8: Buffer, data: Buffer): Buffer {
  const out = run('des-ede-cbc', Buffer.concat([key8, key8]), ZERO8, data, true);
  return out.subarray(out.length - 8);
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with DES, as ICAO 9303-11 §9.8.6.2 uses.
 * `data` must already be padded to 8 bytes (callers pad because SSC framing differs).
 */
export function retailMac(key16: Buffer, data: Buffer): Buffer {
  if (data.length === 0 || data.length % 8 !== 0) throw new RangeError('retail MAC input must be padded to 8 bytes');
  const ka = key16.subarray(0, 8);
  const head = data.subarray(0, data.length - 8);
  const last = data.subarray(data.length - 8);
  const h = head.length > 0 ? singleDesCbcLastBlock(ka, head) : ZERO8;
  // The final block goes through full 3DES (E_Ka D_Kb E_Ka).
  return run('des-ede-ecb', key16, null, xor(h, last), true);
}

/** Retail MAC of unpadded data (pads with method 2 first). */
export function retailMacPadded(key16: Buffer, data: Buffer): Buffer {
  return retailMac(key16, pad(data, 8));
}

/** Sets the DES odd-parity bit of every key byte (ICAO 9303-11 §9.7.1). */
export function adjustParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    const b = out[i]! & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    out[i] = b | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}
