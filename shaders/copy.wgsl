// Copy kernel: dst = src, 16 bytes per thread. The benchmark's memory-bandwidth ceiling.
// Dispatch: (min(n4 / WG, 65535), ceil(n4 / WG / 65535), 1) for n4 vec4 elements.

struct Params {
  count: u32,  // vec4 elements
}

const WG = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.count) { dst[i] = src[i]; }
}
