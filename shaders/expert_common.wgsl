// Shared by moe_gemm.wgsl and moe_gemv.wgsl (joined before each by src/kernels/expertMatmul.ts): the
// parameters of one weight binding, the A, weight and slot-table bindings, A reads.
// Weights: a matrix holds experts in slots; slotOf[e] is expert e's slot (NONE: not held), so a
//          backend may hold any subset of the experts in any order. One binding holds slots [s0,s1) ×
//          output columns [n0,n1) as [s1-s0][P][n1-n0] rows of K inputs, P = 2 (gate rows, then up
//          rows) when GATED else 1. The storage of a row is the weight format's: its prelude
//          (weight_*.wgsl, src/weights/formats/) reads `w` and `p.K` and defines weights8(r, k0). The
//          gated epilogue is the activation's prelude (act_*.wgsl).

struct Params {
  s0: u32,
  s1: u32,
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
@group(0) @binding(3) var<storage, read> slotOf: array<u32>;

const NONE = 0xffffffffu;

// The slot of expert e in this binding (its first slot is 0), or NONE where another binding (or no
// binding) holds it.
fn slotIn(e: u32) -> u32 {
  if (e == NONE) { return NONE; }
  let s = slotOf[e];
  return select(NONE, s - p.s0, s >= p.s0 && s < p.s1);
}

// Inputs k0 … k0+7 of A row `base` (k0 a multiple of 8); zeros from K on.
fn inputs8(base: u32, k0: u32) -> array<vec4f, 2> {
  var v: array<vec4f, 2>;
  for (var i = 0u; i < 8u; i++) { v[i / 4u][i % 4u] = select(0.0, a[base + k0 + i], k0 + i < p.K); }
  return v;
}
