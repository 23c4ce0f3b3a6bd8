// Embedding lookup: x[t, c] = table[ids[t], c] · scale, from one binding of the table that holds
// rows [n0, n1) (a big vocabulary is split over bindings like any expert matrix).
// Dispatch: (ceil(H/64), T) per table binding; tokens whose row lives in another binding return.

struct Params {
  n0: u32,
  n1: u32,
  H: u32,
  scale: f32,
}

override WEIGHT_F16: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let id = ids[wg.y];
  let c = wg.x * 64u + tid;
  if (id < p.n0 || id >= p.n1 || c >= p.H) { return; }
  let i = (id - p.n0) * p.H + c;
  var v: f32;
  if (WEIGHT_F16) { v = unpack2x16float(table[i >> 1u])[i & 1u]; } else { v = bitcast<f32>(table[i]); }
  x[wg.y * p.H + c] = v * p.scale;
}
