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
 * Index of the first NaN or ±Inf element of little-endian F32 / F16 / BF16 bytes, -1 if none (or for
 * another dtype). An element is non-finite iff its exponent bits are all ones; only the high byte (and
 * for F32/BF16 the top bit of the next) is read.
 */
export function firstNonFinite(bytes: Uint8Array, dtype: string): number {
  if (dtype === 'F16') {
    for (let j = 1; j < bytes.length; j += 2) if ((bytes[j] & 0x7c) === 0x7c) return j >> 1;
  } else if (dtype === 'BF16') {
    for (let j = 1; j < bytes.length; j += 2) if ((bytes[j] & 0x7f) === 0x7f && bytes[j - 1] & 0x80) return j >> 1;
  } else if (dtype === 'F32') {
    for (let j = 3; j < bytes.length; j += 4) if ((bytes[j] & 0x7f) === 0x7f && bytes[j - 1] & 0x80) return j >> 2;
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
