// DeepSeek-V2 / V2-Lite (DeepseekV2ForCausalLM): Multi-head Latent Attention (blocks/mla.ts), its rope
// part in the checkpoints' interleaved pairs; dense MLPs in the first first_k_dense_replace layers, then
// MoE layers whose n_shared_experts shared experts (one FFN of n_shared_experts · moe_intermediate_size)
// always run, ungated, beside the routed ones: softmax → top-k (topk_method greedy) or
// group_limited_greedy (n_group groups ranked by their best expert, topk_group kept), weights ×
// routed_scaling_factor, never renormalised. deepseek_v3.ts reuses the layout with its own routing.
import { mla } from '../blocks/mla.js';
import { type ModelConfig, ModelConfigError } from '../config.js';
import { yarnMscale } from '../rope.js';
import { commonConfig, denseMlp, field, HF_TENSORS, layerPrefix, moeMlp, projectionExperts, projections, refuseUnless } from './common.js';
import type { Family, LayerSpec, Raw } from './family.js';

/** A ModelConfigError about this config.json. */
export const refuse = (raw: Raw, what: string): never => {
  throw new ModelConfigError(`webmoe: config.json (${String(raw.model_type)}): ${what}`);
};

/** The sizes, MLA and layer kinds DeepSeek-V2 and V3 read alike, with transformers' defaults. */
export function deepseekConfig(raw: Raw, defaults: { firstDense: number; shared: number }): ModelConfig {
  // biases on q_a_proj, kv_a_proj_with_mqa and o_proj: not computed
  refuseUnless(raw, 'attention_bias', 'false', (v) => v === false);
  // The original code's expert parallelism (webmoe places experts with its workers option), and a
  // tensor-parallel rank transformers' DeepSeek code never reads: the releases have 1.
  refuseUnless(raw, 'ep_size', '1', (v) => v === 1);
  refuseUnless(raw, 'pretraining_tp', '1', (v) => v === 1);
  const qkRope = field<number>(raw, 'qk_rope_head_dim', 'number', 64);
  const qkNope = field<number>(raw, 'qk_nope_head_dim', 'number', 128);
  // head_dim is the rope part's, as transformers sets it: the rotary table is qk_rope_head_dim wide.
  const c = commonConfig({ ...raw, head_dim: qkRope }, { experts: 'n_routed_experts', intermediate: 'moe_intermediate_size' });
  if (c.kvHeads !== c.heads) refuse(raw, `num_key_value_heads ${c.kvHeads} must equal num_attention_heads ${c.heads} (MLA has a key and value per head)`);
  const qLoraRank = raw.q_lora_rank === null ? undefined : field<number>(raw, 'q_lora_rank', 'number', 1536);
  const firstDense = field<number>(raw, 'first_k_dense_replace', 'number', defaults.firstDense);
  // The original modeling code's rule (transformers ignores moe_layer_freq; the releases have 1).
  const freq = field<number>(raw, 'moe_layer_freq', 'number', 1);
  const sparse = c.sparse.map((_, l) => l >= firstDense && l % freq === 0);
  return {
    ...c,
    attentionScale: mlaScale(raw, qkNope + qkRope),
    sparse,
    denseIntermediate: sparse.every(Boolean) ? undefined : field<number>(raw, 'intermediate_size', 'number'),
    sharedIntermediate: field<number>(raw, 'n_shared_experts', 'number', defaults.shared) * c.moeIntermediate,
    mla: {
      qLoraRank,
      kvLoraRank: field<number>(raw, 'kv_lora_rank', 'number', 512),
      qkNopeHeadDim: qkNope,
      qkRopeHeadDim: qkRope,
      vHeadDim: field<number>(raw, 'v_head_dim', 'number', 128),
      interleave: true,
    },
  };
}

/**
 * 1/√(qk_nope_head_dim + qk_rope_head_dim), × mscale² where a scaled rope (YaRN) gives mscale_all_dim:
 * mscale = 0.1 · mscale_all_dim · ln(factor) + 1 (DeepseekV2/V3Attention). YaRN's own attention factor
 * (mscale / mscale_all_dim) scales the rope part's cos and sin besides (rope.ts).
 */
function mlaScale(raw: Raw, qkHeadDim: number): number {
  const p = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Raw;
  const scale = 1 / Math.sqrt(qkHeadDim);
  if ((p.rope_type ?? p.type ?? 'default') === 'default' || !p.mscale_all_dim) return scale;
  const factor = p.factor;
  if (typeof factor !== 'number') refuse(raw, `rope_scaling.mscale_all_dim needs rope_scaling.factor, got ${JSON.stringify(factor)}`);
  return scale * yarnMscale(factor as number, p.mscale_all_dim as number) ** 2;
}

/** A DeepSeek layer: MLA named self_attn.*, then a dense MLP or a MoE block with shared experts. */
export function deepseekLayer(c: ModelConfig, l: number, selectionBias: boolean): LayerSpec {
  const p = layerPrefix(l);
  const a = `${p}self_attn.`;
  const m = c.mla!;
  const q = m.qLoraRank ? { qA: `${a}q_a_proj.weight`, qANorm: `${a}q_a_layernorm.weight`, qB: `${a}q_b_proj.weight` } : { q: `${a}q_proj.weight` };
  const attention = mla({
    ...m,
    hidden: c.hidden,
    heads: c.heads,
    rope: c.rope,
    scale: c.attentionScale,
    eps: 1e-6, // q_a_layernorm and kv_a_layernorm keep the RMSNorm default, not rms_norm_eps
    names: { ...q, kvA: `${a}kv_a_proj_with_mqa.weight`, kvANorm: `${a}kv_a_layernorm.weight`, kvB: `${a}kv_b_proj.weight`, o: `${a}o_proj.weight` },
  });
  const mlp = c.sparse[l]
    ? moeMlp(c, {
      router: `${p}mlp.gate.weight`,
      ...(selectionBias && { selectionBias: `${p}mlp.gate.e_score_correction_bias` }),
      experts: projectionExperts(`${p}mlp.`),
      shared: { ...projections(`${p}mlp.shared_experts.`), intermediate: c.sharedIntermediate! },
    })
    : denseMlp(c, l);
  return { inputNorm: `${p}input_layernorm.weight`, postNorm: `${p}post_attention_layernorm.weight`, attention, mlp };
}

export const deepseekV2: Family = {
  modelType: 'deepseek_v2',
  architecture: 'DeepseekV2ForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    refuseUnless(raw, 'mlp_bias', 'false', (v) => v === false);
    refuseUnless(raw, 'scoring_func', '"softmax"', (v) => v === 'softmax');
    // transformers' DeepseekV2Moe never renormalises (the original code did, and then skipped the scaling).
    refuseUnless(raw, 'norm_topk_prob', 'false', (v) => v === false);
    const c = deepseekConfig(raw, { firstDense: 0, shared: 2 });
    const routedScaling = field<number>(raw, 'routed_scaling_factor', 'number', 1);
    refuseUnless(raw, 'topk_method', '"greedy" or "group_limited_greedy"', (v) => v === 'greedy' || v === 'group_limited_greedy');
    if (raw.topk_method !== 'group_limited_greedy') return { ...c, routing: { routedScaling } };
    const nGroup = field<number>(raw, 'n_group', 'number');
    return { ...c, routing: { routedScaling, nGroup, topkGroup: field<number>(raw, 'topk_group', 'number'), groupScore: 'max' } };
  },
  layer: (c, l) => deepseekLayer(c, l, false),
};
