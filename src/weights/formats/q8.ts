// q8 weights: int8 in groups of 32 inputs with an f16 scale each (formats/groups.ts;
// shaders/weight_q8.wgsl): 8.5 bits a weight.
import { IntGroups } from './groups.js';

/** The truncation of round(w / scale) + 128 (see PackGroup). */
const t8 = (w: number, scale: number): number => {
  const t = w / scale + 128.5;
  return t < 1 ? 1 : t > 255 ? 255 : t;
};

/** One group of 32 values at v[k…] → 8 words at out[o…], 4 signed bytes a word. */
function packQ8(v: Float32Array, k: number, scale: number, out: Uint32Array, o: number): void {
  for (let end = o + 8; o < end; o++, k += 4) {
    out[o] = ((t8(v[k], scale) | 0) | (t8(v[k + 1], scale) | 0) << 8 | (t8(v[k + 2], scale) | 0) << 16 | (t8(v[k + 3], scale) | 0) << 24) ^ 0x80808080;
  }
}

export const Q8 = new IntGroups('q8', 8, 127, packQ8);
