// The decoder's configuration, the same for every family: a family adapter (families.ts) reads a
// Hub config.json into it, and validateConfig turns bad values into errors naming the field.
import type { QKNorm } from '../kernels/attention.js';
import type { MlaSpec } from './blocks/mla.js';
import type { Activation } from '../kernels/expertMatmul.js';
import type { CheckpointStorage } from '../weights/format.js';
import type { Rope } from './rope.js';
import { MAX_EXPERTS, type MoEConfig } from '../moe/spec.js';

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

export interface ModelConfig {
  /** model_type of config.json */
  family: string;
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  /** rotary embedding: frequencies and scale (rope.ts) */
  rope: Rope;
  maxPositions: number;
  tieEmbeddings: boolean;
  qkvBias: boolean;
  /** o_proj bias (attention_bias of OLMoE, Qwen3-MoE, GraniteMoE) */
  oBias?: boolean;
  qkNorm: QKNorm;
  /** q, k and v clamped to ±clipQkv after the projections and q/k norms (OLMoE's clip_qkv) */
  clipQkv?: number;
  /** per layer, the sliding window W of its attention (keys p − W < j ≤ p), undefined for full attention; absent: none slides */
  windows?: (number | undefined)[];
  /** a sink logit per query head in the attention softmax, `self_attn.sinks` (gpt-oss) */
  sinks?: boolean;
  /** x = embedding · embeddingScale (GraniteMoE's embedding_multiplier) */
  embeddingScale: number;
  /** softmax scale of attention: 1/√headDim, or GraniteMoE's attention_multiplier */
  attentionScale: number;
  /** h += residualScale · sub-block output (GraniteMoE's residual_multiplier) */
  residualScale: number;
  /** logits = lm_head(x) · logitsScale (GraniteMoE: 1 / logits_scaling) */
  logitsScale: number;
  experts: number;
  topK: number;
  /** per-expert intermediate size */
  moeIntermediate: number;
  normTopK: boolean;
  topkBeforeSoftmax: boolean;
  /** DeepSeek's routing: sigmoid scores, grouped top-k, routed scaling (moe/spec.ts) */
  routing?: Pick<MoEConfig, 'scoring' | 'routedScaling' | 'nGroup' | 'topkGroup' | 'groupScore'>;
  /** the experts' gated activation (gpt-oss: clamped SwiGLU); absent: SwiGLU */
  expertActivation?: Activation;
  /** the routed experts' storage as the checkpoint has it, whatever the dtype (gpt-oss's Hub MXFP4) */
  expertStorage?: CheckpointStorage;
  /** the shared expert's intermediate size: Qwen2-MoE's (sigmoid-gated), DeepSeek's (n_shared_experts · moe_intermediate_size, ungated) */
  sharedIntermediate?: number;
  /** dense MLP intermediate size, for layers that are not sparse */
  denseIntermediate?: number;
  /** per layer: a MoE block (true) or a dense MLP (false) */
  sparse: boolean[];
  /** Multi-head Latent Attention's sizes (DeepSeek-V2/V3), whose rope part is headDim */
  mla?: Pick<MlaSpec, 'qLoraRank' | 'kvLoraRank' | 'qkNopeHeadDim' | 'qkRopeHeadDim' | 'vHeadDim' | 'interleave'>;
  eosTokenIds: number[];
}

const where = (family: string) => `config.json (${family})`;

/** The config.json keys a field comes from, for messages. */
const KEYS: Partial<Record<keyof ModelConfig, string>> = {
  vocab: 'vocab_size',
  hidden: 'hidden_size',
  layers: 'num_hidden_layers',
  heads: 'num_attention_heads',
  kvHeads: 'num_key_value_heads',
  headDim: 'head_dim',
  maxPositions: 'max_position_embeddings',
  experts: 'num_experts / num_local_experts / n_routed_experts',
  topK: 'num_experts_per_tok',
  moeIntermediate: 'moe_intermediate_size / intermediate_size',
  sharedIntermediate: 'shared_expert_intermediate_size',
  denseIntermediate: 'intermediate_size',
  rmsEps: 'rms_norm_eps',
  embeddingScale: 'embedding_multiplier',
  attentionScale: 'attention_multiplier',
  residualScale: 'residual_multiplier',
  logitsScale: '1 / logits_scaling',
  clipQkv: 'clip_qkv',
  windows: 'sliding_window',
};

/** The config.json key (or keys, across families) a field comes from. */
export const configKey = (field: keyof ModelConfig): string => KEYS[field] ?? field;

function fail(c: ModelConfig, field: keyof ModelConfig, expected: string): never {
  throw new ModelConfigError(`webmoe: ${where(c.family)}: ${configKey(field)} must be ${expected}, got ${String(c[field])}`);
}

