// Bias: y[t, i] += bias[i] for T rows of N, in place (an o projection's bias after its GEMM).
// Dispatch: (ceil(N / WG), T, 1).

struct Params {
  N: u32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.N) { return; }
  y[gid.y * p.N + i] += bias[i];
}
