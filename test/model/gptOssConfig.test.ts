// gpt-oss's config.json into the model's settings: its keys and GptOssConfig's defaults, the clamped
// SwiGLU, the MXFP4 experts of quantization_config, and what is refused by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/model/families/registry.js';
import { ropeOf } from '../../src/model/rope.js';
import { fixtureDecoder, modelDir } from '../helpers/models.js';
import { testDevice } from '../helpers/gpu.js';

const raw = (name: string, over: Record<string, unknown> = {}) => ({
  ...(JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')) as Record<string, unknown>),
  ...over,
});
const config = (over: Record<string, unknown> = {}, name = 'gpt_oss') => readConfig(raw(name, over)).config;

describe('gpt_oss config.json', () => {
  it('the fixture: biases, sinks, windows by layer_types, YaRN, top-k then softmax, clamped SwiGLU, plain experts', () => {
    const c = config();
    expect(c).toMatchObject({
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      experts: 8,
      topK: 2,
      moeIntermediate: 32,
      qkvBias: true,
      oBias: true,
      sinks: true,
      windows: [4, undefined, 4],
      topkBeforeSoftmax: true,
      rmsEps: 1e-5,
      expertActivation: { kind: 'swiglu_clamped', alpha: 1.702, limit: 1.5 },
    });
    expect(c.expertStorage).toBeUndefined();
    expect(c.rope).toEqual(ropeOf(raw('gpt_oss'), 16));
    expect(c.rope.attentionFactor).toBeCloseTo(0.1 * Math.log(8) + 1, 12);
    expect(config({}, 'gpt_oss_mxfp4').expertStorage).toBe('mxfp4');
    expect(config({ swiglu_alpha: 1.5, attention_bias: false })).toMatchObject({
      qkvBias: false,
      oBias: false,
      expertActivation: { kind: 'swiglu_clamped', alpha: 1.5, limit: 1.5 },
    });
  });

  it('GptOssConfig\'s defaults for the keys a config leaves out', () => {
    const keys = ['head_dim', 'num_key_value_heads', 'num_experts_per_tok', 'experts_per_token', 'rms_norm_eps', 'rope_theta', 'rope_scaling',
      'max_position_embeddings', 'sliding_window', 'layer_types', 'swiglu_limit', 'attention_bias'];
    const bare = Object.fromEntries(Object.entries(raw('gpt_oss', { num_attention_heads: 8 })).filter(([k]) => !keys.includes(k)));
    const c = readConfig(bare).config;
    expect(c).toMatchObject({
      headDim: 64,
      kvHeads: 8,
      topK: 4,
      rmsEps: 1e-5,
      maxPositions: 131072,
      windows: [128, undefined, 128], // sliding on even layers
      qkvBias: true,
      oBias: true,
      expertActivation: { kind: 'swiglu_clamped', alpha: 1.702, limit: 7 },
    });
    const yarn = { rope_type: 'yarn', factor: 32, beta_fast: 32, beta_slow: 1, truncate: false, original_max_position_embeddings: 4096 };
    expect(c.rope).toEqual(ropeOf({ rope_theta: 150000, max_position_embeddings: 131072, rope_scaling: yarn }, 64));
  });

  it('refuses by name what it does not compute', () => {
    expect(() => config({ experts_per_token: 3 })).toThrow(
      'webmoe: config.json (gpt_oss): experts_per_token 3 is not supported (expected num_experts_per_tok, 2)',
    );
    expect(() => config({ swiglu_limit: 0 })).toThrow('webmoe: config.json (gpt_oss): swiglu_limit must be positive and swiglu_alpha finite, got 0 and 1.702');
    expect(() => config({ swiglu_limit: 'x' })).toThrow('webmoe: config.json: swiglu_limit must be a number, got "x"');
    expect(() => config({ layer_types: ['sliding_attention', 'chunked_attention', 'full_attention'] })).toThrow(
      'webmoe: config.json: layer_types[1] "chunked_attention" is not supported',
    );
    expect(() => config({ quantization_config: { quant_method: 'bitsandbytes' } })).toThrow(
      'webmoe: config.json (gpt_oss): quantization_config "bitsandbytes" is not supported (supported: mxfp4)',
    );
    expect(() => config({ rope_scaling: { rope_type: 'yarn', factor: 8, mscale: 1, bogus: 2 } })).toThrow(/rope_scaling.bogus is not supported/);
  });

  it('refuses external experts (workers) of another storage than MXFP4 for MXFP4 experts', async () => {
    const device = await testDevice();
    const external = { dtype: 'f32' as const, rows: () => {}, bias: () => {}, plane: () => {}, backend: () => {
      throw new Error('not reached');
    } };
    await expect(fixtureDecoder(device, 'gpt_oss_mxfp4', { experts: external })).rejects.toThrow(
      'webmoe: layer 0: the external experts store f32, the checkpoint\'s experts are MXFP4',
    );
    device.destroy();
  });
});
