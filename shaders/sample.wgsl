// Sampling kernel: the next token from one row of logits, as src/model/sampling.ts picks it, in f32.
// w = logits + bias; the repetition penalty on tokens seen (divide a positive logit, multiply a
// negative one); minus frequency × times generated, minus presence if generated. Temperature 0:
// argmax (ties to the lower id). Otherwise p = exp((w − max) / temperature); top-k keeps p ≥ the k-th
// largest (ties kept), top-p then the most likely tokens until their mass reaches topP × the kept
// mass (ties in id order); the draw walks the kept tokens in id order to `draw` × their mass.
// No sort: thresholds are searched on the bits of p (monotone for p ≥ 0): top-k's by a radix select
// of four passes, top-p's bit by bit over the few tokens that can be in the nucleus, gathered first.
// Layout: logits [rows, vocab] f32, row `row` read (a batched forward's row of one sequence); bias [vocab] f32 (read when HAS_BIAS); history [vocab] u32: bit 0 the
// token is in the sequence, bits 1… times generated (read when PENALTIES; the pick is added);
// w [vocab] f32 scratch; draw [1] f32 in [0, 1); cand [vocab] f32 scratch (top-p's candidates);
// out [2] u32: the id, and a status: 0, 1 a NaN, 2 the largest is ±Inf (no id then).
// Dispatch: (1, 1, 1): one workgroup of WG threads. Deterministic.

struct Params {
  vocab: u32,
  temperature: f32,  // 0: greedy
  topK: u32,  // 0 or ≥ vocab: all
  topP: f32,  // 1: all
  repetition: f32,
  frequency: f32,
  presence: f32,
  flags: u32,  // 1: HAS_BIAS, 2: PENALTIES
  row: u32,
}

const WG = 256u;
const HAS_BIAS = 1u;
const PENALTIES = 2u;
const ALL = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> history: array<u32>;
@group(0) @binding(4) var<storage, read_write> w: array<f32>;
@group(0) @binding(5) var<storage, read> draw: array<f32>;
@group(0) @binding(6) var<storage, read_write> cand: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;

var<workgroup> sums: array<f32, WG>;
var<workgroup> ids: array<u32, WG>;
var<workgroup> result: f32;
var<workgroup> resultId: u32;
var<workgroup> nan: atomic<u32>;
var<workgroup> state: u32;
var<workgroup> hist: array<atomic<u32>, WG>;
var<workgroup> digits: u32;
var<workgroup> counted: u32;

// By bits: a shader compiler may assume floats are finite.
fn isNan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn isInf(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn total(t: u32, v: f32) -> f32 {
  sums[t] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) { sums[t] += sums[t + s]; }
  }
  if (t == 0u) { result = sums[0]; }
  return workgroupUniformLoad(&result);
}

// The k-th largest key (f32 bits of p, so ties count once each), a byte at a time from the top: a
// histogram of the keys that share the bytes found so far, then the bin where the count from the top
// reaches what is still needed. Four passes over the row.
fn kth(t: u32, k: u32) -> u32 {
  var prefix = 0u;
  var need = k;
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    let mask = select(0xffffffffu << (shift + 8u), 0u, round == 0u);
    atomicStore(&hist[t], 0u);
    workgroupBarrier();
    for (var i = t; i < p.vocab; i += WG) {
      let key = bitcast<u32>(w[i]);
      if ((key & mask) == prefix) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (t == 0u) {
      var higher = 0u;
      var b = 255u;
      loop {
        let h = atomicLoad(&hist[b]);
        if (higher + h >= need || b == 0u) { break; }
        higher += h;
        b--;
      }
      digits = prefix | (b << shift);
      counted = need - higher;
    }
    prefix = workgroupUniformLoad(&digits);
    need = workgroupUniformLoad(&counted);
  }
  return prefix;
}

// The thread's mass of the candidates with key ≥ `key`, strided.
fn above(t: u32, key: u32, n: u32) -> f32 {
  var acc = 0.0;
  for (var i = t; i < n; i += WG) {
    if (bitcast<u32>(cand[i]) >= key) { acc += cand[i]; }
  }
  return acc;
}

