// The public description of a MoE block, its defaults, and the checks that turn bad input into
// errors naming the field with the expected and the given size.
import type { Activation } from '../kernels/expertMatmul.js';
import type { Routing, ScoringMode } from '../kernels/router.js';
import { type ExpertShape, type ExpertWeights, isExpertMatrix } from '../weights/matrix.js';
import { WEIGHT_DTYPES, type WeightDType } from '../weights/format.js';
import type { HostWeights } from '../weights/convert.js';

export type Scoring = 'softmax' | 'sigmoid';
export type GroupScore = 'top2Sum' | 'max';
/** Where a pair over an expert's capacity goes: 'drop' (nowhere) or 'next' (the token's next choice with room). */
export type CapacityMode = 'drop' | 'next';

/**
 * Routing controls at inference (docs/routing.md): how many experts fire per token, which may, and
 * how many tokens an expert takes. The chosen experts' weights follow the family's rule over the
 * experts kept (renormalised when the family renormalises, as is otherwise).
 */
export interface RoutingControls {
  /** k: experts per token (1 … E), the model's by default. */
  topK?: number;
  /**
   * Adaptive k (top-p routing), in (0, 1]: per token the fewest of its k choices (at least minK),
   * best first, whose routing probability mass reaches p. The mass is the softmax over the allowed
   * experts (sigmoid scoring: each score over the sum of the allowed ones). 1 (default): all k.
   */
  topP?: number;
  /** Top-p keeps at least this many experts (1 … k). Default 1. */
  minK?: number;
  /**
   * Capacity factor (> 0) for calls of more than one token: each expert takes at most
   * ⌈capacityFactor · T · k / E⌉ (token, expert) pairs, by routing score (ties: the earlier token).
   * Default: unbounded.
   */
  capacityFactor?: number;
  /** Default 'drop'. */
  capacityMode?: CapacityMode;
}

/** Sizes and routing of a MoE block (the routing controls here are its defaults). */
export interface MoEConfig extends Omit<RoutingControls, 'topK'> {
  /** H */
  hidden: number;
  /** E */
  numExperts: number;
  /** I, each expert's intermediate size */
  intermediate: number;
  /** k, experts per token (1 … E) */
  topK: number;
  /** 'softmax' (default) or 'sigmoid' (DeepSeek-V3) */
  scoring?: Scoring;
  /** Renormalise the k weights to sum 1 (Mixtral: true, OLMoE: false). Default false. */
  normTopK?: boolean;
  /** Top-k on the logits, then softmax over the k (GraniteMoE, gpt-oss). Default false. */
  topkBeforeSoftmax?: boolean;
  /** Multiplies the routing weights (DeepSeek-V3's routed_scaling_factor). Default 1. */
  routedScaling?: number;
  /** Grouped top-k (DeepSeek-V3 n_group): experts split into nGroup equal groups. Default 1. */
  nGroup?: number;
  /** Groups kept, ranked by `groupScore` (topk_group). Default nGroup. */
  topkGroup?: number;
  /**
   * How a group ranks in the grouped top-k: 'top2Sum' (default; DeepSeek-V3's noaux_tc: the sum of
   * its two best selection scores) or 'max' (DeepSeek-V2's group_limited_greedy: its best score).
   */
  groupScore?: GroupScore;
  /**
   * Expert weight storage (routed and shared experts): 'f32' (default), 'f16' (packed, unpacked in
   * the kernels; any device), or 'q8' / 'q4': int8 / int4 with one f16 scale per 32 inputs,
   * quantized on upload and dequantized in the kernels (src/weights/quant.ts). Compute is f32 always.
   */
  dtype?: WeightDType;
  /**
   * The experts' gated activation (routed and shared): { kind: 'swiglu' } (default), or gpt-oss's
   * { kind: 'swiglu_clamped', alpha, limit }.
   */
  activation?: Activation;
}

/** A shared expert (Qwen2-MoE): every token runs it, scaled by sigmoid(gate · x) when gate is given. */
export interface SharedExpertWeights<W extends ExpertWeights = ExpertWeights> {
  /** S */
  intermediate: number;
  /** [2S, H]: gate rows, then up rows */
  gateUp: W;
  /** [H, S] */
  down: W;
  /** [1, H] */
  gate?: Float32Array;
}

export interface MoEWeights<W extends ExpertWeights = ExpertWeights> {
  /** [E, H] */
  router: Float32Array;
  /** [E] added to the logits */
  routerBias?: Float32Array;
  /** [E] added to the scores for the choice only, never to the weights (e_score_correction_bias) */
  selectionBias?: Float32Array;
  /** [E, 2I, H]: per expert, gate rows then up rows (host arrays, or a matrix already on the GPU) */
  gateUp: W;
  /** [E, H, I] */
  down: W;
  /** [E, 2I]: per expert, I biases of the gate rows then I of the up rows, added before the activation (gpt-oss) */
  gateUpBias?: Float32Array;
  /** [E, H]: added to each expert's output before its routing weight multiplies it (gpt-oss) */
  downBias?: Float32Array;
  shared?: SharedExpertWeights<W>;
  /** [E]: a false/0 expert is never chosen (and leaves the softmax). Default: all allowed. */
  expertMask?: ArrayLike<boolean | number>;
}