function int(c: ModelConfig, field: keyof ModelConfig, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const v = c[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(c, field, `an integer in ${min}…${max}`);
}

function positive(c: ModelConfig, field: keyof ModelConfig): void {
  const v = c[field];
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(c, field, 'a positive number');
}

/**
 * Upper bounds of the sizes, far above any released model's (the largest have a vocabulary of about
 * 262k, hidden 16k, 128 layers and heads, intermediate 53k, 10M positions): a config beyond them is
 * corrupt or hostile, and is refused before anything is sized by it (a list of 1e9 layers, a 1e15-row
 * embedding would take the process down).
 */
export const MAX_SIZES = {
  vocab: 2 ** 22,
  hidden: 2 ** 16,
  layers: 2 ** 12,
  heads: 2 ** 12,
  headDim: 256, // attention.wgsl holds a head in workgroup memory
  maxPositions: 2 ** 30,
  intermediate: 2 ** 18,
} as const;

/** Checks the ranges the kernels rely on; throws ModelConfigError naming the field. */
export function validateConfig(c: ModelConfig): ModelConfig {
  int(c, 'vocab', 1, MAX_SIZES.vocab);
  int(c, 'hidden', 1, MAX_SIZES.hidden);
  int(c, 'layers', 1, MAX_SIZES.layers);
  int(c, 'heads', 1, MAX_SIZES.heads);
  int(c, 'kvHeads', 1, c.heads);
  if (c.heads % c.kvHeads) fail(c, 'kvHeads', `a divisor of num_attention_heads ${c.heads}`);
  int(c, 'headDim', 2, MAX_SIZES.headDim);
  if (c.headDim % 2) fail(c, 'headDim', 'even (rotary embeddings rotate pairs)');
  int(c, 'maxPositions', 1, MAX_SIZES.maxPositions);
  int(c, 'experts', 1, MAX_EXPERTS);
  int(c, 'topK', 1, c.experts);
  int(c, 'moeIntermediate', 1, MAX_SIZES.intermediate);
  if (c.sharedIntermediate !== undefined) int(c, 'sharedIntermediate', 1, MAX_SIZES.intermediate);
  if (c.sparse.some((s) => !s)) int(c, 'denseIntermediate', 1, MAX_SIZES.intermediate);
  for (const f of ['rmsEps', 'embeddingScale', 'attentionScale', 'residualScale', 'logitsScale'] as const) positive(c, f);
  if (c.clipQkv !== undefined) positive(c, 'clipQkv');
  if (c.windows && (c.windows.length !== c.layers || c.windows.some((w) => w !== undefined && !(Number.isInteger(w) && w >= 1)))) {
    fail(c, 'windows', `a positive integer for each of the ${c.layers} layers that slide`);
  }
  if (c.routing) validateRouting(c, c.routing);
  return c;
}

/** DeepSeek's grouped top-k and scaling, named by their config.json keys. */
function validateRouting(c: ModelConfig, r: NonNullable<ModelConfig['routing']>): void {
  const bad = (key: string, expected: string, got: unknown): never => {
    throw new ModelConfigError(`webmoe: ${where(c.family)}: ${key} must be ${expected}, got ${String(got)}`);
  };
  const nGroup = r.nGroup ?? 1;
  const topkGroup = r.topkGroup ?? nGroup;
  if (!Number.isInteger(nGroup) || nGroup < 1 || c.experts % nGroup) bad('n_group', `a divisor of the ${c.experts} experts`, nGroup);
  if (!Number.isInteger(topkGroup) || topkGroup < 1 || topkGroup > nGroup) bad('topk_group', `an integer in 1…${nGroup}`, topkGroup);
  if ((topkGroup * c.experts) / nGroup < c.topK) {
    bad('topk_group', `at least ${Math.ceil(c.topK / (c.experts / nGroup))} groups to hold num_experts_per_tok ${c.topK}`, topkGroup);
  }
  if (r.routedScaling !== undefined && !(r.routedScaling > 0 && Number.isFinite(r.routedScaling))) {
    bad('routed_scaling_factor', 'a positive number', r.routedScaling);
  }
}

/** The routed experts' block of every MoE layer (all of one shape). */
export const moeConfigOf = (c: ModelConfig): MoEConfig => ({
  hidden: c.hidden,
  numExperts: c.experts,
  intermediate: c.moeIntermediate,
  topK: c.topK,
  normTopK: c.normTopK,
  topkBeforeSoftmax: c.topkBeforeSoftmax,
  ...c.routing,
  activation: c.expertActivation,
});

/** The layers whose MLP is a MoE block. */
export const sparseLayers = (c: ModelConfig): number[] => c.sparse.flatMap((s, l) => (s ? [l] : []));
