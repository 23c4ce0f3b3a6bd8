// Qwen3-MoE (Qwen3MoeForCausalLM): per-head q_norm / k_norm [head_dim] before the rotation; softmax →
// top-k, renormalised iff norm_topk_prob; dense layers where decoder_sparse_step / mlp_only_layers say.
import { commonConfig, denseMlp, field, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, projectionExperts, refuseAttentionBias,
  sparseLayersOf } from './common.js';
import type { Family } from './family.js';
import type { ModelConfig } from '../config.js';

export const qwen3Moe: Family = {
  modelType: 'qwen3_moe',
  architecture: 'Qwen3MoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    refuseAttentionBias(raw);
    const c: ModelConfig = { ...commonConfig(raw, { experts: 'num_experts', intermediate: 'moe_intermediate_size' }), qkNorm: 'head' };
    const sparse = sparseLayersOf(raw, c);
    return { ...c, sparse, denseIntermediate: sparse.every(Boolean) ? undefined : field<number>(raw, 'intermediate_size', 'number') };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    const mlp = c.sparse[l] ? moeMlp(c, { router: `${p}gate.weight`, experts: projectionExperts(p) }) : denseMlp(c, l);
    return llamaLayer(c, l, mlp);
  },
};
