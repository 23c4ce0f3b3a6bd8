// Multi-head Latent Attention (DeepSeek-V2/V3): causal attention of each head over the latent cache,
// in one pass with an online softmax:
//   lat[t, h] = Σ_{j ≤ pos0+t} softmax_j(scale · qc[t, h] · latent[j]) · latent[j, 0 : C]
// Every head reads the one cache: its keys are whole latent rows (C + R: the compressed kv and the
// rope key), its values their first C (mla_value.wgsl lifts them into the heads' values).
// qc [T, heads, C + R] (mla_query.wgsl), latent [maxSeq, C + R], lat [T, heads, C].
// Dispatch: (heads, T, 1): one workgroup per (head, token); keys in tiles of 64, one score per thread,
// then each thread accumulates its C/64 latent dimensions. Bounds: C + R ≤ D_MAX.

struct Params {
  heads: u32,
  C: u32,
  R: u32,
  scale: f32,
}

const WG = 64u;
const D_MAX = 1024u;
const DPT = D_MAX / WG;  // latent dimensions per thread

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> pos0: u32;
@group(0) @binding(2) var<storage, read> qc: array<f32>;
@group(0) @binding(3) var<storage, read> latent: array<f32>;
@group(0) @binding(4) var<storage, read_write> lat: array<f32>;

var<workgroup> qs: array<f32, D_MAX>;
var<workgroup> scores: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let D = p.C + p.R;
  let keys = pos0 + t + 1u;
  let qBase = (t * p.heads + h) * D;
  for (var d = tid; d < D; d += WG) { qs[d] = qc[qBase + d]; }

  var acc: array<f32, DPT>;
  var m = -3.0e38;  // running max (finite, so exp(m_old − m_new) never makes NaN)
  var l = 0.0;      // running sum of exp(score − m)
  for (var k0 = 0u; k0 < keys; k0 += WG) {
    workgroupBarrier();  // qs written / last tile's scores read
    let j = k0 + tid;
    var s = -3.0e38;
    if (j < keys) {
      s = 0.0;
      for (var d = 0u; d < D; d++) { s += qs[d] * latent[j * D + d]; }
      s *= p.scale;
    }
    scores[tid] = s;
    workgroupBarrier();
    let n = min(WG, keys - k0);
    var tileMax = m;
    for (var i = 0u; i < n; i++) { tileMax = max(tileMax, scores[i]); }
    let alpha = exp(m - tileMax);
    m = tileMax;
    l *= alpha;
    for (var c = 0u; c < DPT; c++) { acc[c] *= alpha; }
    for (var i = 0u; i < n; i++) {
      let e = exp(scores[i] - m);
      l += e;
      let row = (k0 + i) * D;
      for (var c = 0u; c < DPT; c++) {
        let d = tid + c * WG;
        if (d < p.C) { acc[c] += e * latent[row + d]; }
      }
    }
  }
  let out = (t * p.heads + h) * p.C;
  for (var c = 0u; c < DPT; c++) {
    let d = tid + c * WG;
    if (d < p.C) { lat[out + d] = acc[c] / l; }
  }
}
