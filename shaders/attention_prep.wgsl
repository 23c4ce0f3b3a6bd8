// From the fused projection qkv [T, (Hq + 2·Hkv)·D] to attention inputs: + bias, q/k RMSNorm,
// rotary embedding (rotate-half), then q → q [T, Hq, D] and k, v → the KV cache [Hkv, maxSeq, D]
// at positions pos0 + t, in slot (pos0 + t) mod maxSeq (a sliding window's ring; the identity otherwise).
// NORM: 0 none; 1 per head over D (Qwen3-MoE); 2 over the whole q or k projection before the head
//       split (OLMoE). norms = [q weights, then k weights] (D each for 1, Hq·D then Hkv·D for 2).
// CLIP > 0: q, k and v clamped to ±CLIP after the projection and the norm, before the rotation
//       (OLMoE's clip_qkv).
// rope: [positions, D/2] of (cos, sin), computed on the CPU in float64.
// Dispatch: (Hq + 2·Hkv, T, 1): one workgroup per (head, token). Bounds: D even.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  eps: f32,
}

override NORM: u32 = 0u;
override CLIP: f32 = 0.0;
const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> pos0: u32;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> norms: array<f32>;
@group(0) @binding(5) var<storage, read> rope: array<vec2f>;
@group(0) @binding(6) var<storage, read_write> q: array<f32>;
@group(0) @binding(7) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(8) var<storage, read_write> vCache: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn input(row: u32, i: u32) -> f32 { return qkv[row + i] + bias[i]; }

fn clip(x: f32) -> f32 {
  if (CLIP > 0.0) { return clamp(x, -CLIP, CLIP); }
  return x;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let head = wg.x;
  let t = wg.y;
  let D = p.D;
  let row = t * (p.Hq + 2u * p.Hkv) * D;
  let pos = pos0 + t;
  let slot = pos % p.maxSeq;
  let isQ = head < p.Hq;
  let isV = head >= p.Hq + p.Hkv;
  let kvHead = select(head - p.Hq, head - p.Hq - p.Hkv, isV);

  if (isV) {
    for (var i = tid; i < D; i += WG) { vCache[(kvHead * p.maxSeq + slot) * D + i] = clip(input(row, head * D + i)); }
    return;
  }

  // The span the norm reduces over: this head, or all heads of q or of k.
  var span = vec2u(head * D, head * D + D);
  if (NORM == 2u) { span = select(vec2u(p.Hq * D, (p.Hq + p.Hkv) * D), vec2u(0u, p.Hq * D), isQ); }
  var scale = 1.0;
  if (NORM != 0u) {
    var ss = 0.0;
    for (var i = span.x + tid; i < span.y; i += WG) {
      let v = input(row, i);
      ss += v * v;
    }
    partial[tid] = ss;
    workgroupBarrier();
    var total = 0.0;
    for (var i = 0u; i < WG; i++) { total += partial[i]; }
    scale = inverseSqrt(total / f32(span.y - span.x) + p.eps);
  }
  // Norm weights of this head: per head, q's then k's D weights; over the projection, head·D on
  // (k heads are numbered after the q heads, and k's weights follow q's).
  let wBase = select(select(D, 0u, isQ), head * D, NORM == 2u);

  let half = D / 2u;
  for (var i = tid; i < half; i += WG) {
    var a = input(row, head * D + i) * scale;
    var b = input(row, head * D + i + half) * scale;
    if (NORM != 0u) {
      a *= norms[wBase + i];
      b *= norms[wBase + i + half];
    }
    a = clip(a);
    b = clip(b);
    let cs = rope[pos * half + i];
    let ra = a * cs.x - b * cs.y;
    let rb = b * cs.x + a * cs.y;
    if (isQ) {
      let o = (t * p.Hq + head) * D + i;
      q[o] = ra;
      q[o + half] = rb;
    } else {
      let o = (kvHead * p.maxSeq + slot) * D + i;
      kCache[o] = ra;
      kCache[o + half] = rb;
    }
  }
}
