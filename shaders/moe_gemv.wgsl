// Indexed expert GEMV for decode (few tokens): no alignment, the expert of each slot is read
// from the router's ids on the GPU.
// GATED (GEMV 1): a = x[token of the slot], out h[slot, n] = gated(gate, up) (the activation prelude,
//                 act_*.wgsl).
// !GATED (GEMV 2): a = h[slot], out y[slot, n] = acc · routing weight of the slot.
// BIASED: the expert's biases join gate, up and acc before the activation or the routing weight.
// Params, bindings 0–4 (p, a, w, slotOf, bias), slotIn(), inputs8() and biased(): expert_common.wgsl;
// run8(): the weight format's prelude (each run's dot product is scaled once: weight_run8.wgsl);
// gated(): the activation's prelude (src/kernels/expertMatmul.ts joins them).
// Threads: LANES along K × WG/LANES column groups. A thread computes ROWS columns (a gate and an up
// row each when GATED) over every LANES-th run of 8 inputs, so neighbouring threads read
// neighbouring weights and each weight is read once; the LANES partial sums of a column then meet in
// workgroup memory (lanes_shared.wgsl) or subgroup shuffles (lanes_subgroup.wgsl),
// prepended with place(), which numbers the threads.
// LANES, ROWS and the lane sums are chosen per device (src/kernels/tiles.ts).
// SLOTS > 1 (a call whose slots all run one expert: a dense projection, a shared expert): a workgroup
// computes its columns for SLOTS consecutive slots on their expert, each run of 8 weights
// loaded once and dotted with the SLOTS slots' inputs, so T tokens read the weights ceil(T/SLOTS)
// times instead of T. Slots from p.slots on are computed as repeats of the last and never stored.
// Dispatch: (ceil((n1-n0)/COLS), ceil(T·k/SLOTS), 1) per weight binding.

const WG = 64u;
override LANES: u32 = 16u;
override ROWS: u32 = 2u;
override COLS = WG / LANES * ROWS;  // columns per workgroup
const ROWS_MAX = 8u;
override SLOTS: u32 = 1u;
const SLOTS_MAX = 4u;

@group(0) @binding(5) var<storage, read> ids: array<u32>;
@group(0) @binding(6) var<storage, read> routeW: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

var<workgroup> held: u32;  // slotIn() of the slot's expert

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) index: u32) {
  let tid = place(index);
  let s0 = wg.y * SLOTS;
  if (tid == 0u) {  // the first expert among the workgroup's slots (an empty slot is NONE)
    var e = NONE;
    for (var s = s0; s < min(s0 + SLOTS, p.slots); s++) { e = select(e, ids[s], e == NONE); }
    held = slotIn(e);
  }
  let es = workgroupUniformLoad(&held);  // the expert's slot in this binding
  if (es == NONE) { return; }

  let K = p.K;
  let nc = p.n1 - p.n0;
  let lane = tid % LANES;
  let col0 = tid / LANES * ROWS;  // this thread's first column in the workgroup's COLS
  let n0 = wg.x * COLS;
  let parts = select(1u, 2u, GATED);
  let wBase = es * parts * nc;  // the expert's first gate (or down) row in this binding
  var aBase: array<u32, SLOTS_MAX>;
  for (var s = 0u; s < SLOTS; s++) {
    let slot = min(s0 + s, p.slots - 1u);  // past the call's last slot: a repeat, never stored
    aBase[s] = select(slot, slot / p.topK, GATED) * K;
  }
  // The sums of column j of slot s at s·ROWS + j, SLOTS · ROWS ≤ ROWS_MAX (tiles.ts gemvSlots): a
  // larger array slowed the one-slot GEMV on lavapipe.
  var g: array<f32, ROWS_MAX>;
  var u: array<f32, ROWS_MAX>;
  for (var k0 = lane * 8u; k0 < K; k0 += LANES * 8u) {
    var av: array<array<vec4f, 2>, SLOTS_MAX>;
    for (var s = 0u; s < SLOTS; s++) { av[s] = inputs8(aBase[s], k0); }
    for (var j = 0u; j < ROWS; j++) {
      let n = min(n0 + col0 + j, nc - 1u);  // past the last column: a repeat, never stored
      let wg8 = run8(wBase + n, k0);
      for (var s = 0u; s < SLOTS; s++) { g[s * ROWS + j] += (dot(wg8.q[0], av[s][0]) + dot(wg8.q[1], av[s][1])) * wg8.scale; }
      if (GATED) {
        let wu8 = run8(wBase + nc + n, k0);
        for (var s = 0u; s < SLOTS; s++) { u[s * ROWS + j] += (dot(wu8.q[0], av[s][0]) + dot(wu8.q[1], av[s][1])) * wu8.scale; }
      }
    }
  }
  for (var s = 0u; s < SLOTS; s++) {
    var gs: array<f32, ROWS_MAX>;
    var us: array<f32, ROWS_MAX>;
    for (var j = 0u; j < ROWS; j++) {
      gs[j] = g[s * ROWS + j];
      us[j] = u[s * ROWS + j];
    }
    sumLanes(tid, gs, us, s0 + s, n0, nc);
  }
}

// Column n (of this binding) of the slot, from the sums of its gate (or down) and up rows.
fn emit(slot: u32, n: u32, gs: f32, us: f32) {
  if (slot >= p.slots) { return; }  // past the call's slots
  let e = ids[slot];
  if (e == NONE) { return; }  // an empty slot (SLOTS > 1: the workgroup ran its neighbours')
  let col = p.n0 + n;
  let o = slot * p.outStride + col;
  if (GATED) {
    out[o] = gated(biased(gs, e, 0u, col), biased(us, e, 1u, col));
  } else {
    out[o] = biased(gs, e, 0u, col) * routeW[slot];
  }
}
