// Shared by moe_gemm.wgsl and moe_gemv.wgsl (joined before each by src/kernels/expertMatmul.ts): the
// parameters of one weight binding, the A and weight bindings, A reads.
// Weights: one binding holds experts [e0,e1) × output columns [n0,n1) as [e1-e0][P][n1-n0] rows of
//          K inputs, P = 2 (gate rows, then up rows) when GATED else 1. The storage of a row is the
//          weight format's: its prelude (weight_*.wgsl, src/weights/formats/) reads `w` and `p.K` and
//          defines weights8(r, k0). The gated epilogue is the activation's prelude (act_*.wgsl).

struct Params {
  e0: u32,
  e1: u32,
  n0: u32,
  n1: u32,
  K: u32,
  outStride: u32,
  topK: u32,
}

override GATED: bool = true;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;

// Inputs k0 … k0+7 of A row `base` (k0 a multiple of 8); zeros from K on.
fn inputs8(base: u32, k0: u32) -> array<vec4f, 2> {
  var v: array<vec4f, 2>;
  for (var i = 0u; i < 8u; i++) { v[i / 4u][i % 4u] = select(0.0, a[base + k0 + i], k0 + i < p.K); }
  return v;
}
