// q4 weights: int4 in groups of 32 inputs with an f16 scale each (formats/groups.ts;
// shaders/weight_q4.wgsl): 4.5 bits a weight.
import { IntGroups } from './groups.js';

/** The truncation of round(w / scale) + 8 (see PackGroup). */
const t4 = (w: number, scale: number): number => {
  const t = w / scale + 8.5;
  return t < 1 ? 1 : t > 15 ? 15 : t;
};

/** One group of 32 values at v[k…] → 4 words at out[o…], 8 signed nibbles a word. */
function packQ4(v: Float32Array, k: number, scale: number, out: Uint32Array, o: number): void {
  for (let end = o + 4; o < end; o++, k += 8) {
    out[o] = ((t4(v[k], scale) | 0) | (t4(v[k + 1], scale) | 0) << 4 | (t4(v[k + 2], scale) | 0) << 8 | (t4(v[k + 3], scale) | 0) << 12
      | (t4(v[k + 4], scale) | 0) << 16 | (t4(v[k + 5], scale) | 0) << 20 | (t4(v[k + 6], scale) | 0) << 24 | (t4(v[k + 7], scale) | 0) << 28) ^ 0x88888888;
  }
}

export const Q4 = new IntGroups('q4', 4, 7, packQ4);
