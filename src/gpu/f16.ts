// IEEE 754 half-precision conversion, for f16 weight storage (no Float16Array in Node 20).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds one float to the nearest f16 (ties to even) and returns its bits. */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++; // may carry into the exponent: still right
  return sign | r;
}

/** The float value of f16 bits. */
export function f16BitsToF32(h: number): number {
  const exp = (h >>> 10) & 0x1f;
  if (exp === 0 || exp === 0x1f) {
    const sign = h & 0x8000 ? -1 : 1;
    const mant = h & 0x3ff;
    if (exp === 0) return sign * mant * 2 ** -24;
    return mant ? NaN : sign * Infinity;
  }
  // A normal f16 is the f32 of the same sign and mantissa with the exponent rebiased (+112): no 2 ** e.
  u32[0] = ((h & 0x8000) << 16) | (((h & 0x7fff) << 13) + (112 << 23));
  return f32[0];
}

export function toF16(values: Float32Array): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return out;
}

export function fromF16(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToF32(bits[i]);
  return out;
}
