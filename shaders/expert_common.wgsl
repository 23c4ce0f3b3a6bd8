// Shared by moe_gemm.wgsl and moe_gemv.wgsl (prepended to each by src/kernels/expertMatmul.ts):
// the parameters of one weight binding, the A and weight bindings, weight reads, SiLU.
// Weights: one binding holds experts [e0,e1) × output columns [n0,n1) as [e1-e0][P][n1-n0] rows of
//          K inputs, P = 2 (gate rows, then up rows) when GATED else 1. WEIGHT_BITS picks the storage:
//          32 f32; 16 f16 packed two per u32; 8 / 4 group-wise int8 / int4 (src/moe/quant.ts): a row
//          is ceil(K/32) groups of 32 inputs packed 4 (8) per u32, then one f16 scale per group, two
//          per u32; weight = q · scale, exact in f32.

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
override WEIGHT_BITS: u32 = 32u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;

// Input k of row r of this binding.
fn weight(r: u32, k: u32) -> f32 {
  if (WEIGHT_BITS == 32u) { return bitcast<f32>(w[r * p.K + k]); }
  if (WEIGHT_BITS == 16u) {
    let i = r * p.K + k;
    return unpack2x16float(w[i >> 1u])[i & 1u];
  }
  let groups = (p.K + 31u) / 32u;
  let row = r * (groups * WEIGHT_BITS + (groups + 1u) / 2u);  // u32 words per row: data, then scales
  let g = k / 32u;
  let scale = unpack2x16float(w[row + groups * WEIGHT_BITS + (g >> 1u)])[g & 1u];
  let per = 32u / WEIGHT_BITS;  // values per word; a group's data is WEIGHT_BITS words
  let q = extractBits(bitcast<i32>(w[row + k / per]), (k % per) * WEIGHT_BITS, WEIGHT_BITS);  // sign-extended
  return f32(q) * scale;
}

// Values per u32 word that wordDot() decodes from one load: 4 (q8) or 8 (q4); 1 for f32 and f16.
override PER: u32 = select(1u, 32u / WEIGHT_BITS, WEIGHT_BITS < 16u);

// Σ av[i] · weight(r, k0 + i) over i < n ≤ PER, k0 a multiple of PER: one data word (and one scale,
// a word never straddles a group) for all n values of a quantized row.
fn wordDot(r: u32, k0: u32, n: u32, av: ptr<function, array<f32, 8>>) -> f32 {
  if (WEIGHT_BITS >= 16u) { return (*av)[0] * weight(r, k0); }
  let groups = (p.K + 31u) / 32u;
  let row = r * (groups * WEIGHT_BITS + (groups + 1u) / 2u);
  let g = k0 / 32u;
  let word = bitcast<i32>(w[row + k0 / PER]);
  var acc = 0.0;
  for (var i = 0u; i < n; i++) { acc += (*av)[i] * f32(extractBits(word, i * WEIGHT_BITS, WEIGHT_BITS)); }
  return acc * unpack2x16float(w[row + groups * WEIGHT_BITS + (g >> 1u)])[g & 1u];
}

fn silu(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
