// Multi-head Latent Attention (DeepSeek-V2/V3): each head's attention output lifted out of the latent
// space by its value rows of kv_b_proj (W_UV):
//   out[t, h · V + i] = Σ_c lat[t, h, c] · kv_b[h, nope + i, c]   for i < V
// into out [T, heads · V], the o projection's input. lat [T, heads, C] (mla_attention.wgsl). kv_b:
// rows of C inputs in the weight format's storage (its prelude's weights8(r, k0), K = C), per head
// nope + V rows (W_UK's, then W_UV's); this binding holds heads [h0, h0 + its heads).
// Dispatch: (heads of this binding, T, 1), one workgroup per (head, token), once per binding; each
// thread computes every 64th output. Bounds: C ≤ C_MAX.

struct Params {
  K: u32,
  heads: u32,
  h0: u32,
  nope: u32,
  V: u32,
}

const WG = 64u;
const C_MAX = 768u;  // mla_attention.wgsl's D_MAX

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lat: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> ls: array<f32, C_MAX>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let local = wg.x;
  let h = p.h0 + local;
  let t = wg.y;
  let K = p.K;
  let base = (t * p.heads + h) * K;
  for (var c = tid; c < K; c += WG) { ls[c] = lat[base + c]; }
  workgroupBarrier();
  let rows = local * (p.nope + p.V) + p.nope;  // the head's first value row in this binding
  for (var i = tid; i < p.V; i += WG) {
    var acc = 0.0;
    for (var k0 = 0u; k0 < K; k0 += 8u) {
      let wv = weights8(rows + i, k0);
      for (var j = 0u; j < 8u; j++) { acc += wv[j / 4u][j % 4u] * select(0.0, ls[k0 + j], k0 + j < K); }
    }
    out[(t * p.heads + h) * p.V + i] = acc;
  }
}
