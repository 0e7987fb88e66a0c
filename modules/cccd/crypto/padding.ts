/** ISO/IEC 9797-1 padding method 2: append 80 then 00 up to the block size. */
export function pad(data: Buffer, blockSize: number): Buffer {
  const padLen = blockSize - (data.length % blockSize);
  const out = Buffer.alloc(data.length + padLen);
  data.copy(out);
  out[data.length] = 0x80;
  return out;
}

/** Removes method-2 padding; returns null when the padding is not well formed. */
export function unpad(data: Buffer): Buffer | null {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0x00) i--;
  if (i < 0 || data[i] !== 0x80) return null;
  return data.subarray(0, i);
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}
