// The DeepSeek-V2/V3 families' reading of config.json (MLA sizes, the softmax scale with YaRN's mscale,
// dense and MoE layers, the routing each topk_method means) and the keys they refuse by name; their
// tensors against the fixture checkpoints; the latent KV cache's size. Logits: test/model/decoder.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activeBytesPerToken } from '../../src/bench/model.js';
import { capStorageBinding } from '../../src/gpu/limits.js';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { readConfig } from '../../src/model/families/registry.js';
import { checkpointTensors } from '../../src/model/load.js';
import { relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { fixtureDecoder, golden, modelDir } from '../helpers/models.js';

const raw = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8'));
const mscale = (factor: number, m: number) => 0.1 * m * Math.log(factor) + 1;

/** DeepSeek-V2-Lite's config.json as its Hub repo has it. */
const V2_LITE = {
  architectures: ['DeepseekV2ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  auto_map: { AutoConfig: 'configuration_deepseek.DeepseekV2Config', AutoModelForCausalLM: 'modeling_deepseek.DeepseekV2ForCausalLM' },
  aux_loss_alpha: 0.001,
  bos_token_id: 100000,
  eos_token_id: 100001,
  first_k_dense_replace: 1,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 10944,
  kv_lora_rank: 512,
  max_position_embeddings: 163840,
  model_type: 'deepseek_v2',
  moe_intermediate_size: 1408,
  moe_layer_freq: 1,
  n_group: 1,
  n_routed_experts: 64,
  n_shared_experts: 2,
  norm_topk_prob: false,
  num_attention_heads: 16,
  num_experts_per_tok: 6,
  num_hidden_layers: 27,
  num_key_value_heads: 16,
  pretraining_tp: 1,
  q_lora_rank: null,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  rms_norm_eps: 1e-6,
  rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 0.707, mscale_all_dim: 0.707, original_max_position_embeddings: 4096, type: 'yarn' },
  rope_theta: 10000,
  routed_scaling_factor: 1.0,
  scoring_func: 'softmax',
  seq_aux: true,
  tie_word_embeddings: false,
  topk_group: 1,
  topk_method: 'greedy',
  torch_dtype: 'bfloat16',
  transformers_version: '4.33.1',
  use_cache: true,
  v_head_dim: 128,
  vocab_size: 102400,
};

describe('DeepSeek configs', () => {
  it('the Hub\'s DeepSeek-V2-Lite config, and as newer transformers write it back (rope_parameters, head_dim)', () => {
    const c = readConfig(V2_LITE).config;
    expect(c.mla).toEqual({ qLoraRank: undefined, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128, interleave: true });
    expect(c.sparse.filter(Boolean).length).toBe(26);
    expect(c.sharedIntermediate).toBe(2816);
    expect(c.attentionScale).toBeCloseTo(mscale(40, 0.707) ** 2 / Math.sqrt(192), 14);
    expect(c.rope.attentionFactor).toBe(1);
    const { rope_scaling, ...rest } = V2_LITE;
    const rewritten = { ...rest, head_dim: 64, mlp_bias: false, rope_parameters: { ...rope_scaling, rope_type: 'yarn', rope_theta: 10000 } };
    const c5 = readConfig(rewritten).config;
    expect([c5.attentionScale, c5.rope]).toEqual([c.attentionScale, c.rope]);
  });

  it('V2-Lite: q_proj, greedy routing, a dense first layer, ungated shared experts, YaRN in the softmax scale', () => {
    const { family, config: c } = readConfig(raw('deepseek_v2_lite'));
    expect(family.architecture).toBe('DeepseekV2ForCausalLM');
    expect(c.mla).toEqual({ qLoraRank: undefined, kvLoraRank: 32, qkNopeHeadDim: 16, qkRopeHeadDim: 8, vHeadDim: 16, interleave: true });
    expect(c.sparse).toEqual([false, true]);
    expect(c.routing).toEqual({ routedScaling: 1 });
    expect(c.normTopK).toBe(false);
    expect(c.sharedIntermediate).toBe(2 * 16);
    expect(c.denseIntermediate).toBe(48);
    // 1/√(nope + rope) × mscale(factor, mscale_all_dim)²; cos and sin × mscale(mscale) / mscale(mscale_all_dim)
    expect(c.attentionScale).toBeCloseTo(mscale(4, 0.707) ** 2 / Math.sqrt(24), 14);
    expect(c.rope.attentionFactor).toBeCloseTo(mscale(4, 0.9) / mscale(4, 0.707), 14);
    expect(c.rope.invFreq.length).toBe(4);
  });

  it('V2: q_lora_rank, group_limited_greedy ranks groups by their best expert; V3: noaux_tc', () => {
    const v2 = readConfig(raw('deepseek_v2')).config;
    expect(v2.mla!.qLoraRank).toBe(24);
    expect(v2.routing).toEqual({ routedScaling: 3, nGroup: 4, topkGroup: 2, groupScore: 'max' });
    expect(v2.attentionScale).toBeCloseTo(1 / Math.sqrt(24), 14);
    const v3 = readConfig(raw('deepseek_v3')).config;
    expect(v3.routing).toEqual({ scoring: 'sigmoid', routedScaling: 2.5, nGroup: 4, topkGroup: 2, groupScore: 'top2Sum' });
    expect(v3.normTopK).toBe(true);
    expect(v3.sparse).toEqual([false, true, true]);
    expect(v3.mla!.interleave).toBe(true);
    expect(readConfig({ ...raw('deepseek_v3'), rope_interleave: false }).config.mla!.interleave).toBe(false);
  });

  it('weight bytes a decode token reads, by hand (the benchmark floor)', () => {
    const c = readConfig(raw('deepseek_v3')).config;
    // MLA a layer: q_a/kv_a (32 + 32 + 8) rows × 64, q_b 4·24 rows × 32, kv_b 4·32 rows × 32, o 64 rows × 4·16,
    // kv_a_layernorm 32 + q_a_layernorm 32 f32; + 2 norms of 64
    const attention = (72 * 64 + 96 * 32 + 128 * 32 + 64 * 64 + 64 + 2 * 64) * 4;
    // dense layer 0: router of one expert 64 + the MLP (I 48); MoE layers: router 8 × 64, 2 routed + 1 shared (I 16), no gate
    const expert = (I: number) => 3 * 64 * I * 4;
    const layers = 3 * attention + (64 * 4 + expert(48)) + 2 * (8 * 64 * 4 + 3 * expert(16));
    expect(activeBytesPerToken(c, 'f32')).toBe(layers + 64 * 4 + 321 * 64 * 4);
  });

  it('moe_layer_freq: MoE layers from first_k_dense_replace on, every freq-th (the original modeling code)', () => {
    const c = readConfig({ ...raw('deepseek_v3'), num_hidden_layers: 6, moe_layer_freq: 2 }).config;
    expect(c.sparse).toEqual([false, false, true, false, true, false]);
  });

  it('refuses by name what would change the arithmetic', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['deepseek_v2', { attention_bias: true }, /attention_bias true is not supported \(expected false\)/],
      ['deepseek_v2', { mlp_bias: true }, /mlp_bias true is not supported \(expected false\)/],
      ['deepseek_v2', { scoring_func: 'sigmoid' }, /scoring_func "sigmoid" is not supported \(expected "softmax"\)/],
      ['deepseek_v2', { norm_topk_prob: true }, /norm_topk_prob true is not supported \(expected false\)/],
      ['deepseek_v2', { topk_method: 'noaux_tc' }, /topk_method "noaux_tc" is not supported \(expected "greedy" or "group_limited_greedy"\)/],
      ['deepseek_v2', { n_group: 3 }, /n_group must be a divisor of the 8 experts, got 3/],
      ['deepseek_v2', { topk_group: 5 }, /topk_group must be an integer in 1…4, got 5/],
      ['deepseek_v2', { topk_group: 1 }, /topk_group must be at least 2 groups to hold num_experts_per_tok 3, got 1/],
      ['deepseek_v2', { routed_scaling_factor: 0 }, /routed_scaling_factor must be a positive number, got 0/],
      ['deepseek_v2', { num_key_value_heads: 2 }, /num_key_value_heads 2 must equal num_attention_heads 4/],
      ['deepseek_v2', { ep_size: 2 }, /ep_size 2 is not supported \(expected 1\)/],
      ['deepseek_v3', { topk_method: 'greedy' }, /topk_method "greedy" is not supported \(expected "noaux_tc"\)/],
      ['deepseek_v3', { scoring_func: 'softmax' }, /scoring_func "softmax" is not supported \(expected "sigmoid"\)/],
      ['deepseek_v3', { n_group: 8 }, /n_group 8 makes groups of fewer than 2 of the 8 experts/],
      ['deepseek_v3', { rope_scaling: { type: 'yarn', mscale_all_dim: 1 } }, /needs rope_scaling.factor/],
    ];
    for (const [name, change, message] of cases) expect(() => readConfig({ ...raw(name), ...change }), JSON.stringify(change)).toThrow(message);
  });
});

