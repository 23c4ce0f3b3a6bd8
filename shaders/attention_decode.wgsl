// A forward whose tokens are each one sequence's next token (a decode step of one or several
// sequences), preparation included: token t at its position at[t].x in its KV slot at[t].y, from the
// fused projection qkv [T, (Hq + 2·Hkv)·D] to out [T, Hq, D] in one launch. Each workgroup prepares its
// query head and its group's key and value (prepHead(), qkv_prep.wgsl) into workgroup memory, the
// group's first query head also writes them into the cache [slots, Hkv, maxSeq, D] in its slot's region
// at row at[t].x mod maxSeq, and it attends (attend(), attention_core.wgsl) over the cached keys before
// its position and its own key at it. No workgroup reads what another writes: every token is in a
// different slot (the caller's rule: one token per sequence), so a workgroup reads only its own slot's
// region, where the row written is never one read (the ring keeps more than the window); the launch
// needs no ordering between workgroups. The same arithmetic as the prep kernel then the attention
// kernel, value for value.
// Dispatch: (Hq, T, 1): one workgroup per (query head, token). Bounds: D even, D ≤ 256.

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
// bindings 1–5 (at, qkv, bias, norms, rope): qkv_prep.wgsl
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
  let kv = head - p.Hq;  // k heads, then v heads
  if (kv < p.Hkv) {
    kNew[i] = v;
    if (writes) { kCache[cacheIndex(t, kv, i)] = v; }
  } else {
    vNew[i] = v;
    if (writes) { vCache[cacheIndex(t, kv - p.Hkv, i)] = v; }
  }
}

var<private> pos: u32;  // the token's position: its own key and value, in workgroup memory

fn dotKey(base: u32, j: u32) -> f32 {
  if (j < pos) { return dotCached(base, j); }
  var s = 0.0;
  for (var d = 0u; d < p.D; d++) { s += qs[d] * kNew[d]; }
  return s;
}

fn value(base: u32, j: u32, d: u32) -> f32 {
  if (j < pos) { return vCache[base + ring(j) * p.D + d]; }
  return vNew[d];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let t = wg.y;
  let group = p.Hq / p.Hkv;
  let g = h / group;
  writes = h % group == 0u;
  pos = at[t].x;
  prepHead(t, h, tid);
  prepHead(t, p.Hq + g, tid);
  prepHead(t, p.Hq + p.Hkv + g, tid);
  attend(h, t, tid);  // its first barrier: qs, kNew and vNew written
}