// The largest key whose mass among the first n candidates reaches `goal`, bit by bit.
fn threshold(t: u32, goal: f32, n: u32) -> u32 {
  var key = 0u;
  for (var b = 30; b >= 0; b--) {
    let candidate = key | (1u << u32(b));
    if (total(t, above(t, candidate, n)) >= goal) { key = candidate; }
  }
  return key;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) t: u32) {
  if (t == 0u) { atomicStore(&nan, 0u); }
  workgroupBarrier();
  var best = -3.4e38;
  var bestId = ALL;
  for (var i = t; i < p.vocab; i += WG) {
    var x = logits[p.row * p.vocab + i];
    if ((p.flags & HAS_BIAS) != 0u) { x += bias[i]; }
    if ((p.flags & PENALTIES) != 0u) {
      let h = history[i];
      if ((h & 1u) != 0u) { x = select(x * p.repetition, x / p.repetition, x > 0.0); }
      let generated = h >> 1u;
      if (generated > 0u) { x -= f32(generated) * p.frequency + p.presence; }
    }
    if (isNan(x)) { atomicStore(&nan, 1u); }
    w[i] = x;
    if (bestId == ALL || x > best) {
      best = x;
      bestId = i;
    }
  }
  // argmax over the threads, ties to the lower id
  sums[t] = best;
  ids[t] = bestId;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      let o = t + s;
      if (ids[o] != ALL && (ids[t] == ALL || sums[o] > sums[t] || (sums[o] == sums[t] && ids[o] < ids[t]))) {
        sums[t] = sums[o];
        ids[t] = ids[o];
      }
    }
  }
  if (t == 0u) {
    result = sums[0];
    resultId = ids[0];
    state = select(select(0u, 2u, isInf(sums[0])), 1u, atomicLoad(&nan) != 0u);
  }
  let top = workgroupUniformLoad(&result);
  var pick = workgroupUniformLoad(&resultId);
  let status = workgroupUniformLoad(&state);

  if (status == 0u && p.temperature > 0.0) {
    for (var i = t; i < p.vocab; i += WG) {
      let x = w[i];
      w[i] = select(exp((x - top) / p.temperature), 0.0, isInf(x));
    }
    // The kept tokens: p above key, then `ties` of those at key, in id order.
    var key = 0u;
    var ties = ALL;
    if (p.topK > 0u && p.topK < p.vocab) { key = kth(t, p.topK); }
    if (p.topP < 1.0) {
      // The n kept tokens of mass m: those under (1 − topP)·m/n hold less than (1 − topP)·m between
      // them, so the nucleus lies among the others; halved against rounding. Only those are searched.
      var acc = vec2f(0.0);
      for (var i = t; i < p.vocab; i += WG) {
        if (bitcast<u32>(w[i]) >= key) { acc += vec2f(1.0, w[i]); }
      }
      let n = total(t, acc.x);
      let kept = total(t, acc.y);
      let low = max(key, bitcast<u32>(0.5 * (1.0 - p.topP) * kept / n));
      // Gathered in a fixed order (each thread's at its offset), so the sums round the same each time.
      var mine = 0u;
      for (var i = t; i < p.vocab; i += WG) {
        if (bitcast<u32>(w[i]) >= low) { mine++; }
      }
      ids[t] = mine;
      workgroupBarrier();
      if (t == 0u) {
        var before = 0u;
        for (var j = 0u; j < WG; j++) {
          let m = ids[j];
          ids[j] = before;
          before += m;
        }
        counted = before;
      }
      let found = workgroupUniformLoad(&counted);
      var at = ids[t];
      for (var i = t; i < p.vocab; i += WG) {
        if (bitcast<u32>(w[i]) >= low) {
          cand[at] = w[i];
          at++;
        }
      }
      storageBarrier();
      workgroupBarrier();
      let goal = p.topP * kept;
      key = threshold(t, goal, found);
      let higher = total(t, above(t, key + 1u, found));
      ties = max(1u, u32(ceil((goal - higher) / bitcast<f32>(key))));
    }

    storageBarrier();
    // Each thread's run of ids: its kept ties and mass, scanned in id order by thread 0.
    let run = (p.vocab + WG - 1u) / WG;
    let begin = min(t * run, p.vocab);
    let end = min(begin + run, p.vocab);
    var tied = 0u;
    for (var i = begin; i < end; i++) {
      if (bitcast<u32>(w[i]) == key) { tied++; }
    }
    ids[t] = tied;
    workgroupBarrier();
    if (t == 0u) {
      var before = 0u;
      for (var j = 0u; j < WG; j++) {
        let n = ids[j];
        ids[j] = before;
        before += n;
      }
    }
    workgroupBarrier();
    var rank = ids[t];
    var own = 0.0;
    for (var i = begin; i < end; i++) {
      let b = bitcast<u32>(w[i]);
      if (b > key || (b == key && rank < ties)) { own += w[i]; }
      if (b == key) { rank++; }
    }
    sums[t] = own;
    workgroupBarrier();
    if (t == 0u) {
      var before = 0.0;
      for (var j = 0u; j < WG; j++) {
        let m = sums[j];
        sums[j] = before;
        before += m;
      }
      result = before * min(draw[0], 0.99999994);
      resultId = ALL;
    }
    workgroupBarrier();
    // The thread whose run holds the draw finds its token; past the last, the last kept token.
    var r = result - sums[t];
    let mine = r >= 0.0 && r < own;
    rank = ids[t];
    var last = ALL;
    for (var i = begin; i < end; i++) {
      let b = bitcast<u32>(w[i]);
      let keep = (b > key || (b == key && rank < ties)) && b != 0u;
      if (b == key) { rank++; }
      if (keep) {
        last = i;
        r -= w[i];
        if (mine && r < 0.0) {
          resultId = i;
          break;
        }
      }
    }
    // Rounding left the draw past every token: the last kept one (largest id) is the pick.
    ids[t] = last;
    workgroupBarrier();
    if (t == 0u && resultId == ALL) {
      for (var j = 0u; j < WG; j++) {
        if (ids[j] != ALL) { resultId = ids[j]; }
      }
    }
    pick = workgroupUniformLoad(&resultId);
  }

  if (t == 0u) {
    out[0] = pick;
    out[1] = status;
    if (status == 0u && (p.flags & PENALTIES) != 0u) { history[pick] = (history[pick] + 2u) | 1u; }
  }
}
