// Group-wise int8 / int4 expert weights (dtype 'q8' / 'q4'), quantized on the CPU one row at a time
// as rows stream in, dequantized inside the expert kernels (expert_common.wgsl weight()).
//
// Layout of one stored row (one output column of one part of one expert, `inner` = K values):
//   [G groups of data words][ceil(G/2) scale words],  G = ceil(K / 32)
//   - a group is 32 consecutive inputs along the reduction dimension K (H for gate/up, I for down),
//     packed little-end first: q8 = 4 signed bytes per u32 (8 words), q4 = 8 signed nibbles per u32
//     (4 words); the short last group of a row whose K is not a multiple of 32 is padded with zeros;
//   - the scales, one f16 per group, two per u32 (unpack2x16float), after the row's data.
// Why: a row stays one contiguous run of u32 words, so ExpertMatrix's binding split (whole experts,
// or ranges of whole rows) and writeExpertRows (whole rows) work as for f32/f16, and one binding per
// chunk is still all a kernel needs. Groups run along K, the dimension a thread walks in the GEMV and
// a tile walks in the GEMM, so a scale is reused by 32 neighbouring weights. f16 scales: 4.5 bits a
// weight for q4 (8.5 for q8) instead of 5 (9) with f32 scales; q · scale is exact in f32 (an 8-bit
// integer times an 11-bit mantissa), so the kernels dequantize without rounding.
// Symmetric round-to-nearest: scale = f16(max|w| / QMAX), q = clamp(round(w / scale), ±QMAX) with
// QMAX = 127 (q8) or 7 (q4).
import { f16BitsToF32, f32ToF16Bits } from '../gpu/f16.js';

export type QuantDType = 'q8' | 'q4';

export const GROUP = 32;
export const BITS: Record<QuantDType, 8 | 4> = { q8: 8, q4: 4 };
const QMAX: Record<QuantDType, number> = { q8: 127, q4: 7 };

export const isQuant = (d: string): d is QuantDType => d === 'q8' || d === 'q4';

/** u32 words of one stored row of `inner` values: GROUP·bits/32 = bits data words per group, then the scales. */
export function quantRowWords(inner: number, dtype: QuantDType): number {
  const groups = Math.ceil(inner / GROUP);
  return groups * BITS[dtype] + Math.ceil(groups / 2);
}

/** Quantizes whole rows of `values` (rows × inner) into `out` (rows × quantRowWords words). */
export function quantizeRows(values: ArrayLike<number>, inner: number, dtype: QuantDType, out: Uint32Array = new Uint32Array((values.length / inner) * quantRowWords(inner, dtype))): Uint32Array {
  const bits = BITS[dtype];
  const qmax = QMAX[dtype];
  const mask = (1 << bits) - 1;
  const groups = Math.ceil(inner / GROUP);
  const words = quantRowWords(inner, dtype);
  const rows = values.length / inner;
  for (let r = 0; r < rows; r++) {
    const src = r * inner;
    const dst = r * words;
    out.fill(0, dst, dst + words);
    for (let g = 0; g < groups; g++) {
      const k0 = g * GROUP;
      const k1 = Math.min(inner, k0 + GROUP);
      let max = 0;
      for (let k = k0; k < k1; k++) max = Math.max(max, Math.abs(values[src + k]));
      const scaleBits = f32ToF16Bits(max / qmax);
      const scale = f16BitsToF32(scaleBits);
      out[dst + groups * bits + (g >> 1)] |= scaleBits << ((g & 1) * 16);
      if (!Number.isFinite(scale)) {
        throw new RangeError(`webmoe: ${dtype} cannot hold a weight of magnitude ${max} (row ${r}, inputs ${k0}…${k1 - 1}): its f16 group scales reach ${65504 * qmax}`);
      }
      if (scale === 0) continue;  // an all-zero (or sub-f16) group stays 0
      for (let k = k0; k < k1; k++) {
        const q = Math.max(-qmax, Math.min(qmax, Math.round(values[src + k] / scale)));
        const i = k - k0;  // position in the group: word i·bits/32, field i mod (32/bits)
        const per = 32 / bits;
        out[dst + g * bits + Math.floor(i / per)] |= (q & mask) << ((i % per) * bits);
      }
    }
  }
  return out;
}

/** The values of quantized rows (the kernels' weight(), on the CPU): rows × inner floats. */
export function dequantizeRows(words: Uint32Array, inner: number, dtype: QuantDType): Float32Array {
  const bits = BITS[dtype];
  const per = 32 / bits;
  const groups = Math.ceil(inner / GROUP);
  const rowWords = quantRowWords(inner, dtype);
  const rows = words.length / rowWords;
  const out = new Float32Array(rows * inner);
  for (let r = 0; r < rows; r++) {
    const row = r * rowWords;
    for (let k = 0; k < inner; k++) {
      const g = Math.floor(k / GROUP);
      const scale = f16BitsToF32((words[row + groups * bits + (g >> 1)] >>> ((g & 1) * 16)) & 0xffff);
      const shift = 32 - bits - (k % per) * bits;
      out[r * inner + k] = ((words[row + Math.floor(k / per)] << shift) >> (32 - bits)) * scale;
    }
  }
  return out;
}
