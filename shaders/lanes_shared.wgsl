// moe_gemv.wgsl's lane sums through workgroup memory, on every device: prepended to it when the
// tiles have no `shuffle`, with place_local.wgsl (src/kernels/expertMatmul.ts).

var<workgroup> partial: array<f32, 2u * COLS * LANES>;  // [gate, up][column][lane]

// Sums the LANES partial sums of each column, then emits the workgroup's columns, one a thread.
fn sumLanes(tid: u32, g: array<f32, ROWS_MAX>, u: array<f32, ROWS_MAX>, slot: u32, n0: u32, nc: u32) {
  let lane = tid % LANES;
  let col0 = tid / LANES * ROWS;
  if (SLOTS > 1u) { workgroupBarrier(); }  // the previous slot's sums are read
  for (var j = 0u; j < ROWS; j++) {
    partial[(col0 + j) * LANES + lane] = g[j];
    if (GATED) { partial[(COLS + col0 + j) * LANES + lane] = u[j]; }
  }
  workgroupBarrier();
  for (var c = tid; c < COLS && n0 + c < nc; c += WG) {
    var gs = 0.0;
    var us = 0.0;
    for (var l = 0u; l < LANES; l++) {
      gs += partial[c * LANES + l];
      if (GATED) { us += partial[(COLS + c) * LANES + l]; }
    }
    emit(slot, n0 + c, gs, us);
  }
}
