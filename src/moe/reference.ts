// Float64 CPU reference of a MoE block, written from the model families' definitions (not from the
// kernels): scoring, grouped top-k, top-k by sorting, weights, expert FFNs (with gpt-oss's biases and
// clamped SwiGLU), combine. The tests check
// every kernel against it; the benchmark and the demo check their outputs with it.
import { f16BitsToF32, f32ToF16Bits } from '../gpu/f16.js';
import type { Activation } from '../kernels/expertMatmul.js';
import { NO_EXPERT } from './router.js';
import { expertCapacity, type MoEConfig, type MoESpec, type MoEWeights, resolveRouting } from './spec.js';
import type { HostWeights } from '../weights/convert.js';
import type { QuantDType } from '../weights/format.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const silu = (v: number) => v * sigmoid(v);

/** Element i of host weights (f16 bits decoded), read lazily: checkpoints can be large. */
function at(w: HostWeights, i: number): number {
  return w instanceof Uint16Array ? f16BitsToF32(w[i]) : w[i];
}

/**
 * Quantize → dequantize of weights stored as rows of `inner` values, from the definition of q8/q4:
 * per row, per 32 consecutive inputs (the last group may be shorter), scale = max|w| / QMAX rounded
 * to f16, q = round(w / scale) clamped to ±QMAX (127 for q8, 7 for q4), value = q · scale. Run a
 * block through referenceMoE with these values to get the float64 result of the quantized model.
 */
export function referenceQuantize(w: HostWeights, inner: number, dtype: QuantDType): Float32Array {
  const qmax = dtype === 'q8' ? 127 : 7;
  const out = new Float32Array(w.length);
  for (let row = 0; row < w.length; row += inner) {
    for (let g = row; g < row + inner; g += 32) {
      const end = Math.min(row + inner, g + 32);
      let max = 0;
      for (let i = g; i < end; i++) max = Math.max(max, Math.abs(at(w, i)));
      const scale = f16BitsToF32(f32ToF16Bits(max / qmax));
      for (let i = g; i < end; i++) {
        const q = Math.min(qmax, Math.max(-qmax, Math.round(at(w, i) / scale)));
        out[i] = scale > 0 && Number.isFinite(scale) ? q * scale + 0 : 0; // + 0: a stored q of 0 is +0
      }
    }
  }
  return out;
}

/** Candidates best first: larger score, then lower index. */
function ranked(scores: number[], candidates: number[]): number[] {
  return [...candidates].sort((a, b) => scores[b] - scores[a] || a - b);
}

export interface ReferenceRouting {
  /** per token, its experts (top-p and capacity may leave fewer than k), best first */
  ids: number[][];
  weights: number[][];
  counts: number[];
  /** pairs capacity dropped */
  dropped: number;
}

/** One token's routing before capacity: its candidates best first, each with its routing score, and how many it keeps. */
interface TokenChoice {
  ranking: number[];
  score: number[];
  kept: number;
}

/**
 * The routing in float64, with the routing controls of the spec (top-p, minK, capacity), as
 * docs/routing.md defines them. The f32 GPU may order experts whose f64 selection scores are within
 * rounding of each other differently. Given the GPU's choice (`taken`, [T][k], NONE in empty slots),
 * the reference accepts it where each pick's score is within 1e-5 of the reference's pick at that
 * rank and it keeps as many, and then computes weights for it; any other difference is reported in
 * `rejected`. Under a binding capacity the GPU's ids must equal the reference's.
 */
