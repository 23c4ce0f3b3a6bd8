// Combine: y[t, h] = Σ_j ys[t·k + j, h] + shared[t, h] over the slots with an expert (slotSum(),
// slot_rows.wgsl). The down GEMM already applied each slot's routing weight (and the shared expert's
// sigmoid gate), so this is a plain gather-and-sum: each output element is written by one thread, no
// float atomics. The decoder does not launch it: its next RMSNorm sums the rows (rmsnorm.wgsl).
// Layout: ys [T·k, H], ids [T·k] (NONE: an empty slot, its row of ys never written), shared [T, H]
// (read only when HAS_SHARED) → y [T, H].
// Dispatch: (ceil(H / WG), T, 1).

struct Params {
  hidden: u32,
  topK: u32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ys: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> sharedY: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let h = gid.x;
  let t = gid.y;
  if (h >= p.hidden) { return; }
  y[t * p.hidden + h] = slotSum(t, h, p.hidden);
}
