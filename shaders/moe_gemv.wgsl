// Indexed expert GEMV for decode (few tokens): no alignment, the expert of each slot is read
// from the router's ids on the GPU.
// GATED (GEMV 1): a = x[token of the slot], out h[slot, n] = silu(gate) · up.
// !GATED (GEMV 2): a = h[slot], out y[slot, n] = acc · routing weight of the slot.
// Params, bindings 0–2 (p, a, w), weight() and silu(): expert_common.wgsl, prepended.
// Dispatch: (ceil((n1-n0)/RN), T·k, 1) per weight binding: a workgroup computes RN output columns
// of one slot; threads stride K (a word of PER quantized weights at a time, wordDot()) so
// neighbours read neighbouring weights, then RN threads sum the
// 64 partials (one barrier, not a barrier per tree level).

const WG = 64u;
// Columns per workgroup: 8 gate/up pairs or 16 down columns, so 16 accumulators per thread either way.
override RN = select(16u, 8u, GATED);
const RN_MAX = 16u;

@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> routeW: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 2u * RN * WG>;  // [gate, up][column][thread]
var<workgroup> expert: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let slot = wg.y;
  if (tid == 0u) { expert = ids[slot]; }
  let e = workgroupUniformLoad(&expert);
  if (e < p.e0 || e >= p.e1) { return; }

  let K = p.K;
  let nc = p.n1 - p.n0;
  let n0 = wg.x * RN;
  let cols = min(RN, nc - n0);
  let parts = select(1u, 2u, GATED);
  let wRow = (e - p.e0) * parts * nc + n0;  // first gate (or down) row of this workgroup
  let aBase = select(slot, slot / p.topK, GATED) * K;
  var g: array<f32, RN_MAX>;
  var u: array<f32, RN_MAX>;
  // A thread takes PER consecutive inputs (one word of quantized weights per row) at a time.
  var av: array<f32, 8>;
  for (var k0 = tid * PER; k0 < K; k0 += WG * PER) {
    let n = min(PER, K - k0);
    for (var i = 0u; i < n; i++) { av[i] = a[aBase + k0 + i]; }
    for (var j = 0u; j < cols; j++) {
      g[j] += wordDot(wRow + j, k0, n, &av);
      if (GATED) { u[j] += wordDot(wRow + j + nc, k0, n, &av); }
    }
  }
  for (var j = 0u; j < cols; j++) {
    partial[j * WG + tid] = g[j];
    if (GATED) { partial[(RN + j) * WG + tid] = u[j]; }
  }
  workgroupBarrier();
  if (tid < cols) {
    var gs = 0.0;
    var us = 0.0;
    for (var t = 0u; t < WG; t++) {
      gs += partial[tid * WG + t];
      us += partial[(RN + tid) * WG + t];
    }
    let col = p.n0 + n0 + tid;
    if (GATED) {
      out[slot * p.outStride + col] = silu(gs) * us;
    } else {
      out[slot * p.outStride + col] = gs * routeW[slot];
    }
  }
}
