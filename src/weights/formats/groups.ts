// Group-wise integer weights: the layout and quantizer shared by q8 and q4 (formats/q8.ts, q4.ts, each
// with its packing of one group), quantized on the CPU one row at a time as rows stream in, dequantized
// inside the kernels (shaders/weight_groups.wgsl and the format's prelude).
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
import { f16BitsToF32, f32ToF16Bits } from '../../gpu/f16.js';
import type { QuantDType, WeightFormat } from '../format.js';

export const GROUP = 32;

/**
 * Packs the 32 values v[k…] of one group, at the scale given, into `bits` words at out[o…].
 * A packer computes clamp(Math.round(w / scale), ±QMAX) without Math.round, which V8 runs several times
 * slower than a truncation: t = w / scale + QMAX + 1.5, clamped to [1, 2·QMAX + 1], truncates (| 0) to
 * q + QMAX + 1, whose low bits are q's with the top one flipped. Exact: w / scale (an f32 over an f16,
 * |·| < 192) is a half-integer or more than 2^-28 from one, and the addition (t < 512) errs by at most
 * 2^-45.
 */
export type PackGroup = (v: Float32Array, k: number, scale: number, out: Uint32Array, o: number) => void;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export class IntGroups implements WeightFormat {
  readonly narrow = true;
  readonly prelude: readonly string[];

  constructor(readonly name: QuantDType, readonly bits: 8 | 4, readonly qmax: number, private readonly packGroup: PackGroup) {
    this.prelude = ['weight_groups', `weight_${name}`, 'weight_run8'];
  }

  /** u32 words of one stored row of `inner` values: GROUP·bits/32 = bits data words per group, then the scales. */
  rowWords(inner: number): number {
    const groups = Math.ceil(inner / GROUP);
    return groups * this.bits + Math.ceil(groups / 2);
  }

  rowBytes(inner: number): number {
    return 4 * this.rowWords(inner);
  }

  pack(values: Float32Array, inner: number): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.quantize(values, inner).buffer);
  }

  unpack(bytes: Uint8Array, inner: number): Float32Array<ArrayBuffer> {
    return this.dequantize(new Uint32Array(Uint8Array.from(bytes).buffer), inner);
  }

  /** Quantizes whole rows of `values` (rows × inner) into `out` (rows × rowWords words). */
  quantize(values: Float32Array, inner: number, out = new Uint32Array((values.length / inner) * this.rowWords(inner))): Uint32Array<ArrayBuffer> {
    const { bits, qmax } = this;
    const groups = Math.ceil(inner / GROUP);
    const words = this.rowWords(inner);
    const rows = values.length / inner;
    const pad = new Float32Array(GROUP); // a short last group, zero-padded: every group is then 32 values
    // max|w| compared as integers: |f32| bits order as their values, and a NaN's above +Infinity's.
    const valueBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const padBits = new Uint32Array(pad.buffer);
    for (let r = 0; r < rows; r++) {
      const row = r * inner;
      const dst = r * words;
      let pair = 0; // the scale word being filled
      for (let g = 0; g < groups; g++) {
        const k0 = g * GROUP;
        const k1 = Math.min(inner, k0 + GROUP);
        let src = values;
        let srcBits = valueBits;
        let at = row + k0;
        if (k1 - k0 < GROUP) {
          for (let i = 0; i < GROUP; i++) pad[i] = k0 + i < k1 ? values[at + i] : 0;
          src = pad;
          srcBits = padBits;
          at = 0;
        }
        let maxBits = 0;
        for (let k = at, end = at + GROUP; k < end; k++) {
          const a = srcBits[k] & 0x7fffffff;
          maxBits = a > maxBits ? a : maxBits;
        }
        u32[0] = maxBits;
        const max = f32[0];
        const scaleBits = f32ToF16Bits(max / qmax);
        const scale = f16BitsToF32(scaleBits);
        if (!Number.isFinite(scale)) {
          throw new RangeError(
            `webmoe: ${this.name} cannot hold a weight of magnitude ${max} (row ${r}, inputs ${k0}…${k1 - 1}): its f16 group scales reach ${65504 * qmax}`,
          );
        }
        pair |= scaleBits << ((g & 1) * 16);
        if (g & 1 || g === groups - 1) {
          out[dst + groups * bits + (g >> 1)] = pair;
          pair = 0;
        }
        if (scale === 0) out.fill(0, dst + g * bits, dst + g * bits + bits); // an all-zero (or sub-f16) group
        else this.packGroup(src, at, scale, out, dst + g * bits);
      }
    }
    return out;
  }

  /** The values of quantized rows (the kernels' weight(), on the CPU): rows × inner floats. */
  dequantize(words: Uint32Array, inner: number): Float32Array<ArrayBuffer> {
    const { bits } = this;
    const per = 32 / bits;
    const groups = Math.ceil(inner / GROUP);
    const rowWords = this.rowWords(inner);
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
}
