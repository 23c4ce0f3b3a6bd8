// Causal grouped-query attention of one (query head, token), one pass with an online softmax:
// out[t, h] = Σ_j softmax_j(scale · q[t,h] · k[s,g,j]) · v[s,g,j],  g = h / (Hq / Hkv), over the keys
// of the token's own KV slot s = at[t].y at positions j ≤ at[t].x (its position), or with a sliding
// window W (WINDOW > 0) over at[t].x − W < j ≤ at[t].x, as transformers' sliding-window mask has it.
// The cache is [slots, Hkv, maxSeq, D]: one region per sequence.
// WINDOW > 0: each region is a ring of maxSeq positions, position j in row j mod maxSeq (the caller
// keeps every key a query reads in it); 0: position j in row j.
// SINKS: a learned logit per query head, sinks[h], joins the softmax denominator and adds no value
// (gpt-oss); unread without SINKS.
// attend() reads the query from qs (the including kernel fills it first), key j through dotKey(base,
// j) (q · k[g, j]) and value j through value(base, j, d), base = g's first element in the cache: the
// including kernel's, with its p (Hq, Hkv, D, maxSeq, scale), at, sinks, out and WG. Keys in tiles
// of WG, one score per thread, then each thread accumulates its D/WG output dimensions. Bounds: D ≤ 256.

override WINDOW: u32 = 0u;
override SINKS: bool = false;
const D_MAX = 256u;
const DPT = D_MAX / WG;  // output dimensions per thread

var<workgroup> qs: array<f32, D_MAX>;
var<workgroup> scores: array<f32, WG>;

fn ring(j: u32) -> u32 {
  if (WINDOW == 0u) { return j; }
  return j % p.maxSeq;
}

fn attend(h: u32, t: u32, tid: u32) {
  let D = p.D;
  let last = at[t].x;
  var first = 0u;
  if (WINDOW > 0u && last >= WINDOW) { first = last + 1u - WINDOW; }
  let keys = last + 1u - first;
  let cache = (at[t].y * p.Hkv + h / (p.Hq / p.Hkv)) * p.maxSeq * D;

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
    if (j < keys) { s = dotKey(cache, first + j) * p.scale; }
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
      for (var c = 0u; c < DPT; c++) {
        let d = tid + c * WG;
        if (d < D) { acc[c] += e * value(cache, first + k0 + i, d); }
      }
    }
  }
  let qBase = (t * p.Hq + h) * D;
  for (var c = 0u; c < DPT; c++) {
    let d = tid + c * WG;
    if (d < D) { out[qBase + d] = acc[c] / l; }
  }
}

// q · the cached key of position j
fn dotCached(base: u32, j: u32) -> f32 {
  var s = 0.0;
  let k = base + ring(j) * p.D;
  for (var d = 0u; d < p.D; d++) { s += qs[d] * kCache[k + d]; }
  return s;
}
