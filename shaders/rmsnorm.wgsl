// RMSNorm of T rows of H: out = h · rsqrt(mean(h²) + eps) · weight.
// ADD: the residual update comes first, h += scale · Σ rows (written back), and the norm is of the new
// h; one kernel then closes a sub-block and opens the next. The rows are the sub-block's output as it
// left them (slotSum(), slot_rows.wgsl): one row a token (an attention block: topK 1, !ROUTED), or a
// MoE block's k slots and shared expert, so that its combine needs no launch of its own.
// Dispatch: (T, 1, 1), one workgroup per row. Bounds: any H.

struct Params {
  H: u32,
  eps: f32,
  scale: f32,
  topK: u32,
}

override ADD: bool = false;
const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;
// unread without ADD (any buffer fills them), as ids without ROUTED and sharedY without HAS_SHARED
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> sharedY: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let base = wg.x * p.H;
  var ss = 0.0;
  for (var c = tid; c < p.H; c += WG) {
    var v = h[base + c];
    if (ADD) {
      v += p.scale * slotSum(wg.x, c, p.H);
      h[base + c] = v;
    }
    ss += v * v;
  }
  partial[tid] = ss;
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < WG; i++) { total += partial[i]; }
  let r = inverseSqrt(total / f32(p.H) + p.eps);
  for (var c = tid; c < p.H; c += WG) { out[base + c] = h[base + c] * r * weight[c]; }
}