/** A block and its input on the host (runMoE, referenceMoE). */
export interface MoESpec extends MoEConfig, MoEWeights<HostWeights> {
  /** T */
  tokens: number;
  /** [T, H] */
  x: Float32Array;
}

/** The largest E: the router keeps a few floats per expert in workgroup memory. */
export const MAX_EXPERTS = 512;
/** The largest T of one call: one workgroup per token along a grid dimension. */
export const MAX_TOKENS = 65535;

export function resolveRouting(c: MoEConfig): Routing {
  const softmaxMode: ScoringMode = c.topkBeforeSoftmax ? 2 : 0;
  return {
    experts: c.numExperts,
    topK: c.topK,
    scoring: c.scoring === 'sigmoid' ? 1 : softmaxMode,
    normTopK: c.normTopK ?? false,
    routedScaling: c.routedScaling ?? 1,
    nGroup: c.nGroup ?? 1,
    topkGroup: c.topkGroup ?? c.nGroup ?? 1,
    groupMax: c.groupScore === 'max',
    topP: c.topP ?? 1,
    minK: c.minK ?? 1,
    capacityFactor: c.capacityFactor ?? 0,
    capacityNext: c.capacityMode === 'next',
  };
}

/** Checks routing controls for a block of `experts` experts; errors name the option as `prefix` + key (e.g. 'routing.topP'). */
export function validateControls(c: RoutingControls, experts: number, prefix = ''): void {
  if (c.topK !== undefined) positiveInt(`${prefix}topK`, c.topK, experts);
  if (c.topP !== undefined && !(typeof c.topP === 'number' && c.topP > 0 && c.topP <= 1)) fail(`${prefix}topP must be in (0, 1], got ${String(c.topP)}`);
  if (c.minK !== undefined) positiveInt(`${prefix}minK`, c.minK, c.topK ?? experts);
  if (c.capacityFactor !== undefined && !(typeof c.capacityFactor === 'number' && c.capacityFactor > 0 && Number.isFinite(c.capacityFactor))) {
    fail(`${prefix}capacityFactor must be a positive finite number, got ${String(c.capacityFactor)}`);
  }
  if (c.capacityMode !== undefined && c.capacityMode !== 'drop' && c.capacityMode !== 'next') {
    fail(`${prefix}capacityMode must be 'drop' or 'next', got ${String(c.capacityMode)}`);
  }
}

/** Tokens (pairs) one expert takes in a call of `tokens` tokens under a capacity factor (0: unbounded). */
export function expertCapacity(r: Pick<Routing, 'capacityFactor' | 'topK' | 'experts'>, tokens: number): number {
  return r.capacityFactor > 0 ? Math.ceil((r.capacityFactor * tokens * r.topK) / r.experts) : Infinity;
}

export class MoEInputError extends Error {
  override name = 'MoEInputError';
}

function fail(message: string): never {
  throw new MoEInputError(`webmoe: ${message}`);
}

function positiveInt(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    fail(`${name} must be an integer in 1…${max}, got ${String(v)}`);
  }
}

function expectLength(name: string, a: ArrayLike<unknown> | undefined, expected: number, shape: string): void {
  if (!a || typeof a.length !== 'number') fail(`${name} is missing: expected ${shape} = ${expected} elements`);
  if (a.length !== expected) fail(`${name} has ${a.length} elements, expected ${shape} = ${expected}`);
}

function expectWeights(name: string, a: ExpertWeights | undefined, s: ExpertShape, shape: string): void {
  const expected = s.experts * s.parts * s.outputs * s.inner;
  if (isExpertMatrix(a)) {
    const got = `${a.experts}·${a.parts}·${a.outputs}·${a.inner}`;
    if (got !== `${s.experts}·${s.parts}·${s.outputs}·${s.inner}`) fail(`${name} is a ${got} matrix, expected ${shape}`);
    return;
  }
  if (!(a instanceof Float32Array) && !(a instanceof Uint16Array)) {
    fail(`${name} must be a Float32Array (f32 values), a Uint16Array (f16 bits) or an ExpertMatrix`);
  }
  expectLength(name, a, expected, shape);
}

/** Checks a block's config and weights; throws MoEInputError naming the first bad field. */
export function validateLayer(c: MoEConfig, w: MoEWeights): void {
  validateRouter(c, w);
  const { hidden: H, numExperts: E, intermediate: I } = c;
  expectWeights('gateUp', w.gateUp, { experts: E, parts: 2, outputs: I, inner: H }, `numExperts·2·intermediate·hidden = ${E}·2·${I}·${H}`);
  expectWeights('down', w.down, { experts: E, parts: 1, outputs: H, inner: I }, `numExperts·hidden·intermediate = ${E}·${H}·${I}`);
  if (w.gateUpBias) expectLength('gateUpBias', w.gateUpBias, E * 2 * I, `numExperts·2·intermediate = ${E}·2·${I}`);
  if (w.downBias) expectLength('downBias', w.downBias, E * H, `numExperts·hidden = ${E}·${H}`);
}

