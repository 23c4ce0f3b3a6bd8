// Causal grouped-query attention over the KV cache, one pass with an online softmax:
// out[t, h] = Σ_j softmax_j(scale · q[t,h] · k[g,j]) · v[g,j],  g = h / (Hq / Hkv), over the keys
// j ≤ pos0 + t, or with a sliding window W (WINDOW > 0) over pos0 + t − W < j ≤ pos0 + t, as
// transformers' sliding-window mask has it.
// WINDOW > 0: the cache is a ring of maxSeq positions, position j in slot j mod maxSeq (the caller keeps
// every key a query reads in it); 0: position j in slot j.
// SINKS: a learned logit per query head, sinks[h], joins the softmax denominator and adds no value
// (gpt-oss); unread without SINKS.
// Dispatch: (Hq, T, 1): one workgroup per (query head, token); keys in tiles of 64, one score per
// thread, then each thread accumulates its D/64 output dimensions. Bounds: D ≤ 256.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  scale: f32,
}

override WINDOW: u32 = 0u;
override SINKS: bool = false;
const WG = 64u;
const D_MAX = 256u;
const DPT = D_MAX / WG;  // output dimensions per thread

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> pos0: u32;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<f32>;
@group(0) @binding(4) var<storage, read> vCache: array<f32>;
@group(0) @binding(5) var<storage, read> sinks: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, D_MAX>;
var<workgroup> scores: array<f32, WG>;

fn slot(j: u32) -> u32 {
  if (WINDOW == 0u) { return j; }
  return j % p.maxSeq;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let D = p.D;
  let last = pos0 + t;
  var first = 0u;
  if (WINDOW > 0u && last >= WINDOW) { first = last + 1u - WINDOW; }
  let keys = last + 1u - first;
  let cache = (h / (p.Hq / p.Hkv)) * p.maxSeq * D;
  let qBase = (t * p.Hq + h) * D;
  for (var d = tid; d < D; d += WG) { qs[d] = q[qBase + d]; }

  var acc: array<f32, DPT>;
  var m = -3.0e38;  // running max (finite, so exp(m_old − m_new) never makes NaN)
  var l = 0.0;      // running sum of exp(score − m)
  if (SINKS) {
    // The sink is one more score in the softmax, with no value: exp(sink − m) in l only.
    m = sinks[h];
    l = 1.0;
  }
  for (var k0 = 0u; k0 < keys; k0 += WG) {
    workgroupBarrier();  // qs written / last tile's scores read
    let j = k0 + tid;
    var s = -3.0e38;
    if (j < keys) {
      s = 0.0;
      let k = cache + slot(first + j) * D;
      for (var d = 0u; d < D; d++) { s += qs[d] * kCache[k + d]; }
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
      let v = cache + slot(first + k0 + i) * D;
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
