// MXFP4 tensors as gpt-oss's Hub checkpoints hold them, random, and their values decoded here apart
// from src/weights/formats/mxfp4.ts.
import type { EncodeTensor } from '../../src/io/safetensors.js';
import type { Rng } from '../ref/rng.js';

/** E2M1: sign, 2 exponent bits, 1 mantissa bit. */
const e2m1 = (code: number) => (code & 8 ? -1 : 1) * [0, 0.5, 1, 1.5, 2, 3, 4, 6][code & 7];

/** Random Hub tensors of an [E, R, K] weight: blocks [E, R, K/32, 16], scales [E, R, K/32] (bytes 100…150). */
export function hubMxfp4(rng: Rng, E: number, R: number, K: number): { blocks: EncodeTensor; scales: EncodeTensor } {
  const u8 = (shape: number[], byte: () => number): EncodeTensor => ({
    dtype: 'U8' as 'F32',
    shape,
    data: Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, byte),
  });
  return { blocks: u8([E, R, K / 32, 16], () => rng.int(0, 255)), scales: u8([E, R, K / 32], () => rng.int(100, 150)) };
}

/** The values of Hub tensors, [E][R][K] in file order: code k of a row is nibble k % 2 (low first) of byte k / 2. */
export function hubValues(t: { blocks: EncodeTensor; scales: EncodeTensor }, K: number): Float32Array {
  const n = t.blocks.data.length * 2;
  return Float32Array.from({ length: n }, (_, i) => {
    const code = (t.blocks.data[i >> 1] >> ((i & 1) * 4)) & 15;
    return e2m1(code) * 2 ** (t.scales.data[Math.floor(i / K) * (K / 32) + Math.floor((i % K) / 32)] - 127);
  });
}

/** File values [E][R][K] with each expert's row r moved to row rowOf(r). */
export function mapped(values: Float32Array, R: number, K: number, rowOf: (r: number) => number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < values.length / K; row++) {
    const to = row - (row % R) + rowOf(row % R);
    out.set(values.subarray(row * K, (row + 1) * K), to * K);
  }
  return out;
}
