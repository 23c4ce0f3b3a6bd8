// How moe_gemm.wgsl's threads share the A inputs of a tile: by subgroup shuffles, with no
// workgroup tile. The TX threads of a row group hold the inputs of their 4 rows in chunks of AW,
// one input a thread, and pass them round at each step. Prepended with place_subgroup.wgsl, which
// puts each aligned run of AW threads in one subgroup, where the device has subgroups (tiles.ts).
enable subgroups;

override AW: u32 = 8u;  // inputs a chunk: a power of two at most TX, BK and the smallest subgroup

fn stageA(tid: u32, k0: u32) {}

// This thread's share of the chunk from input k: input k + lid.x % AW of its 4 rows.
fn shareA(lid: vec2u, k: u32) -> vec4f {
  let kx = k + lid.x % AW;
  var v: vec4f;
  for (var i = 0u; i < 4u; i++) {
    let r = rowA[lid.y * 4u + i];
    if (r != NONE && kx < p.K) { v[i] = a[r * p.K + kx]; }
  }
  return v;
}

// Input x of the chunk for the thread's 4 rows: the share of the run's x-th thread.
fn rowsA(share: vec4f, lid: vec2u, c: u32, x: u32) -> vec4<half> {
  return vec4<half>(subgroupShuffle(share, subgroupLane - lid.x % AW + x));
}
