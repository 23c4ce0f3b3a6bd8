// From the fused projection qkv [T, (Hq + 2·Hkv)·D] to attention inputs (prepHead(), qkv_prep.wgsl:
// bias, q/k RMSNorm, clip, rotary embedding): q → q [T, Hq, D] and k, v → the KV cache [slots, Hkv,
// maxSeq, D] in token t's slot s = at[t].y at its position j = at[t].x, row j mod maxSeq (a sliding
// window's ring; the identity otherwise). A forward of one token per sequence does this inside its
// attention instead (attention_decode.wgsl).
// Dispatch: (Hq + 2·Hkv, T, 1): one workgroup per (head, token). Bounds: D even.

struct Params {
  Hq: u32,
  Hkv: u32,
  D: u32,
  maxSeq: u32,
  eps: f32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
// bindings 1–5 (at, qkv, bias, norms, rope): qkv_prep.wgsl
@group(0) @binding(6) var<storage, read_write> q: array<f32>;
@group(0) @binding(7) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(8) var<storage, read_write> vCache: array<f32>;

fn prepped(t: u32, head: u32, i: u32, v: f32) {
  if (head < p.Hq) {
    q[(t * p.Hq + head) * p.D + i] = v;
    return;
  }
  let kv = head - p.Hq;  // k heads, then v heads
  if (kv < p.Hkv) {
    kCache[cacheIndex(t, kv, i)] = v;
  } else {
    vCache[cacheIndex(t, kv - p.Hkv, i)] = v;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  prepHead(wg.y, wg.x, tid);
}
