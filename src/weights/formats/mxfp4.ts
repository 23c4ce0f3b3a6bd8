// MXFP4 weights, as gpt-oss's Hub checkpoints store their experts (OCP microscaling): blocks of 32
// inputs along K, each 32 E2M1 codes (sign, 2 exponent bits, 1 mantissa bit: ±0, 0.5, 1, 1.5, 2, 3,
// 4, 6) two a byte, low nibble first, and one E8M0 scale byte s (2^(s − 127)): 4.25 bits a weight. No
// dtype a user picks: a checkpoint brings it, and the file's bytes go to the GPU as they are
// (weights/mxfp4Rows.ts), decoded in the kernels (shaders/weight_mxfp4.wgsl).
//
// A stored row (what pack gives): [K/2 code bytes][its K/32 scale bytes, zero-padded to a word]. In a
// binding the rows' codes come first, row after row (the code plane), then their scales (the scale
// plane). Why two planes: the Hub stores a layer's codes and its scales as two tensors, one after the
// other in the file, so each streams into its own plane in long runs of rows, never row by row and
// never with a whole tensor held on the host. The kernels find the scale plane from the binding's
// length, so a binding must hold exactly its rows (as every matrix's does).
import type { WeightFormat } from '../format.js';

/** Inputs per block: one scale each. */
const MX_BLOCK = 32;

/** The E2M1 values of the 16 codes: bit 3 is the sign. */
export const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6] as const;

/** Blocks of a row of `inner` inputs; whole blocks only, as the Hub stores them. */
export function mxBlocks(inner: number): number {
  if (inner % MX_BLOCK) throw new RangeError(`webmoe: mxfp4 rows hold whole blocks of ${MX_BLOCK} inputs, got ${inner} inputs`);
  return inner / MX_BLOCK;
}

/** Bytes of a row's codes and of its scales (padded to a word): the two planes. */
const planes = (inner: number): [number, number] => [inner / 2, 4 * Math.ceil(mxBlocks(inner) / 4)];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The code of q = w / scale, rounded to nearest with ties away from zero, as the reference quantizer
 * (triton_kernels' downcast_to_mxfp) rounds: the thresholds are the midpoints of the E2M1 grid.
 */
const magnitudeCode = (q: number): number => q < 1.25 ? (q < 0.25 ? 0 : q < 0.75 ? 1 : 2) : q < 2.5 ? (q < 1.75 ? 3 : 4) : q < 3.5 ? 5 : q < 5 ? 6 : 7;

export const MXFP4: WeightFormat = {
  name: 'mxfp4',
  prelude: ['weight_mxfp4', 'weight_run8'],
  narrow: true,
  rowBytes(inner) {
    const [codes, scales] = planes(inner);
    return codes + scales;
  },
  planes,

  /**
   * As the reference quantizer does: the block's scale is max|w| / 6 rounded up to a power of two (so
   * no code saturates), each w / scale rounded to the nearest E2M1 code; an all-zero block has
   * scale byte 0. A NaN or infinite weight, which no scale byte holds, is an error naming its block.
   */
  pack(values: Float32Array, inner: number): Uint8Array<ArrayBuffer> {
    const [codeBytes, scaleBytes] = planes(inner);
    const rowBytes = codeBytes + scaleBytes;
    const rows = values.length / inner;
    const out = new Uint8Array(rows * rowBytes);
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < inner / MX_BLOCK; b++) {
        const at = r * inner + b * MX_BLOCK;
        let maxBits = 0; // |f32| bits order as their values, and a NaN's above +Infinity's
        for (let i = at; i < at + MX_BLOCK; i++) maxBits = Math.max(maxBits, bits[i] & 0x7fffffff);
        if (maxBits >= 0x7f800000) {
          u32[0] = maxBits;
          throw new RangeError(`webmoe: mxfp4 cannot hold a weight of magnitude ${f32[0]} (row ${r}, inputs ${b * MX_BLOCK}…${b * MX_BLOCK + 31})`);
        }
        u32[0] = maxBits;
        f32[0] = f32[0] / 6;
        const scale = ((u32[0] + 0x7fffff) & 0x7f800000) >>> 23; // round up to a power of two: the biased exponent
        const inverse = scale ? 2 ** (127 - scale) : 0;
        const row = r * rowBytes;
        out[row + codeBytes + b] = scale;
        for (let i = 0; i < MX_BLOCK; i++) { // w · 2^-e is exact: no rounding before the code's
          const code = magnitudeCode(Math.abs(values[at + i]) * inverse) | ((bits[at + i] >>> 28) & 8);
          out[row + ((b * MX_BLOCK + i) >> 1)] |= code << ((i & 1) * 4);
        }
      }
    }
    return out;
  },

  unpack(bytes: Uint8Array, inner: number): Float32Array<ArrayBuffer> {
    const [codeBytes, scaleBytes] = planes(inner);
    const rows = bytes.length / (codeBytes + scaleBytes);
    const out = new Float32Array(rows * inner);
    for (let r = 0; r < rows; r++) {
      const row = r * (codeBytes + scaleBytes);
      for (let k = 0; k < inner; k++) {
        const code = (bytes[row + (k >> 1)] >> ((k & 1) * 4)) & 15;
        out[r * inner + k] = E2M1[code] * 2 ** (bytes[row + codeBytes + Math.floor(k / MX_BLOCK)] - 127);
      }
    }
    return out;
  },
};
