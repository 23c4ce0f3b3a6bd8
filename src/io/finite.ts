// NaN and ±Inf weights, found in the stored bytes as they stream in: from the exponent bits alone, so a
// format that keeps the bytes as stored (f16, bf16) decodes nothing for the check.
import { decodeToF32, DTYPE_BYTES } from './dtype.js';

export class NonFiniteWeightError extends Error {
  override name = 'NonFiniteWeightError';
  constructor(readonly file: string, readonly tensor: string, readonly row: number, readonly column: number, readonly value: number) {
    super(`webmoe: ${file}: tensor '${tensor}' has ${value} at row ${row}, column ${column}: weights must be finite (a corrupt or overflowed checkpoint)`);
  }
}

/**
 * Per dtype: the exponent bits of a 32-bit word's elements (all ones: NaN or ±Inf), the lowest of
 * them (adding it carries a lane into its top bit exactly when its exponent is all ones), those top
 * bits, and the exponent bits of an element's top 16 bits.
 */
const EXPONENT: Record<string, { mask: number; carry: number; top: number; high: number }> = {
  F16: { mask: 0x7c007c00, carry: 0x04000400, top: 0x80008000, high: 0x7c00 },
  BF16: { mask: 0x7f807f80, carry: 0x00800080, top: 0x80008000, high: 0x7f80 },
  F32: { mask: 0x7f800000, carry: 0x00800000, top: 0x80000000, high: 0x7f80 },
};

/**
 * Index of the first NaN or ±Inf element of little-endian F32 / F16 / BF16 bytes, -1 if none (or for
 * another dtype): a word at a time where the bytes are 4-byte aligned, then element by element from
 * the first flagged word (or through an unaligned piece).
 */
export function firstNonFinite(bytes: Uint8Array, dtype: string): number {
  const e = EXPONENT[dtype];
  if (!e) return -1;
  let clean = 0; // bytes known finite
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    let i = 0;
    while (i < words.length && !(((words[i] & e.mask) + e.carry) & e.top)) i++;
    clean = 4 * i;
  }
  const size = DTYPE_BYTES[dtype];
  for (let j = clean + size - 2; j < bytes.length; j += size) {
    if (((bytes[j] | (bytes[j + 1] << 8)) & e.high) === e.high) return (j + 2) / size - 1;
  }
  return -1;
}

/**
 * Throws NonFiniteWeightError naming the file, tensor, row and column of the first non-finite element
 * of rows `firstRow`… of a tensor whose rows are `width` elements.
 */
export function checkFinite(bytes: Uint8Array, dtype: string, file: string, tensor: string, firstRow: number, width: number): void {
  const i = firstNonFinite(bytes, dtype);
  if (i < 0) return;
  const size = DTYPE_BYTES[dtype];
  const value = decodeToF32(bytes.subarray(i * size, (i + 1) * size), dtype, tensor)[0];
  throw new NonFiniteWeightError(file, tensor, firstRow + Math.floor(i / width), i % width, value);
}
