// Float64 Multi-head Latent Attention as transformers' DeepseekV2Attention / DeepseekV3Attention compute
// it, in the straightforward (not weight-absorbed) form: every position's keys and values made whole
// from its compressed kv, so a check against it also checks the absorption the kernels do.

import type { MlaDims } from '../../src/kernels/mla.js';

export interface MlaCase extends MlaDims {
  scale: number;
  eps: number;
  /** [heads · (nope + V), C]: per head its key rows, then its value rows */
  kvB: ArrayLike<number>;
  /** kv_a_layernorm [C] */
  kvNorm: ArrayLike<number>;
  /** (cos, sin) of position p, pair i: [maxSeq, R/2, 2] (ropeTable) */
  rope: ArrayLike<number>;
}

const rms = (x: number[], w: ArrayLike<number>, eps: number): number[] => {
  const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
};

/**
 * Pair i of x turned by position `pos`: the complex product of (x[2i], x[2i+1]) (interleaved: DeepSeek-V2's
 * apply_rotary_emb; V3's de-interleave then rotate-half turns the same pairs and reorders them), or
 * rotate-half of (x[i], x[i + R/2]). Returned in the same places as read (dot products are unchanged).
 */
export function ropeRef(x: number[], pos: number, c: Pick<MlaCase, 'interleave' | 'rope'>): number[] {
  const R = x.length;
  const out = [...x];
  for (let i = 0; i < R / 2; i++) {
    const [a, b] = c.interleave ? [2 * i, 2 * i + 1] : [i, i + R / 2];
    const cos = c.rope[(pos * (R / 2) + i) * 2];
    const sin = c.rope[(pos * (R / 2) + i) * 2 + 1];
    out[a] = x[a] * cos - x[b] * sin;
    out[b] = x[b] * cos + x[a] * sin;
  }
  return out;
}

/** One position's cache row: the normalised compressed kv [C] and its rope key [R], from kv_a's output [C + R]. */
export function latentRef(kvA: number[], pos: number, c: MlaCase): number[] {
  return [...rms(kvA.slice(0, c.C), c.kvNorm, c.eps), ...ropeRef(kvA.slice(c.C), pos, c)];
}

/**
 * Attention output [heads · V] of a query q [heads · (nope + R)] at position `pos` over the cache rows
 * latents[0 … pos] (latentRef's): keys [k_nope = W_UK c, k_rope], values W_UV c, causal softmax.
 */
export function mlaRef(q: ArrayLike<number>, pos: number, latents: number[][], c: MlaCase): number[] {
  const { heads, C, R, nope, V } = c;
  const row = (h: number, r: number, lat: number[]) => {
    let s = 0;
    for (let k = 0; k < C; k++) s += c.kvB[(h * (nope + V) + r) * C + k] * lat[k];
    return s;
  };
  const out: number[] = [];
  for (let h = 0; h < heads; h++) {
    const qh = Array.from({ length: nope + R }, (_, i) => q[h * (nope + R) + i]);
    const qRope = ropeRef(qh.slice(nope), pos, c);
    const scores = latents.slice(0, pos + 1).map((lat) => {
      let s = 0;
      for (let n = 0; n < nope; n++) s += qh[n] * row(h, n, lat);
      for (let i = 0; i < R; i++) s += qRope[i] * lat[C + i];
      return s * c.scale;
    });
    const m = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < V; i++) out.push(latents.slice(0, pos + 1).reduce((a, lat, j) => a + (e[j] / z) * row(h, nope + i, lat), 0));
  }
  return out;
}
