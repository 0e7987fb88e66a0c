import { brainpoolP256r1 } from '@noble/curves/misc.js';

/** brainpoolP256r1 (RFC 5639 §3.4), standardized domain parameter 13 in ICAO 9303-11 Table 6. */
export const BrainpoolP256r1 = brainpoolP256r1;
export const Point = brainpoolP256r1.Point;
export type CurvePoint = InstanceType<typeof brainpoolP256r1.Point>;
export const CURVE_ORDER: bigint = brainpoolP256r1.Point.CURVE().n;

export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex'));
}

export function pointFromBytes(b: Uint8Array): CurvePoint {
  return Point.fromBytes(Uint8Array.from(b));
}

export function pointToBytes(p: CurvePoint): Buffer {
  return Buffer.from(p.toBytes(false));
}

/** A random scalar in [1, n-1]. */
export function randomScalar(): bigint {
  return bytesToBigInt(brainpoolP256r1.utils.randomSecretKey());
}
