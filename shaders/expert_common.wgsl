// Shared by moe_gemm.wgsl and moe_gemv.wgsl (prepended to each by src/kernels/expertMatmul.ts):
// the parameters of one weight binding, the A and weight bindings, weight reads, SiLU.
// Weights: one binding holds experts [e0,e1) × output columns [n0,n1) as [e1-e0][P][n1-n0] rows of
//          K inputs, P = 2 (gate rows, then up rows) when GATED else 1. WEIGHT_BITS picks the storage:
//          32 f32; 16 f16 packed two per u32; 8 / 4 group-wise int8 / int4 (src/weights/quant.ts): a row
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

// Inputs k0 … k0+7 of row r (k0 a multiple of 8), dequantized; zeros from K on, so a thread or a
// tile may run past a row's end. One data word (q4) or two (q8) and one scale for all eight: a run
// of 8 never straddles a group. Shifting a value to the top bits and back sign-extends it.
fn weights8(r: u32, k0: u32) -> array<vec4f, 2> {
  var v: array<vec4f, 2>;
  let K = p.K;
  if (k0 >= K) { return v; }
  if (WEIGHT_BITS < 16u) {
    let groups = (K + 31u) / 32u;
    let row = r * (groups * WEIGHT_BITS + (groups + 1u) / 2u);
    let g = k0 / 32u;
    let scale = unpack2x16float(w[row + groups * WEIGHT_BITS + (g >> 1u)])[g & 1u];
    let i = row + k0 * WEIGHT_BITS / 32u;
    if (WEIGHT_BITS == 4u) {
      let word = vec4u(w[i]);
      v[0] = vec4f(bitcast<vec4i>(word << vec4u(28u, 24u, 20u, 16u)) >> vec4u(28u)) * scale;
      v[1] = vec4f(bitcast<vec4i>(word << vec4u(12u, 8u, 4u, 0u)) >> vec4u(28u)) * scale;
    } else {
      let shifts = vec4u(24u, 16u, 8u, 0u);
      v[0] = vec4f(bitcast<vec4i>(vec4u(w[i]) << shifts) >> vec4u(24u)) * scale;
      v[1] = vec4f(bitcast<vec4i>(vec4u(w[i + 1u]) << shifts) >> vec4u(24u)) * scale;
    }
    return v;
  }
  let e = r * K + k0;
  if (k0 + 8u <= K) {
    if (WEIGHT_BITS == 32u) {
      v[0] = bitcast<vec4f>(vec4u(w[e], w[e + 1u], w[e + 2u], w[e + 3u]));
      v[1] = bitcast<vec4f>(vec4u(w[e + 4u], w[e + 5u], w[e + 6u], w[e + 7u]));
      return v;
    }
    if ((e & 1u) == 0u) {
      let j = e >> 1u;
      v[0] = vec4f(unpack2x16float(w[j]), unpack2x16float(w[j + 1u]));
      v[1] = vec4f(unpack2x16float(w[j + 2u]), unpack2x16float(w[j + 3u]));
      return v;
    }
  }
  for (var i = 0u; i < 8u; i++) { v[i / 4u][i % 4u] = select(0.0, weight(r, k0 + i), k0 + i < K); }
  return v;
}

// Inputs k0 … k0+7 of A row `base` (k0 a multiple of 8); zeros from K on.
fn inputs8(base: u32, k0: u32) -> array<vec4f, 2> {
  var v: array<vec4f, 2>;
  for (var i = 0u; i < 8u; i++) { v[i / 4u][i % 4u] = select(0.0, a[base + k0 + i], k0 + i < p.K); }
  return v;
}

fn silu(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
