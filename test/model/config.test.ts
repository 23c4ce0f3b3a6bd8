// config.json keys that change the arithmetic: each is computed or refused by name (expected vs got),
// for every family. Tensors against the config (unread layers, experts, lm_head) are in load.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkQuantization } from '../../src/model/families/common.js';
import { readConfig } from '../../src/model/families/registry.js';
import { FAMILY_MODELS, modelDir } from '../helpers/models.js';

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8'));

describe('config keys webmoe does not compute are refused by name', () => {
  // A fixture's family is its model_type (deepseek_v2_lite is a deepseek_v2).
  it.each(FAMILY_MODELS)('%s: hidden_act other than silu', (name) => {
    const raw = fixtureConfig(name);
    const family = String(raw.model_type);
    expect(() => readConfig({ ...raw, hidden_act: 'gelu' })).toThrow(
      `webmoe: config.json (${family}): hidden_act "gelu" is not supported (expected "silu")`,
    );
    // transformers' ACT2FN maps "swish" to the same SiLU; an absent key is the families' default, silu.
    expect(readConfig({ ...raw, hidden_act: 'swish' }).config.family).toBe(family);
    const { hidden_act: _, ...noAct } = raw;
    expect(readConfig(noAct).config.family).toBe(family);
  });

  it.each(FAMILY_MODELS)('%s: any quantization_config (but gpt-oss\'s mxfp4)', (name) => {
    const raw = fixtureConfig(name);
    const family = String(raw.model_type);
    const expected = family === 'gpt_oss' ? 'supported: mxfp4' : 'expected F32, F16 or BF16 weights';
    expect(() => readConfig({ ...raw, quantization_config: { quant_method: 'gptq', bits: 4 } })).toThrow(
      `webmoe: config.json (${family}): quantization_config "gptq" is not supported (${expected}`,
    );
    expect(() => readConfig({ ...raw, quantization_config: { bits: 4 } })).toThrow(/quantization_config \{"bits":4\} is not supported/);
    expect(readConfig({ ...raw, quantization_config: null }).config.family).toBe(family);
  });

  it('a family takes the quant_method it loads and refuses the others', () => {
    const raw = { ...fixtureConfig('mixtral'), quantization_config: { quant_method: 'mxfp4' } };
    expect(() => checkQuantization(raw, ['mxfp4'])).not.toThrow();
    expect(() => checkQuantization({ ...raw, quantization_config: { quant_method: 'awq' } }, ['mxfp4'])).toThrow(
      'webmoe: config.json (mixtral): quantization_config "awq" is not supported (supported: mxfp4)',
    );
    expect(() => readConfig(raw)).toThrow(/quantization_config "mxfp4" is not supported/);
  });

  it('qwen2_moe: qkv_bias is read (default true, as transformers)', () => {
    const raw = fixtureConfig('qwen2_moe');
    expect(readConfig(raw).config.qkvBias).toBe(true);
    expect(readConfig({ ...raw, qkv_bias: false }).config.qkvBias).toBe(false);
    expect(() => readConfig({ ...raw, qkv_bias: 'no' })).toThrow('webmoe: config.json: qkv_bias must be a boolean, got "no"');
  });
});
