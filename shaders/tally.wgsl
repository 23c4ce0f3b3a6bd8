// Tally: adds a forward's counts into running totals, then its tokens, then how many experts ran in
// it (had a pair: each of them read its weights once for all its tokens).
// Layout: counts [n] u32 (the experts' pairs, then any other counters: n ≥ experts) → totals [n + 2]
// u32: totals[i] += counts[i], totals[n] += tokens, totals[n + 1] += #{e < experts : counts[e] > 0}.
// Dispatch: (1, 1, 1).

struct Params {
  n: u32,
  tokens: u32,
  experts: u32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> totals: array<u32>;

var<workgroup> ran: atomic<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  var mine = 0u;
  for (var i = tid; i < p.n; i += WG) {
    totals[i] += counts[i];
    if (i < p.experts && counts[i] > 0u) { mine++; }
  }
  atomicAdd(&ran, mine);
  workgroupBarrier();
  if (tid == 0u) {
    totals[p.n] += p.tokens;
    totals[p.n + 1u] += atomicLoad(&ran);
  }
}
