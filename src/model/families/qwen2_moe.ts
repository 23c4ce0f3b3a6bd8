// Qwen2-MoE (Qwen2MoeForCausalLM): q/k/v bias (unless qkv_bias is false); softmax → top-k, renormalised iff norm_topk_prob; a
// shared expert scaled by sigmoid(shared_expert_gate · x) in every MoE layer; dense layers where
// decoder_sparse_step / mlp_only_layers say; sliding windows where use_sliding_window and layer_types
// (or max_window_layers) say.
import {
  commonConfig,
  denseMlp,
  field,
  HF_TENSORS,
  layerPrefix,
  layerTypes,
  llamaLayer,
  moeMlp,
  projectionExperts,
  projections,
  slidingWindows,
  sparseLayersOf,
} from './common.js';
import type { Family, Raw } from './family.js';
import { ModelConfigError } from '../config.js';

/**
 * Which layers slide: layer_types if given, else as the newest transformers' Qwen2MoeConfig derives
 * them: with use_sliding_window, the even layers below max_window_layers (older versions differ:
 * docs/models.md). transformers sets sliding_window to 0 without use_sliding_window, which no layer
 * can slide over: refused.
 */
function windows(raw: Raw, layers: number) {
  const use = field<boolean>(raw, 'use_sliding_window', 'boolean', false);
  const below = field<number>(raw, 'max_window_layers', 'number', 28);
  const slides = layerTypes(raw, layers) ?? Array.from({ length: layers }, (_, l) => use && l % 2 === 0 && l < below);
  if (!use && slides.some(Boolean)) {
    throw new ModelConfigError('webmoe: config.json (qwen2_moe): layer_types has sliding layers, but use_sliding_window is false');
  }
  return slidingWindows(raw, slides);
}

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
      windows: windows(raw, c.layers),
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
