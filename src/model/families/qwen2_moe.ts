// Qwen2-MoE (Qwen2MoeForCausalLM): q/k/v bias (unless qkv_bias is false); softmax → top-k, renormalised iff norm_topk_prob; a
// shared expert scaled by sigmoid(shared_expert_gate · x) in every MoE layer; dense layers where
// decoder_sparse_step / mlp_only_layers say.
import { commonConfig, denseMlp, field, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, projectionExperts, projections, sparseLayersOf } from './common.js';
import type { Family } from './family.js';

export const qwen2Moe: Family = {
  modelType: 'qwen2_moe',
  architecture: 'Qwen2MoeForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    const c = { ...commonConfig(raw, { experts: 'num_experts', intermediate: 'moe_intermediate_size' }),
      qkvBias: field<boolean>(raw, 'qkv_bias', 'boolean', true) };
    return {
      ...c,
      sparse: sparseLayersOf(raw, c),
      sharedIntermediate: field<number>(raw, 'shared_expert_intermediate_size', 'number'),
      denseIntermediate: field<number>(raw, 'intermediate_size', 'number'),
    };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    const mlp = c.sparse[l]
      ? moeMlp(c, {
        router: `${p}gate.weight`,
        experts: projectionExperts(p),
        shared: { ...projections(`${p}shared_expert.`), sharedGate: `${p}shared_expert_gate.weight`, intermediate: c.sharedIntermediate! },
      })
      : denseMlp(c, l);
    return llamaLayer(c, l, mlp);
  },
};
