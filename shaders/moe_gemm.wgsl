// Grouped expert GEMM over the expert-sorted rows made by align.wgsl (prefill path).
// GATED (GEMM 1): A row = x[token of the slot], B = the expert's gate and up rows,
//                 out h[sorted row, n] = gated(gate, up): the activation prelude (act_*.wgsl).
// !GATED (GEMM 2): A row = h[sorted row], B = the expert's down rows,
//                 out y[slot, n] = acc · routing weight of the slot.
// BIASED: the expert's biases join gate, up and acc before the activation or the routing weight.
// Params, bindings 0–4 (p, a, w, slotOf, bias), slotIn(), inputs8() and biased(): expert_common.wgsl; weights8():
// the weight format's prelude; gated(): the activation's prelude (src/kernels/expertMatmul.ts joins
// them).
// Tile: BM rows × BN = 1024/BM columns, 64 threads of 4 × 4 outputs. BM (8, 16 or 32) follows the
//       rows per expert: small batches waste less padding, large ones reuse each weight more.
//       Chosen per device (src/kernels/tiles.ts): BK inputs per tile (an override), and by
//       preludes the tile element `half` (f32, or f16 with products in f16 and sums in f32:
//       half_f32/half_f16.wgsl) and how threads share the A inputs (a workgroup tile or subgroup
//       shuffles: inputs_shared/inputs_subgroup.wgsl, with place_local/place_subgroup.wgsl, which
//       number the threads).
//       The weights' tile is always in workgroup memory: dequantized once for every row group.
// Dispatch: (ceil((n1-n0)/BN), maxBlocks, 1) per weight binding; a block past the end, or whose
//           expert this binding does not hold, exits at once. Bounds: K, n1-n0 any size (edges masked).

override BM: u32 = 32u;  // rows per block: align.wgsl pads each expert to this
override BN = 1024u / BM;
override TX = BN / 4u;    // threads across columns; BM / 4 across rows
override BK: u32 = 16u;   // k per tile, a multiple of 8; tiles.ts keeps them in workgroup memory
override RUNS = BK / 8u;              // runs of 8 inputs per tile row (weights8, inputs8)
const TM = 4u;            // each thread computes TM × TN outputs (TN = 4: one vec4)
const TN = 4u;

@group(0) @binding(5) var<storage, read> sorted: array<u32>;
@group(0) @binding(6) var<storage, read> blockExpert: array<u32>;
@group(0) @binding(7) var<storage, read> routeW: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

// Stored k-major, so each thread reads its TN columns as one vec4.
var<workgroup> Bs: array<vec4<half>, 2u * BK * BN / 4u>;  // gate tile, then up tile when GATED
var<workgroup> rowA: array<u32, BM>;          // A row of each tile row, NONE for padding
var<workgroup> held: u32;                    // slotIn() of the block's expert

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) index: u32) {
  let tid = place(index);
  let lid = vec2u(tid % TX, tid / TX);
  let rowBase = wg.y * BM;
  let expert = blockExpert[wg.y];
  if (tid == 0u) { held = slotIn(expert); }
  let es = workgroupUniformLoad(&held);  // the expert's slot in this binding
  if (es == NONE) { return; }
  for (var i = tid; i < BM; i += 64u) {
    let slot = sorted[rowBase + i];
    var r = NONE;
    if (slot != NONE) { r = select(rowBase + i, slot / p.topK, GATED); }
    rowA[i] = r;
  }

  let K = p.K;
  let nc = p.n1 - p.n0;
  let colBase = wg.x * BN;
  let parts = select(1u, 2u, GATED);
  let wRow = es * parts * nc;  // the expert's first row in this binding
  var acc: array<vec4f, TM>;    // acc[i][j]: row i, column j of this thread's 4 × 4
  var accUp: array<vec4f, TM>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    workgroupBarrier();
    stageA(tid, k0);
    // Runs of 8 inputs: one scale and one or two words per run for quantized weights.
    for (var i = tid; i < parts * BN * RUNS; i += 64u) {
      let part = i / (BN * RUNS);
      let n = i / RUNS % BN;
      let c0 = i % RUNS * 8u;
      var v = array<vec4f, 2>();  // zeros past the last column (explicitly: see inputs_shared.wgsl)
      if (colBase + n < nc) { v = weights8(wRow + part * nc + colBase + n, k0 + c0); }
      for (var c = 0u; c < 8u; c++) { Bs[(part * BK * BN + (c0 + c) * BN + n) / 4u][n % 4u] = half(v[c / 4u][c % 4u]); }
    }
    workgroupBarrier();
    // Products in `half`, sums in f32: f16 tiles round each input and product, never a sum.
    for (var j = 0u; j < BK; j += AW) {
      let share = shareA(lid, k0 + j);
      for (var x = 0u; x < AW; x++) {
        let c = j + x;
        let av = rowsA(share, lid, c, x);
        let g = Bs[(c * BN) / 4u + lid.x];
        for (var i = 0u; i < TM; i++) { acc[i] += vec4f(av[i] * g); }
        if (GATED) {
          let u = Bs[(BK * BN + c * BN) / 4u + lid.x];
          for (var i = 0u; i < TM; i++) { accUp[i] += vec4f(av[i] * u); }
        }
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let row = rowBase + lid.y * TM + i;
    let slot = sorted[row];
    if (slot == NONE) { continue; }
    for (var j = 0u; j < TN; j++) {
      let n = colBase + lid.x * TN + j;
      if (n >= nc) { continue; }
      let col = p.n0 + n;
      if (GATED) {
        out[row * p.outStride + col] = gated(biased(acc[i][j], expert, 0u, col), biased(accUp[i][j], expert, 1u, col));
      } else {
        out[slot * p.outStride + col] = biased(acc[i][j], expert, 0u, col) * routeW[slot];
      }
    }
  }
}