/** Checks a block's config, router and shared expert (all but the routed experts, which a backend may hold elsewhere). */
export function validateRouter(c: MoEConfig, w: Omit<MoEWeights, 'gateUp' | 'down'>): void {
  positiveInt('hidden', c.hidden);
  positiveInt('numExperts', c.numExperts, MAX_EXPERTS);
  positiveInt('intermediate', c.intermediate);
  const { hidden: H, numExperts: E } = c;
  positiveInt('topK', c.topK, E);
  validateControls({ ...c, topK: c.topK }, E);
  if (c.scoring !== undefined && c.scoring !== 'softmax' && c.scoring !== 'sigmoid') {
    fail(`scoring must be 'softmax' or 'sigmoid', got ${String(c.scoring)}`);
  }
  if (c.scoring === 'sigmoid' && c.topkBeforeSoftmax) fail(`topkBeforeSoftmax needs scoring 'softmax'`);
  if (c.groupScore !== undefined && c.groupScore !== 'top2Sum' && c.groupScore !== 'max') {
    fail(`groupScore must be 'top2Sum' or 'max', got ${String(c.groupScore)}`);
  }
  if (c.dtype !== undefined && !WEIGHT_DTYPES.includes(c.dtype)) {
    fail(`dtype must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${String(c.dtype)}`);
  }
  if (c.routedScaling !== undefined && !Number.isFinite(c.routedScaling)) fail(`routedScaling must be finite, got ${c.routedScaling}`);
  validateActivation(c.activation);
  const r = resolveRouting(c);
  positiveInt('nGroup', r.nGroup, E);
  if (E % r.nGroup) fail(`nGroup ${r.nGroup} must divide numExperts ${E}`);
  positiveInt('topkGroup', r.topkGroup, r.nGroup);

  expectLength('router', w.router, E * H, `numExperts·hidden = ${E}·${H}`);
  if (w.routerBias) expectLength('routerBias', w.routerBias, E, 'numExperts');
  if (w.selectionBias) expectLength('selectionBias', w.selectionBias, E, 'numExperts');
  if (w.shared) {
    const s = w.shared;
    positiveInt('shared.intermediate', s.intermediate);
    const S = s.intermediate;
    expectWeights('shared.gateUp', s.gateUp, { experts: 1, parts: 2, outputs: S, inner: H }, `2·shared.intermediate·hidden = 2·${S}·${H}`);
    expectWeights('shared.down', s.down, { experts: 1, parts: 1, outputs: H, inner: S }, `hidden·shared.intermediate = ${H}·${S}`);
    if (s.gate) expectLength('shared.gate', s.gate, H, 'hidden');
  }
  validateMask(w.expertMask ?? new Array<number>(E).fill(1), r);
}

function validateActivation(a: Activation | undefined): void {
  if (a === undefined || a.kind === 'swiglu') return;
  if (a.kind !== 'swiglu_clamped') fail(`activation.kind must be 'swiglu' or 'swiglu_clamped', got ${String((a as { kind: unknown }).kind)}`);
  if (!Number.isFinite(a.alpha)) fail(`activation.alpha must be finite, got ${a.alpha}`);
  if (!(a.limit > 0) || !Number.isFinite(a.limit)) fail(`activation.limit must be a positive finite number, got ${a.limit}`);
}

/** k experts must stay choosable in every set of groups the grouped top-k may keep, under the mask. */
export function validateMask(mask: ArrayLike<boolean | number>, r: Routing): void {
  expectLength('expertMask', mask, r.experts, 'numExperts');
  const size = r.experts / r.nGroup;
  const perGroup = Array.from({ length: r.nGroup }, (_, g) => {
    let n = 0;
    for (let e = g * size; e < (g + 1) * size; e++) n += mask[e] ? 1 : 0;
    return n;
  }).sort((a, b) => a - b);
  const worst = perGroup.slice(0, r.topkGroup).reduce((a, b) => a + b, 0);
  if (worst < r.topK) {
    const why = r.nGroup > 1 ? `topkGroup ${r.topkGroup} of ${r.nGroup} groups` : 'expertMask';
    fail(`${why} leaves ${worst} experts choosable in the worst case, fewer than topK = ${r.topK}`);
  }
}

export function validateSpec(s: MoESpec): void {
  if (typeof s.tokens !== 'number' || !Number.isInteger(s.tokens) || s.tokens < 0 || s.tokens > MAX_TOKENS) {
    fail(`tokens must be an integer in 0…${MAX_TOKENS}, got ${String(s.tokens)}`);
  }
  validateLayer(s, s);
  expectLength('x', s.x, s.tokens * s.hidden, `tokens·hidden = ${s.tokens}·${s.hidden}`);
}
