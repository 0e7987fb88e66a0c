import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xor } from './padding.ts';

const ZERO16 = Buffer.alloc(16);

function run(alg: string, key: Buffer, iv: Buffer | null, data: Buffer, encrypt: boolean): Buffer {
  const c = encrypt ? createCipheriv(alg, key, iv) : createDecipheriv(alg, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

function algFor(key: Buffer, mode: 'cbc' | 'ecb'): string {
  if (![16, 24, 32].includes(key.length)) throw new RangeError('AES key must be 16, 24 or 32 bytes');
  return `aes-${key.length * 8}-${mode}`;
}

export function aesCbc(key: Buffer, data: Buffer, encrypt: boolean, iv: Buffer = ZERO16): Buffer {
  return run(algFor(key, 'cbc'), key, iv, data, encrypt);
}

export function aesEcbBlock(key: Buffer, block: Buffer): Buffer {
  return run(algFor(key, 'ecb'), key, null, block, true);
}

function shiftLeft(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
  return out;
}

function subkey(b: Buffer): Buffer {
  const s = shiftLeft(b);
  if (b[0]! & 0x80) s[15] = s[15]! ^ 0x87;
  return s;
}

/** AES-CMAC (NIST SP 800-38B / RFC 4493), full 16-byte tag. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  const l = aesEcbBlock(key, ZERO16);
  const k1 = subkey(l);
  const k2 = subkey(k1);
  const n = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  let last: Buffer;
  if (complete) last = xor(message.subarray((n - 1) * 16), k1);
  else {
    const tail = Buffer.alloc(16);
    message.subarray((n - 1) * 16).copy(tail);
    tail[message.length - (n - 1) * 16] = 0x80;
    last = xor(tail, k2);
  }
  let x: Buffer = ZERO16;
  for (let i = 0; i < n - 1; i++) x = aesEcbBlock(key, xor(x, message.subarray(i * 16, i * 16 + 16)));
  return aesEcbBlock(key, xor(x, last));
}
