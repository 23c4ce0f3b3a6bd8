// What the families share: reading config.json fields with named errors, the keys every family reads
// alike, the Hugging Face tensor names of the Llama-style layout, and the blocks they all build.
import { gqa } from '../blocks/gqa.js';
import { dense, type FFNNames, moe, type MoeSpec } from '../blocks/moe.js';
import { MAX_SIZES, type ModelConfig, ModelConfigError, moeConfigOf } from '../config.js';
import { ropeOf } from '../rope.js';
import type { LayerSpec, Raw } from './family.js';

export function field<T>(raw: Raw, key: string, type: 'number' | 'boolean' | 'object', fallback?: T): T {
  const v = raw[key] ?? fallback;
  if (v === undefined) throw new ModelConfigError(`webmoe: config.json has no ${key} (${String(raw.model_type)} needs it)`);
  if (typeof v !== type) throw new ModelConfigError(`webmoe: config.json: ${key} must be a ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * A size that sizes something before validateConfig runs (the list of layers, the rotary
 * frequencies): an integer in 1…max, checked as it is read.
 */
export function size(raw: Raw, key: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new ModelConfigError(`webmoe: config.json (${String(raw.model_type)}): ${key} must be an integer in 1…${max}, got ${v}`);
  }
  return v;
}

/**
 * A key whose other values change the arithmetic in a way webmoe does not compute: refused by name
 * unless absent or `ok`, never ignored.
 */
export function refuseUnless(raw: Raw, key: string, expected: string, ok: (v: unknown) => boolean): void {
  const v = raw[key];
  if (v !== undefined && !ok(v)) {
    throw new ModelConfigError(`webmoe: config.json (${String(raw.model_type)}): ${key} ${JSON.stringify(v)} is not supported (expected ${expected})`);
  }
}

/**
 * A quantization_config is refused unless the family loads its quant_method (`accepted`): its tensors
 * are not the plain floats the blocks read. webmoe quantizes F32/F16/BF16 weights itself (dtype q8/q4).
 */
export function checkQuantization(raw: Raw, accepted: readonly string[] = []): void {
  const q = raw.quantization_config;
  if (q == null) return;
  const method = (q as { quant_method?: unknown }).quant_method;
  if (typeof method === 'string' && accepted.includes(method)) return;
  const supported = accepted.length ? `supported: ${accepted.join(', ')}` : 'expected F32, F16 or BF16 weights; dtype q8/q4 quantizes them while loading';
  throw new ModelConfigError(
    `webmoe: config.json (${String(raw.model_type)}): quantization_config ${JSON.stringify(method ?? q)} is not supported (${supported})`,
  );
}

/** What every family reads the same way; `moe` names its expert count and expert intermediate size keys. */
export function commonConfig(raw: Raw, moeKeys: { experts: string; intermediate: string }): ModelConfig {
  // The MLPs compute SiLU (transformers' ACT2FN: "swish" is the same function).
  refuseUnless(raw, 'hidden_act', '"silu"', (v) => v === 'silu' || v === 'swish');
  const hidden = size(raw, 'hidden_size', field(raw, 'hidden_size', 'number'), MAX_SIZES.hidden);
  const heads = size(raw, 'num_attention_heads', field(raw, 'num_attention_heads', 'number'), MAX_SIZES.heads);
  const layers = size(raw, 'num_hidden_layers', field(raw, 'num_hidden_layers', 'number'), MAX_SIZES.layers);
  const headDim = size(raw, raw.head_dim == null ? 'head_dim (hidden_size / num_attention_heads)' : 'head_dim',
    field(raw, 'head_dim', 'number', hidden / heads), MAX_SIZES.headDim);
  return {
    family: String(raw.model_type),
    vocab: field(raw, 'vocab_size', 'number'),
    hidden,
    layers,
    heads,
    headDim,
    kvHeads: field(raw, 'num_key_value_heads', 'number', heads),
    rmsEps: field(raw, 'rms_norm_eps', 'number', 1e-6),
    rope: ropeOf(raw, headDim),
    maxPositions: field(raw, 'max_position_embeddings', 'number', 4096),
    tieEmbeddings: field(raw, 'tie_word_embeddings', 'boolean', false),
    qkvBias: false,
    qkNorm: 'none',
    embeddingScale: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    residualScale: 1,
    logitsScale: 1,
    experts: field(raw, moeKeys.experts, 'number'),
    topK: field(raw, 'num_experts_per_tok', 'number'),
    moeIntermediate: field(raw, moeKeys.intermediate, 'number'),
    normTopK: field(raw, 'norm_topk_prob', 'boolean', false),
    topkBeforeSoftmax: false,
    sparse: new Array<boolean>(layers).fill(true),
    eosTokenIds: tokenIds(raw, 'eos_token_id'),
  };
}

/** A token id or a list of them (eos_token_id): integers ≥ 0; [] if absent or null. */
function tokenIds(raw: Raw, key: string): number[] {
  const v = raw[key] ?? [];
  const ids = Array.isArray(v) ? v : [v];
  if (ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new ModelConfigError(`webmoe: config.json (${String(raw.model_type)}): ${key} must be a token id or an array of them, got ${JSON.stringify(v)}`);
  }
  return ids as number[];
}

/** attention_bias: biases on q, k, v and o_proj (OLMoE, Qwen3-MoE and GraniteMoE's modeling code). */
export function attentionBias(raw: Raw): Pick<ModelConfig, 'qkvBias' | 'oBias'> {
  const bias = field<boolean>(raw, 'attention_bias', 'boolean', false);
  return { qkvBias: bias, oBias: bias };
}

/**
 * config.json's layer_types, as newer configs (gpt-oss, Qwen2-MoE) list them: per layer, whether its
 * attention slides ('sliding_attention') or sees every position ('full_attention'); undefined without
 * the key. Other types are refused by name.
 */
export function layerTypes(raw: Raw, layers: number): boolean[] | undefined {
  const types = raw.layer_types;
  if (types == null) return undefined;
  if (!Array.isArray(types) || types.length !== layers) {
    throw new ModelConfigError(`webmoe: config.json: layer_types must list the ${layers} layers' attention, got ${JSON.stringify(types)}`);
  }
  return types.map((t, l) => {
    if (t !== 'sliding_attention' && t !== 'full_attention') {
      throw new ModelConfigError(`webmoe: config.json: layer_types[${l}] ${JSON.stringify(t)} is not supported (sliding_attention, full_attention)`);
    }
    return t === 'sliding_attention';
  });
}

