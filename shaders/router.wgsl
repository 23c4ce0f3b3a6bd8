// Router: logits = x·Wrᵀ + bias, scoring, optional grouped top-k, top-k, top-p, routing weights.
// Layout: x [T,H], wr [E,H], table [3E]: the logit bias, then the selection bias (which shifts the
//         choice, never the weights), then the mask (0 = expert may not be chosen), E values each
//      → ids [T,k] u32 (NONE past the experts top-p keeps), weights [T,k] f32 (0 there),
//        counts [E] (+1 per choice; the caller clears it),
//        cand [T,candRows] (expert, score bits) pairs, the token's best candRows experts in order
//        with their routing scores, for the capacity kernel (written only when candRows > 0),
//        totals [E+3] (tally = 1: the routing telemetry's running sums, as the capacity kernel keeps
//        them when it runs: +1 per choice, +1 token at E+1, and at E+2 +1 per expert that got its
//        first pair of the call, found by the counts' old value, so each expert that runs counts once).
// Routing probability of an allowed expert: softmax over the allowed logits, or with sigmoid
// scoring its score over the sum of the allowed scores. Top-p keeps the fewest of the k choices
// (≥ minK) whose probability mass reaches topP; topP ≥ 1 keeps all k. The routing score (the
// capacity kernel's priority and the weight before renormalisation) is the probability, or the
// sigmoid score itself.
// Dispatch: (T, 1, 1), one workgroup per token. Bounds: E ≤ E_MAX, k ≤ E, nGroup ≤ E, candRows ≤ E.
// Ties: the lower expert (or group) index wins, so results are deterministic.

struct Params {
  tokens: u32,
  hidden: u32,
  experts: u32,
  topK: u32,
  scoring: u32,    // 0 softmax over all experts, 1 sigmoid, 2 top-k on logits then softmax over the k
  normTopK: u32,   // renormalise the k weights to sum 1 (modes 0 and 1)
  nGroup: u32,     // > 1: keep only the topkGroup best groups
  topkGroup: u32,
  groupMax: u32,   // a group's score: 1 its best selection score (DeepSeek-V2), 0 the sum of its two best (V3)
  routedScaling: f32,
  topP: f32,
  minK: u32,
  candRows: u32,
  tally: u32,
}

override E_MAX: u32 = 64u;
const WG = 64u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wr: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> cand: array<u32>;
@group(0) @binding(8) var<storage, read_write> totals: array<atomic<u32>>;

var<workgroup> logit: array<f32, E_MAX>;
var<workgroup> sel: array<f32, E_MAX>;     // selection score
var<workgroup> alive: array<u32, E_MAX>;   // still selectable (per expert), kept (per group)
var<workgroup> groupScore: array<f32, E_MAX>;
var<workgroup> groupKept: array<u32, E_MAX>;
var<workgroup> redV: array<f32, WG>;
var<workgroup> redI: array<u32, WG>;
var<workgroup> order: array<u32, E_MAX>;  // the token's experts, best first (NONE once none is left)

fn sigmoid(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }

fn allowed(e: u32) -> bool { return table[2u * p.experts + e] != 0.0; }

// Is candidate a (value, index) better than b? NONE marks an empty candidate.
fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  if (ia == NONE) { return false; }
  if (ib == NONE) { return true; }
  return va > vb || (va == vb && ia < ib);
}

// Workgroup-wide argmax of sel over alive experts.
fn argmaxAlive(tid: u32) -> u32 {
  var bv = 0.0;
  var bi = NONE;
  for (var e = tid; e < p.experts; e += WG) {
    if (alive[e] != 0u && better(sel[e], e, bv, bi)) { bv = sel[e]; bi = e; }
  }
  redV[tid] = bv;
  redI[tid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s && better(redV[tid + s], redI[tid + s], redV[tid], redI[tid])) {
      redV[tid] = redV[tid + s];
      redI[tid] = redI[tid + s];
    }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&redI[0]);
}

