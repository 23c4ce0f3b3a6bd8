// OLMoE (OlmoeForCausalLM): q_norm [heads·head_dim] and k_norm [kv_heads·head_dim] over the whole
// projection before the head split; softmax → top-k, renormalised iff norm_topk_prob (false in the
// releases); every layer sparse.
import { commonConfig, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, projectionExperts, refuseAttentionBias, refuseUnless } from './common.js';
import type { Family } from './family.js';

export const olmoe: Family = {
  modelType: 'olmoe',
  architecture: 'OlmoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    refuseAttentionBias(raw);
    // clip_qkv clamps q, k and v to ±clip_qkv after the projections: not computed.
    refuseUnless(raw, 'clip_qkv', 'null', (v) => v === null);
    return { ...commonConfig(raw, { experts: 'num_experts', intermediate: 'intermediate_size' }), qkNorm: 'full' };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    return llamaLayer(c, l, moeMlp(c, { router: `${p}gate.weight`, experts: projectionExperts(p) }));
  },
};
