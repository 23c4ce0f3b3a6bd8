// Expert FFNs on the CPU in plain TypeScript (CPU offload): float32 weights and rows, sums in
// doubles, the same math as the GPU kernels: y = w · down(silu(gate·x) · (up·x)).

/**
 * Rows of one layer's local experts. x [R, H]; ids [R] local expert of each row; weights [R] its
 * routing weight; gateUp [experts, 2I, H] (gate rows, then up rows); down [experts, H, I] → y [R, H].
 */
export function cpuExpertRows(
  x: Float32Array,
  ids: Uint32Array,
  weights: Float32Array,
  gateUp: Float32Array,
  down: Float32Array,
  H: number,
  I: number,
): Float32Array<ArrayBuffer> {
  const R = ids.length;
  const y = new Float32Array(R * H);
  const h = new Float64Array(I);
  for (let r = 0; r < R; r++) {
    const e = ids[r];
    const xr = r * H;
    for (let i = 0; i < I; i++) {
      const g0 = (e * 2 * I + i) * H;
      const u0 = (e * 2 * I + I + i) * H;
      let g = 0;
      let u = 0;
      for (let j = 0; j < H; j++) {
        g += x[xr + j] * gateUp[g0 + j];
        u += x[xr + j] * gateUp[u0 + j];
      }
      h[i] = (g / (1 + Math.exp(-g))) * u;
    }
    const w = weights[r];
    for (let o = 0; o < H; o++) {
      const d0 = (e * H + o) * I;
      let acc = 0;
      for (let i = 0; i < I; i++) acc += h[i] * down[d0 + i];
      y[xr + o] = w * acc;
    }
  }
  return y;
}
