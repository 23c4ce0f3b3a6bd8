// Alignment: sorts the T·k routing slots by expert, each expert's run padded to BM rows (the
// grouped GEMM's tile height), and maps every BM-row block to its expert.
// Layout: ids [S = T·k] u32 (slot s = t·k + j), counts [E] (from the router)
//      → sorted [maxBlocks·BM] u32: slot index, NONE for padding and past the end;
//        blockExpert [maxBlocks] u32: expert of each block, NONE past the end.
// Dispatch: (1, 1, 1). Deterministic: within an expert, slots keep ascending order (no atomics).
// Bounds: E ≤ E_MAX; maxBlocks ≥ floor(S / BM) + min(E, S) holds every padded run.

struct Params {
  slots: u32,
  experts: u32,
  maxBlocks: u32,
}

override BM: u32 = 32u;
override E_MAX: u32 = 64u;
const WG = 256u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> sorted: array<u32>;
@group(0) @binding(4) var<storage, read_write> blockExpert: array<u32>;

var<workgroup> cursor: array<u32, E_MAX>;  // next sorted row of each expert
var<workgroup> total: u32;                 // padded rows in all
var<workgroup> roundIds: array<u32, WG>;      // the experts of the slots in this round

fn padded(c: u32) -> u32 { return (c + BM - 1u) / BM * BM; }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  if (tid == 0u) {
    var off = 0u;
    for (var e = 0u; e < p.experts; e++) { cursor[e] = off; off += padded(counts[e]); }
    total = off;
  }
  let blocks = workgroupUniformLoad(&total) / BM;

  for (var e = tid; e < p.experts; e += WG) {
    let first = cursor[e];
    let end = first + padded(counts[e]);
    for (var b = first / BM; b < end / BM; b++) { blockExpert[b] = e; }
    for (var r = first + counts[e]; r < end; r++) { sorted[r] = NONE; }
  }
  for (var b = blocks + tid; b < p.maxBlocks; b += WG) {
    blockExpert[b] = NONE;
    for (var r = b * BM; r < (b + 1u) * BM; r++) { sorted[r] = NONE; }
  }

  // Scatter WG slots per round; a slot's rank is the number of earlier slots of its expert.
  for (var base = 0u; base < p.slots; base += WG) {
    let s = base + tid;
    var e = NONE;
    if (s < p.slots) { e = ids[s]; }
    roundIds[tid] = e;
    workgroupBarrier();
    var rank = 0u;
    var last = true;
    if (e != NONE) {
      for (var j = 0u; j < tid; j++) { rank += select(0u, 1u, roundIds[j] == e); }
      for (var j = tid + 1u; j < WG; j++) { if (roundIds[j] == e) { last = false; break; } }
      sorted[cursor[e] + rank] = s;
    }
    workgroupBarrier();
    if (e != NONE && last) { cursor[e] += rank + 1u; }
    workgroupBarrier();
  }
}
