// GraniteMoE (GraniteMoeForCausalLM): top-k on the router logits, then softmax over the k; experts
// stacked as input_linear [E, 2I, H] (first half → SiLU) and output_linear [E, H, I]; the
// embedding, attention, residual and logits multipliers.
import { commonConfig, field, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, refuseAttentionBias } from './common.js';
import type { Family } from './family.js';

export const granitemoe: Family = {
  modelType: 'granitemoe',
  architecture: 'GraniteMoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    refuseAttentionBias(raw);
    return {
      ...commonConfig(raw, { experts: 'num_local_experts', intermediate: 'intermediate_size' }),
      topkBeforeSoftmax: true,
      embeddingScale: field<number>(raw, 'embedding_multiplier', 'number', 1),
      attentionScale: field<number>(raw, 'attention_multiplier', 'number', 1),
      residualScale: field<number>(raw, 'residual_multiplier', 'number', 1),
      logitsScale: 1 / field<number>(raw, 'logits_scaling', 'number', 1),
    };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}block_sparse_moe.`;
    return llamaLayer(c, l, moeMlp(c, { router: `${p}router.layer.weight`, experts: { gateUp: `${p}input_linear.weight`, down: `${p}output_linear.weight` } }));
  },
};
