// How moe_gemm.wgsl's threads share the A inputs of a tile: through a workgroup-memory tile, on
// every device (prepended with place_local.wgsl when the tiles have no `shuffle`, src/kernels/expertMatmul.ts).

override AW = BK;  // inputs a chunk: the whole tile, as one staged tile serves every step

// Stored k-major, so each thread reads its 4 rows as one vec4.
var<workgroup> As: array<vec4<half>, BK * BM / 4u>;

// Before the tile's barrier: inputs k0 … k0+BK-1 of every row, in runs of 8.
fn stageA(tid: u32, k0: u32) {
  for (var i = tid; i < BM * RUNS; i += 64u) {
    let r = i / RUNS;
    let c0 = i % RUNS * 8u;
    var v = array<vec4f, 2>();  // zeros for padding rows, explicitly: Dawn on lavapipe kept a loop-body var's last value
    if (rowA[r] != NONE) { v = inputs8(rowA[r] * p.K, k0 + c0); }
    for (var c = 0u; c < 8u; c++) { As[((c0 + c) * BM + r) / 4u][r % 4u] = half(v[c / 4u][c % 4u]); }
  }
}

// Staged already: a chunk needs no share of its own.
fn shareA(lid: vec2u, k: u32) -> vec4f { return vec4f(); }

// Input c of the tile for the thread's 4 rows.
fn rowsA(share: vec4f, lid: vec2u, c: u32, x: u32) -> vec4<half> { return As[c * BM / 4u + lid.y]; }
