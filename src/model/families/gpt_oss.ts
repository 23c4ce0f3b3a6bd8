// gpt-oss (GptOssForCausalLM): grouped-query attention with q/k/v/o biases, a sink logit per head, YaRN
// and layer_types alternating sliding_window and full attention; every layer a MoE block whose router
// has a bias (top-k on the logits, then softmax over the k) and whose experts have biases and a clamped
// SwiGLU (swiglu_limit, alpha 1.702), gate and up interleaved; the experts stacked input-major (the
// dequantized copies on the Hub) or MXFP4 as openai ships them (quantization_config mxfp4).
import { ModelConfigError } from '../config.js';
import { commonConfig, field, HF_TENSORS, layerPrefix, layerTypes, llamaLayer, moeMlp, refuseUnless, slidingWindows } from './common.js';
import type { Family, Raw } from './family.js';

/** GptOssConfig's defaults where they differ from the other families'. */
const DEFAULTS: Raw = {
  head_dim: 64,
  num_key_value_heads: 8,
  num_experts_per_tok: 4,
  rms_norm_eps: 1e-5,
  rope_theta: 150000,
  max_position_embeddings: 131072,
  sliding_window: 128,
};

/** GptOssConfig's rope when the config names none. */
const YARN = { rope_type: 'yarn', factor: 32, beta_fast: 32, beta_slow: 1, truncate: false, original_max_position_embeddings: 4096 };

export const gptOss: Family = {
  modelType: 'gpt_oss',
  architecture: 'GptOssForCausalLM',
  quantMethods: ['mxfp4'],
  tensors: HF_TENSORS,
  config: (raw) => {
    const r: Raw = { ...DEFAULTS, ...raw, ...(raw.rope_scaling == null && raw.rope_parameters == null && { rope_scaling: YARN }) };
    const c = commonConfig(r, { experts: 'num_local_experts', intermediate: 'intermediate_size' });
    // openai's configs also carry experts_per_token; transformers reads num_experts_per_tok.
    refuseUnless(r, 'experts_per_token', `num_experts_per_tok, ${c.topK}`, (v) => v === c.topK);
    const limit = field<number>(r, 'swiglu_limit', 'number', 7);
    const alpha = field<number>(r, 'swiglu_alpha', 'number', 1.702);
    if (!(limit > 0 && Number.isFinite(limit) && Number.isFinite(alpha))) {
      throw new ModelConfigError(`webmoe: config.json (gpt_oss): swiglu_limit must be positive and swiglu_alpha finite, got ${limit} and ${alpha}`);
    }
    const bias = field<boolean>(r, 'attention_bias', 'boolean', true);
    // Without layer_types: sliding on even layers, full on odd ones (GptOssConfig).
    const slides = layerTypes(r, c.layers) ?? Array.from({ length: c.layers }, (_, l) => l % 2 === 0);
    const q = r.quantization_config as { quant_method?: unknown } | undefined;
    return {
      ...c,
      qkvBias: bias,
      oBias: bias,
      sinks: true,
      windows: slidingWindows(r, slides),
      topkBeforeSoftmax: true,
      expertActivation: { kind: 'swiglu_clamped', alpha, limit },
      ...(q?.quant_method === 'mxfp4' && { expertStorage: 'mxfp4' as const }),
    };
  },
  layer: (c, l) => {
    const p = `${layerPrefix(l)}mlp.`;
    const x = `${p}experts.`;
    const mxfp4 = (n: string) => ({ blocks: `${x}${n}_blocks`, scales: `${x}${n}_scales` });
    return llamaLayer(c, l, moeMlp(c, {
      router: `${p}router.weight`,
      routerBias: `${p}router.bias`,
      experts: c.expertStorage === 'mxfp4'
        ? { mxfp4: { gateUp: mxfp4('gate_up_proj'), down: mxfp4('down_proj') } }
        : { inputMajor: { gateUp: `${x}gate_up_proj`, down: `${x}down_proj` } },
      expertBias: { gateUp: `${x}gate_up_proj_bias`, down: `${x}down_proj_bias` },
    }));
  },
};
