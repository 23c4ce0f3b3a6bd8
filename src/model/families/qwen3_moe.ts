// Qwen3-MoE (Qwen3MoeForCausalLM): per-head q_norm / k_norm [head_dim] before the rotation; softmax →
// top-k, renormalised iff norm_topk_prob; dense layers where decoder_sparse_step / mlp_only_layers say;
// attention_bias: q, k, v and o biases; with use_sliding_window every layer slides over sliding_window
// (as the newest transformers has it: max_window_layers is not read; docs/models.md).
import {
  attentionBias,
  commonConfig,
  denseMlp,
  field,
  HF_TENSORS,
  layerPrefix,
  llamaLayer,
  moeMlp,
  projectionExperts,
  slidingWindows,
  sparseLayersOf,
} from './common.js';
import type { Family } from './family.js';
import type { ModelConfig } from '../config.js';

export const qwen3Moe: Family = {
  modelType: 'qwen3_moe',
  architecture: 'Qwen3MoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    const c: ModelConfig = { ...commonConfig(raw, { experts: 'num_experts', intermediate: 'moe_intermediate_size' }), ...attentionBias(raw), qkNorm: 'head' };
    const sparse = sparseLayersOf(raw, c);
    const slides = new Array<boolean>(c.layers).fill(field(raw, 'use_sliding_window', 'boolean', false));
    return {
      ...c,
      sparse,
      denseIntermediate: sparse.every(Boolean) ? undefined : field<number>(raw, 'intermediate_size', 'number'),
      windows: slidingWindows(raw, slides),
    };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    const mlp = c.sparse[l] ? moeMlp(c, { router: `${p}gate.weight`, experts: projectionExperts(p) }) : denseMlp(c, l);
    return llamaLayer(c, l, mlp);
  },
};
