// Embedding lookup: x[t, c] = table[ids[t], c] · scale, from one binding of the table that holds
// rows [n0, n1) (a big vocabulary is split over bindings like any expert matrix). The table's storage
// is its weight format's: weight(r, k) comes from the format's prelude (weight_*.wgsl), joined before.
// Dispatch: (ceil(K/64), T) per table binding; tokens whose row lives in another binding return.

struct Params {
  n0: u32,
  n1: u32,
  K: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let id = ids[wg.y];
  let c = wg.x * 64u + tid;
  if (id < p.n0 || id >= p.n1 || c >= p.K) { return; }
  x[wg.y * p.K + c] = weight(id - p.n0, c) * p.scale;
}
