// Multi-head Latent Attention (DeepSeek-V2/V3): each head's query in the latent space, the
// weight-absorbed form. For head h of token t (position at[t].x):
//   qc[t, h, c]     = Σ_n q[t, h, n] · kv_b[h, n, c]   for c < C   (n < nope: W_UK, the key rows of kv_b_proj)
//   qc[t, h, C : ]  = rope(q[t, h, nope : nope + R])               (mla_rope.wgsl)
// so that qc[t, h] · latent[j] = q_nope · k_nope[j] + q_rope · k_rope[j], with no k_nope ever made.
// q: token t's row at t · qStride, head h at h · (nope + R) in it. kv_b: rows of C inputs in the weight
// format's storage (its prelude's weight(r, k), K = C), per head nope + V rows (W_UK's, then W_UV's);
// this binding holds heads [h0, h0 + its heads). qc: [T, heads, C + R].
// Dispatch: (heads of this binding, T, 1), one workgroup per (head, token), once per binding.
// Bounds: nope ≤ NOPE_MAX, R even.

struct Params {
  K: u32,
  heads: u32,
  h0: u32,
  nope: u32,
  R: u32,
  V: u32,
  qStride: u32,
}

const WG = 64u;
const NOPE_MAX = 512u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> at: array<vec2u>;  // [T] (position, slot)
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2f>;
@group(0) @binding(5) var<storage, read_write> qc: array<f32>;

var<workgroup> qs: array<f32, NOPE_MAX>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let local = wg.x;
  let h = p.h0 + local;
  let t = wg.y;
  let qBase = t * p.qStride + h * (p.nope + p.R);
  for (var n = tid; n < p.nope; n += WG) { qs[n] = q[qBase + n]; }
  workgroupBarrier();
  let out = (t * p.heads + h) * (p.K + p.R);
  let rows = local * (p.nope + p.V);  // the head's first row in this binding
  // Neighbouring threads read neighbouring inputs of one row.
  for (var c = tid; c < p.K; c += WG) {
    var acc = 0.0;
    for (var n = 0u; n < p.nope; n++) { acc += qs[n] * weight(rows + n, c); }
    qc[out + c] = acc;
  }
  let half = p.R / 2u;
  let pos = at[t].x;
  let r0 = qBase + p.nope;
  for (var i = tid; i < half; i += WG) {
    let j = ropePair(i, p.R);
    let r = rotate(vec2f(q[r0 + j.x], q[r0 + j.y]), rope[pos * half + i]);
    qc[out + p.K + j.x] = r.x;
    qc[out + p.K + j.y] = r.y;
  }
}
