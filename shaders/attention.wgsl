// Causal grouped-query attention over the KV cache, one pass with an online softmax:
// out[t, h] = Σ_{j ≤ pos0+t} softmax_j(scale · q[t,h] · k[g,j]) · v[g,j],  g = h / (Hq / Hkv).
// Dispatch: (Hq, T, 1): one workgroup per (query head, token); keys in tiles of 64, one score per
// thread, then each thread accumulates its D/64 output dimensions. Bounds: D ≤ 256.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  scale: f32,
}

const WG = 64u;
const D_MAX = 256u;
const DPT = D_MAX / WG;  // output dimensions per thread

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> pos0: u32;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<f32>;
@group(0) @binding(4) var<storage, read> vCache: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, D_MAX>;
var<workgroup> scores: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let D = p.D;
  let keys = pos0 + t + 1u;
  let cache = (h / (p.Hq / p.Hkv)) * p.maxSeq * D;
  let qBase = (t * p.Hq + h) * D;
  for (var d = tid; d < D; d += WG) { qs[d] = q[qBase + d]; }

  var acc: array<f32, DPT>;
  var m = -3.0e38;  // running max (finite, so exp(m_old − m_new) never makes NaN)
  var l = 0.0;      // running sum of exp(score − m)
  for (var k0 = 0u; k0 < keys; k0 += WG) {
    workgroupBarrier();  // qs written / last tile's scores read
    let j = k0 + tid;
    var s = -3.0e38;
    if (j < keys) {
      s = 0.0;
      for (var d = 0u; d < D; d++) { s += qs[d] * kCache[cache + j * D + d]; }
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
      let v = cache + (k0 + i) * D;
      for (var c = 0u; c < DPT; c++) {
        let d = tid + c * WG;
        if (d < D) { acc[c] += e * vCache[v + d]; }
      }
    }
  }
  for (var c = 0u; c < DPT; c++) {
    let d = tid + c * WG;
    if (d < D) { out[qBase + d] = acc[c] / l; }
  }
}
