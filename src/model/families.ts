// One small adapter per model family: how its config.json reads into a ModelConfig and what its
// tensors are called. Everything else (the decoder forward) is shared.
import { type ModelConfig, ModelConfigError, validateConfig } from './config.js';

type Raw = Record<string, unknown>;

/** Names of one layer's tensors; absent entries are tensors the family does not have. */
export interface LayerNames {
  inputNorm: string;
  postNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  qkvBias?: [string, string, string];
  qkNorm?: [string, string];
  router: string;
  /** per-expert [I,H] gate and up, [H,I] down; or stacked [E,2I,H] and [E,H,I] */
  experts: { gate(e: number): string; up(e: number): string; down(e: number): string } | { gateUp: string; down: string };
  shared?: { gate: string; up: string; down: string; sharedGate: string };
  /** a dense layer's MLP */
  dense: { gate: string; up: string; down: string };
}

export interface Family {
  modelType: string;
  architecture: string;
  config(raw: Raw): ModelConfig;
  layer(l: number): LayerNames;
}

export const EMBED = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

function field<T>(raw: Raw, key: string, type: 'number' | 'boolean' | 'object', fallback?: T): T {
  const v = raw[key] ?? fallback;
  if (v === undefined) throw new ModelConfigError(`webmoe: config.json has no ${key} (${String(raw.model_type)} needs it)`);
  if (typeof v !== type) throw new ModelConfigError(`webmoe: config.json: ${key} must be a ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** What every family reads the same way. */
function common(raw: Raw, moe: { experts: string; intermediate: string }): ModelConfig {
  if (raw.rope_scaling != null) {
    throw new ModelConfigError(`webmoe: config.json: rope_scaling ${JSON.stringify(raw.rope_scaling)} is not supported (plain rotary embeddings only)`);
  }
  const hidden = field<number>(raw, 'hidden_size', 'number');
  const heads = field<number>(raw, 'num_attention_heads', 'number');
  const layers = field<number>(raw, 'num_hidden_layers', 'number');
  const headDim = field<number>(raw, 'head_dim', 'number', hidden / heads);
  const eos = raw.eos_token_id;
  return {
    family: String(raw.model_type),
    vocab: field(raw, 'vocab_size', 'number'),
    hidden, layers, heads, headDim,
    kvHeads: field(raw, 'num_key_value_heads', 'number', heads),
    rmsEps: field(raw, 'rms_norm_eps', 'number', 1e-6),
    ropeTheta: field(raw, 'rope_theta', 'number', 10000),
    maxPositions: field(raw, 'max_position_embeddings', 'number', 4096),
    tieEmbeddings: field(raw, 'tie_word_embeddings', 'boolean', false),
    qkvBias: false,
    qkNorm: 'none',
    embeddingScale: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    residualScale: 1,
    logitsScale: 1,
    experts: field(raw, moe.experts, 'number'),
    topK: field(raw, 'num_experts_per_tok', 'number'),
    moeIntermediate: field(raw, moe.intermediate, 'number'),
    normTopK: field(raw, 'norm_topk_prob', 'boolean', false),
    topkBeforeSoftmax: false,
    sparse: new Array<boolean>(layers).fill(true),
    eosTokenIds: typeof eos === 'number' ? [eos] : Array.isArray(eos) ? eos.filter((e) => typeof e === 'number') : [],
  };
}

const attention = (p: string) => ({
  inputNorm: `${p}input_layernorm.weight`,
  postNorm: `${p}post_attention_layernorm.weight`,
  q: `${p}self_attn.q_proj.weight`,
  k: `${p}self_attn.k_proj.weight`,
  v: `${p}self_attn.v_proj.weight`,
  o: `${p}self_attn.o_proj.weight`,
});
const prefix = (l: number) => `model.layers.${l}.`;
const projections = (p: string) => ({ gate: `${p}gate_proj.weight`, up: `${p}up_proj.weight`, down: `${p}down_proj.weight` });
const projectionExperts = (p: string) => ({
  gate: (e: number) => `${p}experts.${e}.gate_proj.weight`,
  up: (e: number) => `${p}experts.${e}.up_proj.weight`,
  down: (e: number) => `${p}experts.${e}.down_proj.weight`,
});

/** Qwen2-MoE, Qwen3-MoE and OLMoE share the mlp.gate / mlp.experts.N.*_proj layout. */
function qwenStyle(l: number, extra: Partial<LayerNames> = {}): LayerNames {
  const p = prefix(l);
  return { ...attention(p), router: `${p}mlp.gate.weight`, experts: projectionExperts(`${p}mlp.`), dense: projections(`${p}mlp.`), ...extra };
}

/** Qwen2-MoE / Qwen3-MoE: which layers are sparse (decoder_sparse_step, mlp_only_layers). */
function qwenSparse(raw: Raw, c: ModelConfig): boolean[] {
  const step = field<number>(raw, 'decoder_sparse_step', 'number', 1);
  const dense = field<unknown[]>(raw, 'mlp_only_layers', 'object', []);
  return c.sparse.map((_, l) => !dense.includes(l) && c.experts > 0 && (l + 1) % step === 0);
}

export const FAMILIES: Family[] = [
  {
    modelType: 'mixtral',
    architecture: 'MixtralForCausalLM',
    config: (raw) => ({ ...common(raw, { experts: 'num_local_experts', intermediate: 'intermediate_size' }), normTopK: true }),
    layer: (l) => {
      const p = `${prefix(l)}block_sparse_moe.`;
      return {
        ...attention(prefix(l)),
        router: `${p}gate.weight`,
        experts: { gate: (e) => `${p}experts.${e}.w1.weight`, up: (e) => `${p}experts.${e}.w3.weight`, down: (e) => `${p}experts.${e}.w2.weight` },
        dense: projections(`${prefix(l)}mlp.`),
      };
    },
  },
  {
    modelType: 'qwen2_moe',
    architecture: 'Qwen2MoeForCausalLM',
    config: (raw) => {
      const c = { ...common(raw, { experts: 'num_experts', intermediate: 'moe_intermediate_size' }), qkvBias: true };
      return {
        ...c,
        sparse: qwenSparse(raw, c),
        sharedIntermediate: field<number>(raw, 'shared_expert_intermediate_size', 'number'),
        denseIntermediate: field<number>(raw, 'intermediate_size', 'number'),
      };
    },
    layer: (l) => {
      const p = prefix(l);
      return qwenStyle(l, {
        qkvBias: [`${p}self_attn.q_proj.bias`, `${p}self_attn.k_proj.bias`, `${p}self_attn.v_proj.bias`],
        shared: { ...projections(`${p}mlp.shared_expert.`), sharedGate: `${p}mlp.shared_expert_gate.weight` },
      });
    },
  },
  {
    modelType: 'qwen3_moe',
    architecture: 'Qwen3MoeForCausalLM',
    config: (raw) => {
      const c: ModelConfig = { ...common(raw, { experts: 'num_experts', intermediate: 'moe_intermediate_size' }), qkNorm: 'head' };
      const sparse = qwenSparse(raw, c);
      return { ...c, sparse, denseIntermediate: sparse.every(Boolean) ? undefined : field<number>(raw, 'intermediate_size', 'number') };
    },
    layer: (l) => qwenStyle(l, { qkNorm: [`${prefix(l)}self_attn.q_norm.weight`, `${prefix(l)}self_attn.k_norm.weight`] }),
  },
  {
    modelType: 'olmoe',
    architecture: 'OlmoeForCausalLM',
    config: (raw) => ({ ...common(raw, { experts: 'num_experts', intermediate: 'intermediate_size' }), qkNorm: 'full' }),
    layer: (l) => qwenStyle(l, { qkNorm: [`${prefix(l)}self_attn.q_norm.weight`, `${prefix(l)}self_attn.k_norm.weight`] }),
  },
  {
    modelType: 'granitemoe',
    architecture: 'GraniteMoeForCausalLM',
    config: (raw) => ({
      ...common(raw, { experts: 'num_local_experts', intermediate: 'intermediate_size' }),
      topkBeforeSoftmax: true,
      embeddingScale: field<number>(raw, 'embedding_multiplier', 'number', 1),
      attentionScale: field<number>(raw, 'attention_multiplier', 'number', 1),
      residualScale: field<number>(raw, 'residual_multiplier', 'number', 1),
      logitsScale: 1 / field<number>(raw, 'logits_scaling', 'number', 1),
    }),
    layer: (l) => {
      const p = `${prefix(l)}block_sparse_moe.`;
      return {
        ...attention(prefix(l)),
        router: `${p}router.layer.weight`,
        experts: { gateUp: `${p}input_linear.weight`, down: `${p}output_linear.weight` },
        dense: projections(`${prefix(l)}mlp.`),
      };
    },
  },
];

/** The family of a config.json and its validated ModelConfig; unknown families list the supported ones. */
export function readConfig(raw: Raw): { family: Family; config: ModelConfig } {
  const family = FAMILIES.find((f) => f.modelType === raw.model_type);
  if (!family) {
    const archs = Array.isArray(raw.architectures) ? ` (${raw.architectures.join(', ')})` : '';
    throw new ModelConfigError(
      `webmoe: unsupported architecture: model_type ${JSON.stringify(raw.model_type)}${archs}; supported: ` +
      FAMILIES.map((f) => `${f.modelType} (${f.architecture})`).join(', '),
    );
  }
  return { family, config: validateConfig(family.config(raw)) };
}
