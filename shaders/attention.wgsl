// Attention over the KV cache (attend(), attention_core.wgsl) for T queries q [T, Hq, D] → out
// [T, Hq, D], reading every key and value from the cache [slots, Hkv, maxSeq, D], which the prep
// kernel (attention_prep.wgsl) has filled for this call's tokens, each at its (position, slot) at[t].
// Dispatch: (Hq, T, 1): one workgroup per (query head, token). Bounds: D ≤ 256.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  scale: f32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> at: array<vec2u>;  // [T] (position, slot)
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<f32>;
@group(0) @binding(4) var<storage, read> vCache: array<f32>;
@group(0) @binding(5) var<storage, read> sinks: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn dotKey(base: u32, j: u32) -> f32 { return dotCached(base, j); }

fn value(base: u32, j: u32, d: u32) -> f32 { return vCache[base + ring(j) * p.D + d]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let qBase = (wg.y * p.Hq + wg.x) * p.D;
  for (var d = tid; d < p.D; d += WG) { qs[d] = q[qBase + d]; }
  attend(wg.x, wg.y, tid);
}
