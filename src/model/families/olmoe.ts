// OLMoE (OlmoeForCausalLM): q_norm [heads·head_dim] and k_norm [kv_heads·head_dim] over the whole
// projection before the head split, then clip_qkv (q, k, v clamped); attention_bias: q, k, v and o
// biases; softmax → top-k, renormalised iff norm_topk_prob (false in the releases); every layer sparse.
import { attentionBias, commonConfig, field, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, projectionExperts } from './common.js';
import type { Family } from './family.js';

export const olmoe: Family = {
  modelType: 'olmoe',
  architecture: 'OlmoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => ({
    ...commonConfig(raw, { experts: 'num_experts', intermediate: 'intermediate_size' }),
    ...attentionBias(raw),
    qkNorm: 'full',
    clipQkv: raw.clip_qkv == null ? undefined : field<number>(raw, 'clip_qkv', 'number'),
  }),
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    return llamaLayer(c, l, moeMlp(c, { router: `${p}gate.weight`, experts: projectionExperts(p) }));
  },
};