export function referenceRoute(s: MoESpec, taken?: ArrayLike<number>): ReferenceRouting & { rejected: string[] } {
  const { tokens: T, hidden: H, numExperts: E, topK: k } = s;
  const nGroup = s.nGroup ?? 1;
  const topkGroup = s.topkGroup ?? nGroup;
  const allowed = Array.from({ length: E }, (_, e) => (s.expertMask ? !!s.expertMask[e] : true));
  const rejected: string[] = [];
  const capacity = T > 1 ? expertCapacity(resolveRouting(s), T) : Infinity;
  const capped = capacity < T;
  const choices: TokenChoice[] = [];
  for (let t = 0; t < T; t++) {
    const logits = Array.from({ length: E }, (_, e) => {
      let acc = s.routerBias ? s.routerBias[e] : 0;
      for (let h = 0; h < H; h++) acc += s.x[t * H + h] * s.router[e * H + h];
      return acc;
    });
    const sigmoidScoring = s.scoring === 'sigmoid';
    const score = sigmoidScoring ? logits.map(sigmoid) : logits;
    const sel = score.map((v, e) => v + (s.selectionBias ? s.selectionBias[e] : 0));
    let candidates = [...Array(E).keys()].filter((e) => allowed[e]);
    if (nGroup > 1) {
      // A group's score: its best selection score ('max', DeepSeek-V2) or its two best summed (V3).
      // Softmax ranks by logits: the probabilities share one denominator, so they rank alike.
      const size = E / nGroup;
      const groupScores = Array.from({ length: nGroup }, (_, g) => {
        const top = ranked(sel, candidates.filter((e) => Math.floor(e / size) === g)).slice(0, s.groupScore === 'max' ? 1 : 2);
        return top.length ? top.reduce((a, e) => a + sel[e], 0) : -Infinity;
      });
      const kept = new Set(ranked(groupScores, [...Array(nGroup).keys()]).slice(0, topkGroup));
      candidates = candidates.filter((e) => kept.has(Math.floor(e / size)));
    }
    // Routing score: the softmax over the allowed experts, or the sigmoid score; top-p's mass is the
    // score over the sum of the allowed scores (the softmax's sum is 1).
    const m = Math.max(...logits.filter((_, e) => allowed[e]));
    const raw = logits.map((l) => (sigmoidScoring ? sigmoid(l) : Math.exp(l - m)));
    const z = raw.reduce((a, v, e) => a + (allowed[e] ? v : 0), 0);
    const routingScore = raw.map((v) => (sigmoidScoring ? v : v / z));
    const mass = raw.map((v) => v / z);
    let ranking = ranked(sel, candidates);
    let kept = k;
    const topP = s.topP ?? 1;
    if (topP < 1) {
      let sum = 0;
      for (let j = 0; j < k; j++) {
        sum += mass[ranking[j]];
        if (j + 1 >= (s.minK ?? 1) && sum >= topP) {
          kept = j + 1;
          break;
        }
      }
    }
    if (taken && !capped) {
      const gpu = Array.from({ length: k }, (_, j) => taken[t * k + j]).filter((e) => e !== NO_EXPERT);
      const ok = gpu.length === kept && new Set(gpu).size === kept &&
        gpu.every((e, j) => candidates.includes(e) && Math.abs(sel[e] - sel[ranking[j]]) <= 1e-5 * Math.max(1, Math.abs(sel[ranking[j]])));
      if (ok) ranking = [...gpu, ...ranking.filter((e) => !gpu.includes(e))];
      else rejected.push(`token ${t}: got [${gpu}], expected [${ranking.slice(0, kept)}]`);
    }
    choices.push({ ranking, score: routingScore, kept });
  }
  const chosen = choices.map((c) => c.ranking.slice(0, c.kept));
  const dropped = capped ? applyCapacity(choices, chosen, capacity, s.capacityMode === 'next') : 0;
  if (taken && capped) {
    chosen.forEach((row, t) => {
      const gpu = Array.from({ length: k }, (_, j) => taken[t * k + j]);
      const ref = Array.from({ length: k }, (_, j) => row[j] ?? NO_EXPERT);
      if (gpu.join() !== ref.join()) rejected.push(`token ${t}: got [${gpu}], expected [${ref}] under capacity ${capacity}`);
    });
  }
  const counts = new Array<number>(E).fill(0);
  const ids: number[][] = [];
  const weights: number[][] = [];
  const renorm = s.normTopK || s.topkBeforeSoftmax;
  const scale = s.routedScaling ?? 1;
  chosen.forEach((row, t) => {
    const experts = row.filter((e) => e !== NO_EXPERT);
    // Weights by the family's rule over the experts kept (top-k before softmax: the softmax over them).
    let w = experts.map((e) => choices[t].score[e]);
    const sum = w.reduce((a, b) => a + b, 0);
    if (renorm) w = w.map((v) => v / sum);
    ids.push(experts);
    weights.push(w.map((v) => v * scale));
    for (const e of experts) counts[e]++;
  });
  return { ids, weights, counts, dropped, rejected };
}

/**
 * Capacity, from its definition: the kept pairs in order of routing score (ties: the earlier token)
 * each take their expert while it has room; the others, in the same order, are dropped or (next)
 * take their token's best candidate with room that the token does not hold. Rewrites `chosen`
 * (NO_EXPERT where a pair was dropped, keeping slot positions) and returns the pairs dropped.
 */
function applyCapacity(choices: TokenChoice[], chosen: number[][], capacity: number, next: boolean): number {
  const pairs = chosen.flatMap((row, t) => row.map((e, j) => ({ t, j, e, score: choices[t].score[e] })));
  pairs.sort((a, b) => b.score - a.score || a.t - b.t);
  const load = new Map<number, number>();
  const over = pairs.filter((p) => {
    const n = load.get(p.e) ?? 0;
    if (n < capacity) load.set(p.e, n + 1);
    return n >= capacity;
  });
  let dropped = 0;
  for (const p of over) {
    const row = chosen[p.t];
    row[p.j] = NO_EXPERT;
    const e = next ? choices[p.t].ranking.find((c) => (load.get(c) ?? 0) < capacity && !row.includes(c)) : undefined;
    if (e === undefined) {
      dropped++;
      continue;
    }
    row[p.j] = e;
    load.set(e, (load.get(e) ?? 0) + 1);
  }
  return dropped;
}

