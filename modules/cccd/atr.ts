/**
 * Reads the ATR's historical bytes for the ISO 7816-4 card capabilities (compact-TLV tag 7,
 * third software function table, bit b7 = "extended Lc and Le fields").
 */
export function atrSupportsExtendedLength(atr: Buffer | undefined): boolean {
  if (!atr || atr.length < 2) return false;
  const t0 = atr[1]!;
  const k = t0 & 0x0f;
  let p = 2;
  let y = t0 >> 4;
  for (;;) {
    if (y & 1) p++;
    if (y & 2) p++;
    if (y & 4) p++;
    if (y & 8) {
      if (p >= atr.length) return false;
      y = atr[p]! >> 4;
      p++;
    } else break;
  }
  const hist = atr.subarray(p, p + k);
  if (hist[0] !== 0x80) return false; // only the compact-TLV category is understood
  let q = 1;
  while (q < hist.length) {
    const tag = hist[q]! >> 4;
    const len = hist[q]! & 0x0f;
    if (tag === 0x7 && len >= 3) return (hist[q + 3]! & 0x40) !== 0;
    q += 1 + len;
  }
  return false;
}
