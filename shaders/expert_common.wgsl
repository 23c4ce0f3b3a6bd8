// Shared by moe_gemm.wgsl and moe_gemv.wgsl (prepended to each by src/kernels/expertMatmul.ts):
// the parameters of one weight binding, the A and weight bindings, f32/f16 weight reads, SiLU.
// Weights: one binding holds experts [e0,e1) × output columns [n0,n1) as [e1-e0][P][n1-n0][K],
//          P = 2 (gate rows, then up rows) when GATED else 1; f32, or f16 packed two per u32.

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
override WEIGHT_F16: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;

fn weight(i: u32) -> f32 {
  if (WEIGHT_F16) { return unpack2x16float(w[i >> 1u])[i & 1u]; }
  return bitcast<f32>(w[i]);
}

fn silu(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
