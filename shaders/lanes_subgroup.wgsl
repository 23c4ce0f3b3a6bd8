// moe_gemv.wgsl's lane sums by subgroup shuffles: no workgroup memory and no barrier. Prepended to
// it when the device has subgroups and LANES is at most its smallest subgroup size (tiles.ts).
enable subgroups;

var<workgroup> placed: atomic<u32>;

// Numbers the invocations subgroup by subgroup, whatever order the device groups them in, so that
// the LANES lanes of a column (aligned runs of LANES numbers) lie in one subgroup.
fn place(tid: u32) -> u32 {
  let count = subgroupAdd(1u);
  var base = 0u;
  if (subgroupElect()) { base = atomicAdd(&placed, count); }
  return subgroupBroadcastFirst(base) + subgroupExclusiveAdd(1u);
}

// Butterfly sums over the LANES lanes of each column; lane 0 emits it.
fn sumLanes(tid: u32, g: array<f32, ROWS_MAX>, u: array<f32, ROWS_MAX>, slot: u32, n0: u32, nc: u32) {
  let lane = tid % LANES;
  let col0 = tid / LANES * ROWS;
  for (var j = 0u; j < ROWS; j++) {
    var gs = g[j];
    var us = u[j];
    for (var o = LANES / 2u; o > 0u; o >>= 1u) {
      gs += subgroupShuffleXor(gs, o);
      if (GATED) { us += subgroupShuffleXor(us, o); }
    }
    if (lane == 0u && n0 + col0 + j < nc) { emit(slot, n0 + col0 + j, gs, us); }
  }
}
