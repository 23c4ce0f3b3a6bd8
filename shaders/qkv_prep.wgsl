// One head's attention inputs from the fused projection qkv [T, (Hq + 2·Hkv)·D]: + bias, q/k RMSNorm,
// clip, rotary embedding (rotate-half) for a q or k head; + bias and clip for a v head. prepHead()
// hands each value to prepped(t, head, i, value), which the including kernel defines (the prep kernel
// stores q and the cache; the decode attention keeps them in workgroup memory), and reads its p (Hq,
// Hkv, D, maxSeq, eps) and WG, and bindings 1–5 declared here. Heads are numbered q, then k, then v.
// at [T]: each token's (position, KV slot), the decoder's per forward: tokens of several sequences
// share a launch, each at its own position.
// NORM: 0 none; 1 per head over D (Qwen3-MoE); 2 over the whole q or k projection before the head
//       split (OLMoE). norms = [q weights, then k weights] (D each for 1, Hq·D then Hkv·D for 2).
// CLIP > 0: q, k and v clamped to ±CLIP after the projection and the norm, before the rotation
//       (OLMoE's clip_qkv).
// rope: [positions, D/2] of (cos, sin), computed on the CPU in float64. Bounds: D even.
// prepHead() has workgroup barriers: call it in uniform control flow, with a uniform head.

@group(0) @binding(1) var<storage, read> at: array<vec2u>;  // [T] (position, slot)
@group(0) @binding(2) var<storage, read> qkv: array<f32>;  // [T, (Hq + 2·Hkv)·D]
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // [(Hq + 2·Hkv)·D]
@group(0) @binding(4) var<storage, read> norms: array<f32>;
@group(0) @binding(5) var<storage, read> rope: array<vec2f>;

override NORM: u32 = 0u;
override CLIP: f32 = 0.0;

var<workgroup> partial: array<f32, WG>;

fn input(row: u32, i: u32) -> f32 { return qkv[row + i] + bias[i]; }

fn clip(x: f32) -> f32 {
  if (CLIP > 0.0) { return clamp(x, -CLIP, CLIP); }
  return x;
}

// Where element i of token t's key or value of KV head g goes in the cache [slots, Hkv, maxSeq, D]:
// its slot's region, row position mod maxSeq (a sliding window's ring; the identity otherwise).
fn cacheIndex(t: u32, g: u32, i: u32) -> u32 {
  return ((at[t].y * p.Hkv + g) * p.maxSeq + at[t].x % p.maxSeq) * p.D + i;
}

fn prepHead(t: u32, head: u32, tid: u32) {
  let D = p.D;
  let row = t * (p.Hq + 2u * p.Hkv) * D;
  let pos = at[t].x;
  let isQ = head < p.Hq;

  if (head >= p.Hq + p.Hkv) {
    for (var i = tid; i < D; i += WG) { prepped(t, head, i, clip(input(row, head * D + i))); }
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
    workgroupBarrier();  // an earlier call's sums read
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
    prepped(t, head, i, a * cs.x - b * cs.y);
    prepped(t, head, i + half, b * cs.x + a * cs.y);
  }
}
