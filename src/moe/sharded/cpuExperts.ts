// Expert FFNs on the CPU in plain TypeScript (CPU offload): float32 weights and rows, sums in
// doubles, the same math as the GPU kernels: y = w · (down(act(gate·x + bg, up·x + bu)) + bd), act
// SwiGLU silu(g)·u or gpt-oss's clamped SwiGLU, the biases where the family has them.
import type { Activation } from '../../kernels/expertMatmul.js';

/** One layer's local experts: gateUp [n, 2I, H] (gate rows, then up rows), down [n, H, I], biases [n, 2I] (gate, then up) and [n, H]. */
export interface HostExperts {
  gateUp: Float32Array;
  down: Float32Array;
  gateUpBias?: Float32Array;
  downBias?: Float32Array;
}

/**
 * Rows of one layer's local experts. x [R, H]; ids [R] local expert of each row; weights [R] its
 * routing weight → y [R, H].
 */
export function cpuExpertRows(
  x: Float32Array,
  ids: Uint32Array,
  weights: Float32Array,
  w: HostExperts,
  H: number,
  I: number,
  activation?: Activation,
): Float32Array<ArrayBuffer> {
  const { gateUp, down, gateUpBias, downBias } = w;
  const clamped = activation?.kind === 'swiglu_clamped' ? activation : undefined;
  const R = ids.length;
  const y = new Float32Array(R * H);
  const h = new Float64Array(I);
  for (let r = 0; r < R; r++) {
    const e = ids[r];
    const xr = r * H;
    for (let i = 0; i < I; i++) {
      const g0 = (e * 2 * I + i) * H;
      const u0 = (e * 2 * I + I + i) * H;
      let g = gateUpBias ? gateUpBias[e * 2 * I + i] : 0;
      let u = gateUpBias ? gateUpBias[e * 2 * I + I + i] : 0;
      for (let j = 0; j < H; j++) {
        g += x[xr + j] * gateUp[g0 + j];
        u += x[xr + j] * gateUp[u0 + j];
      }
      if (clamped) {
        // gpt-oss: gate clamped above, up both ways, gate · sigmoid(alpha · gate) · (up + 1)
        g = Math.min(g, clamped.limit);
        u = Math.max(-clamped.limit, Math.min(clamped.limit, u)) + 1;
        h[i] = (g / (1 + Math.exp(-clamped.alpha * g))) * u;
      } else {
        h[i] = (g / (1 + Math.exp(-g))) * u;
      }
    }
    const wr = weights[r];
    for (let o = 0; o < H; o++) {
      const d0 = (e * H + o) * I;
      let acc = downBias ? downBias[e * H + o] : 0;
      for (let i = 0; i < I; i++) acc += h[i] * down[d0 + i];
      y[xr + o] = wr * acc;
    }
  }
  return y;
}