// Keeps the topkGroup groups whose best alive selection score (groupMax) or two best summed rank
// highest; the rest die.
fn groupedSelection(tid: u32) {
  let size = p.experts / p.nGroup;
  for (var g = tid; g < p.nGroup; g += WG) {
    var b1 = 0.0;
    var i1 = NONE;
    var b2 = 0.0;
    var i2 = NONE;
    for (var e = g * size; e < (g + 1u) * size; e++) {
      if (alive[e] == 0u) { continue; }
      if (better(sel[e], e, b1, i1)) { b2 = b1; i2 = i1; b1 = sel[e]; i1 = e; }
      else if (better(sel[e], e, b2, i2)) { b2 = sel[e]; i2 = e; }
    }
    groupScore[g] = select(select(b1 + b2, b1, i2 == NONE || p.groupMax != 0u), -3.4e38, i1 == NONE);
  }
  workgroupBarrier();
  if (tid == 0u) {
    // Serial: nGroup is small (8 in DeepSeek-V3). A group is kept if fewer than topkGroup beat it.
    for (var g = 0u; g < p.nGroup; g++) {
      var beaten = 0u;
      for (var o = 0u; o < p.nGroup; o++) {
        if (better(groupScore[o], o, groupScore[g], g)) { beaten++; }
      }
      groupKept[g] = select(0u, 1u, beaten < p.topkGroup);
    }
  }
  workgroupBarrier();
  for (var e = tid; e < p.experts; e += WG) {
    if (groupKept[e / size] == 0u) { alive[e] = 0u; }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x;
  let H = p.hidden;
  let E = p.experts;
  for (var e = tid; e < E; e += WG) {
    var acc = 0.0;
    for (var h = 0u; h < H; h++) { acc += x[t * H + h] * wr[e * H + h]; }
    let l = acc + table[e];
    logit[e] = l;
    sel[e] = select(l, sigmoid(l), p.scoring == 1u) + table[E + e];
    alive[e] = select(0u, 1u, allowed(e));
  }
  workgroupBarrier();
  if (p.nGroup > 1u) { groupedSelection(tid); }

  let k = p.topK;
  let ranks = max(k, p.candRows);
  for (var j = 0u; j < ranks; j++) {
    let e = argmaxAlive(tid);
    if (tid == 0u) {
      order[j] = e;
      if (e != NONE) { alive[e] = 0u; }
    }
    workgroupBarrier();
  }
  if (tid != 0u) { return; }

  // Serially from here: k and E are small next to the expert GEMMs.
  var shift = -3.4e38;  // subtracted before exp() so it cannot overflow
  for (var e = 0u; e < E; e++) { if (allowed(e)) { shift = max(shift, logit[e]); } }
  var denom = 0.0;      // of the probabilities: Σ exp(logit − shift), or Σ sigmoid
  for (var e = 0u; e < E; e++) {
    if (allowed(e)) { denom += select(exp(logit[e] - shift), sigmoid(logit[e]), p.scoring == 1u); }
  }

  var n = k;  // experts kept
  if (p.topP < 1.0) {
    var mass = 0.0;
    for (var j = 0u; j < k; j++) {
      let l = logit[order[j]];
      mass += select(exp(l - shift), sigmoid(l), p.scoring == 1u) / denom;
      if (j + 1u >= p.minK && mass >= p.topP) { n = j + 1u; break; }
    }
  }

  let out = t * k;
  var kept = shift;  // mode 2: the largest kept logit
  if (p.scoring == 2u) {
    kept = logit[order[0]];
    for (var j = 1u; j < n; j++) { kept = max(kept, logit[order[j]]); }
  }
  var sum = 0.0;
  for (var j = 0u; j < n; j++) {
    let l = logit[order[j]];
    var w = sigmoid(l);
    if (p.scoring != 1u) { w = exp(l - kept); }
    if (p.scoring == 0u) { w /= denom; }
    weights[out + j] = w;
    sum += w;
  }
  let renorm = p.scoring == 2u || p.normTopK != 0u;
  let scale = select(p.routedScaling, p.routedScaling / sum, renorm);
  for (var j = 0u; j < k; j++) {
    if (j < n) {
      ids[out + j] = order[j];
      weights[out + j] *= scale;
      let first = atomicAdd(&counts[order[j]], 1u) == 0u;
      if (p.tally != 0u) {
        atomicAdd(&totals[order[j]], 1u);
        if (first) { atomicAdd(&totals[E + 2u], 1u); }
      }
    } else {
      ids[out + j] = NONE;
      weights[out + j] = 0.0;
    }
  }
  if (p.tally != 0u) { atomicAdd(&totals[E + 1u], 1u); }
  for (var j = 0u; j < p.candRows; j++) {
    let e = order[j];
    var score = 0.0;
    if (e != NONE) { score = select(exp(logit[e] - shift) / denom, sigmoid(logit[e]), p.scoring == 1u); }
    cand[2u * (t * p.candRows + j)] = e;
    cand[2u * (t * p.candRows + j) + 1u] = bitcast<u32>(score);
  }
}
