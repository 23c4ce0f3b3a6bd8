// Shared by moe_gemm.wgsl and moe_gemv.wgsl (joined before each by src/kernels/expertMatmul.ts): the
// parameters of one weight binding, the A, weight, slot-table and bias bindings, A reads, biases.
// Weights: a matrix holds experts in slots; slotOf[e] is expert e's slot (NONE: not held), so a
//          backend may hold any subset of the experts in any order. One binding holds slots [s0,s1) ×
//          output columns [n0,n1) as [s1-s0][P][n1-n0] rows of K inputs, P = 2 (gate rows, then up
//          rows) when GATED else 1. The storage of a row is the weight format's: its prelude
//          (weight_*.wgsl, src/weights/formats/) reads `w` and `p.K` and defines run8() and
//          weights8(). The gated epilogue is the activation's prelude (act_*.wgsl).
// Biases (BIASED, gpt-oss): bias [E][P][N] f32 by expert id, not slot (small, so always resident
//          whatever subset of experts the matrix holds), N = p.outStride outputs a part. Without
//          BIASED the binding is a placeholder no code reads and the results are bit for bit those of
//          a kernel without biases: the branch is gone once the override is fixed.

struct Params {
  s0: u32,
  s1: u32,
  n0: u32,
  n1: u32,
  K: u32,
  outStride: u32,
  topK: u32,
  slots: u32,  // the call's T·k slots: the GEMV's last (the GEMM's rows come from `sorted`)
}

override GATED: bool = true;
override BIASED: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> slotOf: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

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

// v, an output of column `col` of part `part` (0: gate or down, 1: up) of expert e, plus its bias.
fn biased(v: f32, e: u32, part: u32, col: u32) -> f32 {
  if (BIASED) { return v + bias[(e * select(1u, 2u, GATED) + part) * p.outStride + col]; }
  return v;
}