describe('DeepSeek checkpoints', () => {
  it.each(['deepseek_v2_lite', 'deepseek_v2', 'deepseek_v3'])('%s: the family reads exactly the Hub tensors, with their shapes', async (name) => {
    const ckpt = await openCheckpoint(nodeDirSource(modelDir(name)));
    const { family, config } = readConfig(ckpt.config);
    const want = checkpointTensors(family, config).map((t) => `${t.name} [${t.shape}]`).sort();
    expect(want).toEqual([...ckpt.tensors.values()].map((t) => `${t.name} [${t.shape}]`).sort());
  });

  it('the KV cache holds the latent: (kv_lora_rank + qk_rope_head_dim) · 4 bytes a position and layer', async () => {
    const device = await testDevice();
    capStorageBinding(device, 16384);
    // 160 bytes a position (full K/V would take heads · (nope + rope + v) · 4 = 640): 102 positions fit 16 KiB, 200 do not.
    const ok = await fixtureDecoder(device, 'deepseek_v2_lite', { contextLength: 102, tune: false });
    ok.destroy();
    await expect(fixtureDecoder(device, 'deepseek_v2_lite', { contextLength: 200, tune: false })).rejects.toThrow(
      /KV cache for 200 positions needs 32000 bytes per binding, over the storage binding limit 16384/,
    );
    device.destroy();
  });

  it('kv_b_proj split over bindings by heads (8 KiB bindings: 2 heads each) still gives the golden logits', async () => {
    const device = await testDevice();
    capStorageBinding(device, 8192);
    const g = golden('deepseek_v3');
    const decoder = await fixtureDecoder(device, 'deepseek_v3', { contextLength: 16, tune: false });
    // Two calls: 7 rows of logits would not fit one 8 KiB binding.
    const logits = new Float32Array([...await decoder.forward(g.tokens.slice(0, 4), 0, 'all'), ...await decoder.forward(g.tokens.slice(4), 4, 'all')]);
    const V = g.logits[0].length;
    g.logits.forEach((row, t) => expect(relativeError(logits.subarray(t * V, (t + 1) * V), row)).toBeLessThan(1e-4));
    decoder.destroy();
    device.destroy();
  });
});
