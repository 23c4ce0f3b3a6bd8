// Multi-head Latent Attention (DeepSeek-V2/V3), after the first projection
// a [T, A] = x · [q_proj or q_a_proj ; kv_a_proj_with_mqa]ᵀ, A = Q + C + R (Q: heads · (nope + R), or
// q_lora_rank; C: kv_lora_rank; R: qk_rope_head_dim), for token t at position pos = at[t].x in KV slot
// s = at[t].y (latent[pos] below: that row of slot s's region):
//   latent[pos, 0 : C]     = RMSNorm(a[t, Q : Q + C]) · norms[0 : C]   (kv_a_layernorm: the compressed kv)
//   latent[pos, C : C + R] = rope(a[t, Q + C : A])                    (the key's rope part, all heads')
//   and, from workgroups x = 1 (with q_lora_rank), qa[t] = RMSNorm(a[t, 0 : Q]) · norms[C : C + Q]
//   (q_a_layernorm), for q_b_proj.
// The cache latent [slots, maxSeq, C + R] is all MLA keeps per position. rope: mla_rope.wgsl.
// Dispatch: (1, or 2 with q_lora_rank, T): one workgroup per token and side. Bounds: R even.

struct Params {
  A: u32,
  Q: u32,
  C: u32,
  R: u32,
  maxSeq: u32,
  eps: f32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> at: array<vec2u>;  // [T] (position, slot)
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2f>;
@group(0) @binding(5) var<storage, read_write> latent: array<f32>;
@group(0) @binding(6) var<storage, read_write> qa: array<f32>;

var<workgroup> partial: array<f32, WG>;

// 1 / RMS of a[base : base + n] (eps inside the root).
fn rmsScale(base: u32, n: u32, tid: u32) -> f32 {
  var ss = 0.0;
  for (var i = tid; i < n; i += WG) {
    let v = a[base + i];
    ss += v * v;
  }
  partial[tid] = ss;
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < WG; i++) { total += partial[i]; }
  return inverseSqrt(total / f32(n) + p.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.y;
  let row = t * p.A;
  if (wg.x == 1u) {
    let s = rmsScale(row, p.Q, tid);
    for (var i = tid; i < p.Q; i += WG) { qa[t * p.Q + i] = a[row + i] * s * norms[p.C + i]; }
    return;
  }
  let pos = at[t].x;
  let out = (at[t].y * p.maxSeq + pos) * (p.C + p.R);
  let kv = row + p.Q;
  let s = rmsScale(kv, p.C, tid);
  for (var i = tid; i < p.C; i += WG) { latent[out + i] = a[kv + i] * s * norms[i]; }
  let half = p.R / 2u;
  let k = kv + p.C;
  for (var i = tid; i < half; i += WG) {
    let j = ropePair(i, p.R);
    let r = rotate(vec2f(a[k + j.x], a[k + j.y]), rope[pos * half + i]);
    latent[out + p.C + j.x] = r.x;
    latent[out + p.C + j.y] = r.y;
  }
}
