// moe_gemv.wgsl's lane sums by subgroup shuffles: no workgroup memory and no barrier. Prepended to
// it, with place_subgroup.wgsl (the LANES lanes of a column are an aligned run of LANES numbers),
// when the device has subgroups and LANES is at most its smallest subgroup size (tiles.ts).
enable subgroups;

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
