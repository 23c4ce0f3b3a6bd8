// RMSNorm of T rows of H: out = h · rsqrt(mean(h²) + eps) · weight.
// ADD: the residual update comes first, h += scale · y (written back), and the norm is of the new h;
// one kernel then closes a sub-block and opens the next.
// Dispatch: (T, 1, 1), one workgroup per row. Bounds: any H.

struct Params {
  H: u32,
  eps: f32,
  scale: f32,
}

override ADD: bool = false;
const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;  // unread without ADD (any buffer fills it)
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let base = wg.x * p.H;
  var ss = 0.0;
  for (var c = tid; c < p.H; c += WG) {
    var v = h[base + c];
    if (ADD) {
      v += p.scale * y[base + c];
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
