// Multi-head Latent Attention (DeepSeek-V2/V3): causal attention of the heads over the one latent cache
// they share, in one pass with an online softmax per head:
//   lat[t, h] = Σ_{j ≤ at[t].x} softmax_j(scale · qc[t, h] · latent[s, j]) · latent[s, j, 0 : C]
// over the positions of token t's own KV slot s = at[t].y up to its position at[t].x
// (keys: whole latent rows, C + R: the compressed kv and the rope key; values: their first C, which
// mla_value.wgsl lifts into the heads' values). A workgroup takes HG heads of a token, so each latent
// row is read once for all of them: the cache is the same for every head.
// qc [T, heads, C + R] (mla_query.wgsl), latent [slots, maxSeq, C + R], lat [T, heads, C].
// Dispatch: (ceil(heads / HG), T, 1). Keys in tiles of 64, a thread scoring one key for the HG heads,
// then accumulating its C/64 latent dimensions for each. Bounds: C + R ≤ D_MAX.

struct Params {
  heads: u32,
  C: u32,
  R: u32,
  maxSeq: u32,
  scale: f32,
}

const WG = 64u;
const HG = 4u;              // heads a workgroup
const D_MAX = 768u;         // C + R (DeepSeek's: 512 + 64); HG queries of it fill 12 KiB
const DPT = D_MAX / WG;     // latent dimensions per thread
const NONE = -3.0e38;       // finite, so exp(m_old − m_new) never makes NaN

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> at: array<vec2u>;  // [T] (position, slot)
@group(0) @binding(2) var<storage, read> qc: array<f32>;
@group(0) @binding(3) var<storage, read> latent: array<f32>;
@group(0) @binding(4) var<storage, read_write> lat: array<f32>;

var<workgroup> qs: array<f32, HG * D_MAX>;    // the heads' queries, back to back (D each)
var<workgroup> scores: array<f32, HG * WG>;   // a tile's scores, WG a head

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h0 = wg.x * HG;
  let heads = min(HG, p.heads - h0);  // the last workgroup may have fewer; the rest compute unread values
  let t = wg.y;
  let D = p.C + p.R;
  let keys = at[t].x + 1u;
  let region = at[t].y * p.maxSeq * D;
  let qBase = (t * p.heads + h0) * D;
  for (var i = tid; i < heads * D; i += WG) { qs[i] = qc[qBase + i]; }

  var acc: array<f32, HG * DPT>;  // acc[h · DPT + c]: head h, dimension tid + c · WG
  var m: array<f32, HG>;          // running max of each head's scores
  var l: array<f32, HG>;          // running sum of exp(score − m)
  for (var h = 0u; h < HG; h++) { m[h] = NONE; }
  for (var k0 = 0u; k0 < keys; k0 += WG) {
    workgroupBarrier();  // qs written / last tile's scores read
    let j = k0 + tid;
    var s = array<f32, HG>();  // initialised here, each tile (not once, where a compiler hoists it)
    if (j < keys) {
      for (var d = 0u; d < D; d++) {
        let x = latent[region + j * D + d];
        for (var h = 0u; h < HG; h++) { s[h] += qs[h * D + d] * x; }
      }
    }
    for (var h = 0u; h < HG; h++) { scores[h * WG + tid] = select(NONE, s[h] * p.scale, j < keys); }
    workgroupBarrier();
    let n = min(WG, keys - k0);
    for (var h = 0u; h < HG; h++) {
      var tileMax = m[h];
      for (var i = 0u; i < n; i++) { tileMax = max(tileMax, scores[h * WG + i]); }
      let alpha = exp(m[h] - tileMax);
      m[h] = tileMax;
      l[h] *= alpha;
      for (var c = 0u; c < DPT; c++) { acc[h * DPT + c] *= alpha; }
    }
    for (var i = 0u; i < n; i++) {
      var e: array<f32, HG>;
      for (var h = 0u; h < HG; h++) {
        e[h] = exp(scores[h * WG + i] - m[h]);
        l[h] += e[h];
      }
      let row = region + (k0 + i) * D;
      for (var c = 0u; c < DPT; c++) {
        let d = tid + c * WG;
        if (d < p.C) {
          let x = latent[row + d];
          for (var h = 0u; h < HG; h++) { acc[h * DPT + c] += e[h] * x; }
        }
      }
    }
  }
  for (var h = 0u; h < heads; h++) {
    let out = (t * p.heads + h0 + h) * p.C;
    for (var c = 0u; c < DPT; c++) {
      let d = tid + c * WG;
      if (d < p.C) { lat[out + d] = acc[h * DPT + c] / l[h]; }
    }
  }
}
