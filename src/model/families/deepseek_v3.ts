// DeepSeek-V3 / Moonlight (DeepseekV3ForCausalLM): DeepSeek-V2's layout (deepseek_v2.ts), the rope part
// interleaved unless rope_interleave is false, and noaux_tc routing: sigmoid scores; for the choice
// only, + e_score_correction_bias; n_group groups ranked by the sum of their two best biased scores,
// topk_group kept; top-k; weights the unbiased scores, renormalised iff norm_topk_prob, ×
// routed_scaling_factor.
import { field, HF_TENSORS, refuseUnless } from './common.js';
import { deepseekConfig, deepseekLayer, refuse } from './deepseek_v2.js';
import type { Family } from './family.js';

export const deepseekV3: Family = {
  modelType: 'deepseek_v3',
  architecture: 'DeepseekV3ForCausalLM',
  tensors: HF_TENSORS,
  config: (raw) => {
    // transformers' DeepseekV3TopkRouter computes noaux_tc whatever they say: anything else is refused.
    refuseUnless(raw, 'topk_method', '"noaux_tc"', (v) => v === 'noaux_tc');
    refuseUnless(raw, 'scoring_func', '"sigmoid"', (v) => v === 'sigmoid');
    const c = deepseekConfig(raw, { firstDense: 3, shared: 1 });
    const nGroup = field<number>(raw, 'n_group', 'number', 8);
    if (c.experts < 2 * nGroup) refuse(raw, `n_group ${nGroup} makes groups of fewer than 2 of the ${c.experts} experts: no two best to sum`);
    return {
      ...c,
      normTopK: field<boolean>(raw, 'norm_topk_prob', 'boolean', true),
      routing: {
        scoring: 'sigmoid',
        routedScaling: field<number>(raw, 'routed_scaling_factor', 'number', 2.5),
        nGroup,
        topkGroup: field<number>(raw, 'topk_group', 'number', 4),
        groupScore: 'top2Sum',
      },
      mla: { ...c.mla!, interleave: field<boolean>(raw, 'rope_interleave', 'boolean', true) },
    };
  },
  layer: (c, l) => deepseekLayer(c, l, true),
};