/**
 * The gated activation of one (gate, up) pair: silu(gate)·up, or gpt-oss's clamped SwiGLU:
 * gate' · sigmoid(alpha·gate') · (up' + 1), gate' = min(gate, limit), up' = clamp(up, −limit, limit).
 */
export function referenceGated(a: Activation | undefined, g: number, u: number): number {
  if (a?.kind !== 'swiglu_clamped') return silu(g) * u;
  const gc = Math.min(g, a.limit);
  const uc = Math.max(-a.limit, Math.min(a.limit, u));
  return gc * sigmoid(a.alpha * gc) * (uc + 1);
}

/**
 * gated(gate + bias, up + bias) of expert e of a stacked gateUp [E,2I,H] on one row x [H] → [I];
 * bias [E, 2I] (each expert's gate biases, then its up biases).
 */
export function referenceGateUp(x: ArrayLike<number>, e: number, gateUp: HostWeights, H: number, I: number,
  o: { bias?: Float32Array; activation?: Activation } = {}): Float64Array
{
  const h = new Float64Array(I);
  for (let i = 0; i < I; i++) {
    let g = o.bias ? o.bias[e * 2 * I + i] : 0;
    let u = o.bias ? o.bias[e * 2 * I + I + i] : 0;
    const gRow = (e * 2 * I + i) * H;
    const uRow = (e * 2 * I + I + i) * H;
    for (let j = 0; j < H; j++) {
      g += x[j] * at(gateUp, gRow + j);
      u += x[j] * at(gateUp, uRow + j);
    }
    h[i] = referenceGated(o.activation, g, u);
  }
  return h;
}

/** down [E,H,I] of expert e on one row h [I], + bias [E, H] → [H]. */
export function referenceDown(h: ArrayLike<number>, e: number, down: HostWeights, H: number, I: number, bias?: Float32Array): Float64Array {
  const y = new Float64Array(H);
  for (let o = 0; o < H; o++) {
    let acc = bias ? bias[e * H + o] : 0;
    for (let i = 0; i < I; i++) acc += h[i] * at(down, (e * H + o) * I + i);
    y[o] = acc;
  }
  return y;
}

interface ReferenceExperts {
  gateUp: HostWeights;
  down: HostWeights;
  gateUpBias?: Float32Array;
  downBias?: Float32Array;
}

function referenceExpert(x: ArrayLike<number>, e: number, w: ReferenceExperts, H: number, I: number, activation?: Activation): Float64Array {
  return referenceDown(referenceGateUp(x, e, w.gateUp, H, I, { bias: w.gateUpBias, activation }), e, w.down, H, I, w.downBias);
}

/** The block in float64; with `taken`, on the GPU's routing where referenceRoute accepts it. */
export function referenceMoE(s: MoESpec, taken?: ArrayLike<number>): ReturnType<typeof referenceRoute> & { y: Float64Array } {
  const { tokens: T, hidden: H, intermediate: I } = s;
  const r = referenceRoute(s, taken);
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    const x = s.x.subarray(t * H, (t + 1) * H);
    for (let j = 0; j < r.ids[t].length; j++) {
      const out = referenceExpert(x, r.ids[t][j], s, H, I, s.activation);
      for (let o = 0; o < H; o++) y[t * H + o] += r.weights[t][j] * out[o];
    }
    if (s.shared) {
      let gate = 1;
      if (s.shared.gate) gate = sigmoid(s.shared.gate.reduce((a, g, j) => a + g * x[j], 0));
      const out = referenceExpert(x, 0, s.shared, H, s.shared.intermediate, s.activation);
      for (let o = 0; o < H; o++) y[t * H + o] += gate * out[o];
    }
  }
  return { ...r, y };
}

/**
 * Checks the first `tokens` tokens of a GPU result (y [T,H], ids [T,k]) against the reference on the
 * GPU's routing: the relative error, Infinity where the routing differs beyond rounding ties.
 */
export function checkTokens(
  block: MoEConfig & MoEWeights<HostWeights>,
  x: Float32Array,
  tokens: number,
  y: Float32Array,
  ids: Uint32Array,
): { error: number; rejected: string[] } {
  const { hidden: H, topK: k } = block;
  const ref = referenceMoE({ ...block, tokens, x: x.subarray(0, tokens * H) }, ids.subarray(0, tokens * k));
  return { error: ref.rejected.length ? Infinity : relativeError(y.subarray(0, tokens * H), ref.y), rejected: ref.rejected };
}

/** ‖a − b‖ / ‖b‖ (NaN anywhere in a gives NaN, which fails every ≤ check). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
