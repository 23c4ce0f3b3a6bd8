// A decode step's attention, preparation included: one token at position pos0, from the fused
// projection qkv [1, (Hq + 2·Hkv)·D] to out [1, Hq, D] in one launch. Each workgroup prepares its
// query head and its group's key and value (prepHead(), qkv_prep.wgsl) into workgroup memory, the
// group's first query head also writes them into the cache [Hkv, maxSeq, D] at slot pos0 mod maxSeq,
// and it attends (attend(), attention_core.wgsl) over the cached keys before pos0 and its own key at
// pos0. No workgroup reads what another writes: the cache slot written is never one read (the ring
// keeps more than the window), so the launch needs no ordering between workgroups. The same
// arithmetic as the prep kernel then the attention kernel, value for value.
// Dispatch: (Hq, 1, 1): one workgroup per query head. Bounds: D even, D ≤ 256.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  eps: f32,
  scale: f32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
// bindings 1–5 (pos0, qkv, bias, norms, rope): qkv_prep.wgsl
@group(0) @binding(6) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(7) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(8) var<storage, read> sinks: array<f32>;
@group(0) @binding(9) var<storage, read_write> out: array<f32>;

var<workgroup> kNew: array<f32, D_MAX>;
var<workgroup> vNew: array<f32, D_MAX>;
var<private> writes: bool;  // this workgroup writes its group's key and value into the cache

fn prepped(t: u32, head: u32, i: u32, v: f32) {
  if (head < p.Hq) {
    qs[i] = v;
    return;
  }
  let slot = pos0 % p.maxSeq;
  let kv = head - p.Hq;  // k heads, then v heads
  if (kv < p.Hkv) {
    kNew[i] = v;
    if (writes) { kCache[(kv * p.maxSeq + slot) * p.D + i] = v; }
  } else {
    vNew[i] = v;
    if (writes) { vCache[((kv - p.Hkv) * p.maxSeq + slot) * p.D + i] = v; }
  }
}

fn dotKey(base: u32, j: u32) -> f32 {
  if (j < pos0) { return dotCached(base, j); }
  var s = 0.0;
  for (var d = 0u; d < p.D; d++) { s += qs[d] * kNew[d]; }
  return s;
}

fn value(base: u32, j: u32, d: u32) -> f32 {
  if (j < pos0) { return vCache[base + slot(j) * p.D + d]; }
  return vNew[d];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let group = p.Hq / p.Hkv;
  let g = h / group;
  writes = h % group == 0u;
  prepHead(0u, h, tid);
  prepHead(0u, p.Hq + g, tid);
  prepHead(0u, p.Hq + p.Hkv + g, tid);
  attend(h, 0u, tid);  // its first barrier: qs, kNew and vNew written
}
