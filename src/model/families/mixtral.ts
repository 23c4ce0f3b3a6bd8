// Mixtral (MixtralForCausalLM): softmax → top-k → renormalised routing over `block_sparse_moe`'s
// experts w1 (gate), w3 (up), w2 (down); every layer sparse; every layer's attention slides over
// sliding_window positions when it is set (null: off).
import { commonConfig, HF_TENSORS, layerPrefix, llamaLayer, moeMlp, slidingWindows } from './common.js';
import type { Family } from './family.js';

export const mixtral: Family = {
  modelType: 'mixtral',
  architecture: 'MixtralForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    const c = commonConfig(raw, { experts: 'num_local_experts', intermediate: 'intermediate_size' });
    return { ...c, normTopK: true, windows: slidingWindows(raw, new Array<boolean>(c.layers).fill(raw.sliding_window != null)) };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}block_sparse_moe.`;
    return llamaLayer(c, l, moeMlp(c, {
      router: `${p}gate.weight`,
      experts: { gate: (e) => `${p}experts.${e}.w1.weight`, up: (e) => `${p}experts.${e}.w3.weight`, down: (e) => `${p}experts.${e}.w2.weight` },
    }));
  },
};