/** Per layer the window of its attention: sliding_window where `slides` (undefined: full); undefined if none slides. */
export function slidingWindows(raw: Raw, slides: boolean[]): ModelConfig['windows'] {
  if (!slides.some(Boolean)) return undefined;
  const w = raw.sliding_window;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 1) {
    throw new ModelConfigError(`webmoe: config.json: sliding_window must be a positive integer where layers slide, got ${JSON.stringify(w)}`);
  }
  return slides.map((s) => (s ? w : undefined));
}

/** Qwen2-MoE / Qwen3-MoE: which layers are sparse (decoder_sparse_step, mlp_only_layers). */
export function sparseLayersOf(raw: Raw, c: ModelConfig): boolean[] {
  const step = size(raw, 'decoder_sparse_step', field(raw, 'decoder_sparse_step', 'number', 1), MAX_SIZES.layers);
  const dense = layerList(raw, 'mlp_only_layers', c.layers);
  return c.sparse.map((_, l) => !dense.includes(l) && c.experts > 0 && (l + 1) % step === 0);
}

/** A list of layer indices (mlp_only_layers): an array of integers in 0…layers − 1, [] if absent. */
function layerList(raw: Raw, key: string, layers: number): number[] {
  const v = raw[key] ?? [];
  if (!Array.isArray(v) || v.some((l) => !Number.isInteger(l) || l < 0 || l >= layers)) {
    throw new ModelConfigError(
      `webmoe: config.json (${String(raw.model_type)}): ${key} must be an array of layer indices in 0…${layers - 1}, got ${JSON.stringify(v)}`,
    );
  }
  return v as number[];
}

export const HF_TENSORS = { embed: 'model.embed_tokens.weight', finalNorm: 'model.norm.weight', lmHead: 'lm_head.weight' };

export const layerPrefix = (l: number) => `model.layers.${l}.`;

export const projections = (p: string): FFNNames => ({ gate: `${p}gate_proj.weight`, up: `${p}up_proj.weight`, down: `${p}down_proj.weight` });

export const projectionExperts = (p: string) => ({
  gate: (e: number) => `${p}experts.${e}.gate_proj.weight`,
  up: (e: number) => `${p}experts.${e}.up_proj.weight`,
  down: (e: number) => `${p}experts.${e}.down_proj.weight`,
});

/**
 * A layer of grouped-query attention (q/k/v and o biases, q/k norms, clip_qkv and a sliding window where
 * the config has them) and the MLP `mlp`, named `model.layers.N.input_layernorm`, `self_attn.{q,k,v,o}_proj` and so on.
 */
export function llamaLayer(c: ModelConfig, l: number, mlp: LayerSpec['mlp']): LayerSpec {
  const p = `${layerPrefix(l)}self_attn.`;
  return {
    inputNorm: `${layerPrefix(l)}input_layernorm.weight`,
    postNorm: `${layerPrefix(l)}post_attention_layernorm.weight`,
    attention: gqa({
      hidden: c.hidden,
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
      rope: c.rope,
      scale: c.attentionScale,
      eps: c.rmsEps,
      qkNorm: c.qkNorm,
      window: c.windows?.[l],
      clip: c.clipQkv,
      sinks: c.sinks ? `${p}sinks` : undefined,
      names: {
        q: `${p}q_proj.weight`,
        k: `${p}k_proj.weight`,
        v: `${p}v_proj.weight`,
        o: `${p}o_proj.weight`,
        ...(c.oBias && { oBias: `${p}o_proj.bias` }),
        ...(c.qkvBias && { bias: [`${p}q_proj.bias`, `${p}k_proj.bias`, `${p}v_proj.bias`] as [string, string, string] }),
        ...(c.qkNorm !== 'none' && { qkNorm: [`${p}q_norm.weight`, `${p}k_norm.weight`] as [string, string] }),
      },
    }),
    mlp,
  };
}

/** The layer's MoE block over the model's routed experts. */
export const moeMlp = (c: ModelConfig, names: MoeSpec['names']) => moe({ config: moeConfigOf(c), names });

/** A dense layer's MLP (intermediate_size), named `mlp.{gate,up,down}_proj`. */
export const denseMlp = (c: ModelConfig, l: number) =>
  dense({ hidden: c.hidden, intermediate: c.denseIntermediate!, names: projections(`${layerPrefix(l)}mlp.`) });
