// Capacity: each expert takes at most `capacity` of a call's (token, expert) pairs. Pairs claim their
// expert by routing score (ties: the earlier slot, so the earlier token); a pair over capacity is
// dropped, or (next) takes its token's best candidate that has room and the token does not hold,
// overflowing pairs going in the same order. Then the weights follow the family's rule over the
// experts each token keeps, and the counts are the experts' loads, which the routing telemetry's
// totals add up (the router's tally is off when this kernel runs).
// Layout: cand [T,candRows] (expert, score bits) from the router, ids [T,k] (NONE: no expert),
//         weights [T,k], counts [E+1] (→ each expert's pairs, then the pairs dropped),
//         scratch [3·T·k] u32: each slot's score, its overflow flag, the overflowing slots in order,
//         totals [E+3] += (counts, tokens, experts with a pair).
// Dispatch: (1, 1, 1): one workgroup, as the pairs compete across the whole call. Cost O((T·k)² / WG):
// capacity is for prefill batches.

struct Params {
  tokens: u32,
  topK: u32,
  candRows: u32,
  experts: u32,
  capacity: u32,
  next: u32,           // 1: overflow to the next choice, 0: drop it
  renorm: u32,         // the weights of each token's experts sum to routedScaling
  routedScaling: f32,
}

override E_MAX: u32 = 64u;
const WG = 256u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cand: array<u32>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> totals: array<u32>;

var<workgroup> load: array<atomic<u32>, E_MAX>;
var<workgroup> overflows: atomic<u32>;
var<workgroup> ran: atomic<u32>;  // experts with a pair

fn score(s: u32) -> f32 { return bitcast<f32>(scratch[s]); }

// Does slot a claim before slot b?
fn before(a: u32, b: u32) -> bool {
  let sa = score(a);
  let sb = score(b);
  return sa > sb || (sa == sb && a < b);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  let k = p.topK;
  let R = p.candRows;
  let S = p.tokens * k;
  for (var e = tid; e < p.experts; e += WG) { atomicStore(&load[e], 0u); }
  if (tid == 0u) { atomicStore(&overflows, 0u); }
  // Slot j of a token holds its rank-j candidate (or NONE).
  for (var s = tid; s < S; s += WG) { scratch[s] = cand[2u * ((s / k) * R + s % k) + 1u]; }
  storageBarrier();
  workgroupBarrier();

  // A slot keeps its expert if fewer than `capacity` slots of that expert claim before it.
  for (var s = tid; s < S; s += WG) {
    let e = ids[s];
    var over = 0u;
    if (e != NONE) {
      var ahead = 0u;
      for (var o = 0u; o < S && ahead < p.capacity; o++) {
        if (ids[o] == e && before(o, s)) { ahead++; }
      }
      if (ahead < p.capacity) { atomicAdd(&load[e], 1u); } else { over = 1u; atomicAdd(&overflows, 1u); }
    }
    scratch[S + s] = over;
  }
  storageBarrier();
  workgroupBarrier();
  // The overflowing slots in claiming order.
  for (var s = tid; s < S; s += WG) {
    if (scratch[S + s] == 0u) { continue; }
    var pos = 0u;
    for (var o = 0u; o < S; o++) {
      if (scratch[S + o] != 0u && before(o, s)) { pos++; }
    }
    scratch[2u * S + pos] = s;
  }
  storageBarrier();
  workgroupBarrier();

  if (tid == 0u) {
    // Serially: each overflowing slot in turn, as the loads change.
    let n = atomicLoad(&overflows);
    var dropped = 0u;
    for (var i = 0u; i < n; i++) {
      let s = scratch[2u * S + i];
      let row = s / k * k;
      ids[s] = NONE;
      var got = NONE;
      var gotScore = 0.0;
      for (var r = 0u; r < R && p.next != 0u; r++) {
        let c = 2u * ((s / k) * R + r);
        let e = cand[c];
        if (e == NONE) { break; }
        if (atomicLoad(&load[e]) >= p.capacity) { continue; }
        var held = false;
        for (var j = 0u; j < k; j++) { held = held || ids[row + j] == e; }
        if (held) { continue; }
        got = e;
        gotScore = bitcast<f32>(cand[c + 1u]);
        break;
      }
      if (got == NONE) {
        dropped++;
      } else {
        ids[s] = got;
        scratch[s] = bitcast<u32>(gotScore);
        atomicAdd(&load[got], 1u);
      }
    }
    counts[p.experts] = dropped;
    totals[p.experts] += dropped;
    totals[p.experts + 1u] += p.tokens;
  }
  storageBarrier();
  workgroupBarrier();

  for (var t = tid; t < p.tokens; t += WG) {
    var sum = 0.0;
    for (var j = 0u; j < k; j++) { if (ids[t * k + j] != NONE) { sum += score(t * k + j); } }
    let scale = select(p.routedScaling, p.routedScaling / sum, p.renorm != 0u);
    for (var j = 0u; j < k; j++) {
      let s = t * k + j;
      weights[s] = select(0.0, score(s) * scale, ids[s] != NONE);
    }
  }
  for (var e = tid; e < p.experts; e += WG) {
    let n = atomicLoad(&load[e]);
    counts[e] = n;
    totals[e] += n;
    if (n > 0u) { atomicAdd(&ran, 1u); }
  }
  workgroupBarrier();
  if (tid == 0u) { totals[p.experts + 2u] += atomicLoad(&ran); }
}
