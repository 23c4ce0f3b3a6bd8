// Indexed expert GEMV for decode (few tokens): no alignment, the expert of each slot is read
// from the router's ids on the GPU.
// GATED (GEMV 1): a = x[token of the slot], out h[slot, n] = silu(gate) · up.
// !GATED (GEMV 2): a = h[slot], out y[slot, n] = acc · routing weight of the slot.
// Params, bindings 0–2 (p, a, w), weight() and silu(): expert_common.wgsl, prepended.
// Dispatch: (ceil((n1-n0)/RN), T·k, 1) per weight binding: a workgroup reduces RN output columns
// of one slot over K, threads striding K so consecutive threads read consecutive weights.

const WG = 64u;
const RN = 4u;

@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> routeW: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<vec4f, 2u * WG>;  // gate sums, then up sums, RN = 4 columns each
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
  let parts = select(1u, 2u, GATED);
  let wBase = (e - p.e0) * parts * nc * K;
  let aBase = select(slot, slot / p.topK, GATED) * K;
  var g = vec4f(0.0);
  var u = vec4f(0.0);
  for (var k = tid; k < K; k += WG) {
    let av = a[aBase + k];
    for (var j = 0u; j < RN; j++) {
      let n = n0 + j;
      if (n >= nc) { break; }
      g[j] += av * weight(wBase + n * K + k);
      if (GATED) { u[j] += av * weight(wBase + (nc + n) * K + k); }
    }
  }
  red[tid] = g;
  red[WG + tid] = u;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) {
      red[tid] += red[tid + s];
      red[WG + tid] += red[WG + tid + s];
    }
    workgroupBarrier();
  }
  if (tid < RN && n0 + tid < nc) {
    let col = p.n0 + n0 + tid;
    let gs = red[0][tid];
    if (GATED) {
      out[slot * p.outStride + col] = silu(gs) * red[WG][tid];
    } else {
      out[slot * p.outStride + col] = gs * routeW[slot];
    }
  }
}
