// The attention keys of config.json, family by family: which layers slide and over how many positions
// (Mixtral sliding_window, Qwen2-MoE use_sliding_window / max_window_layers / layer_types, Qwen3-MoE
// use_sliding_window), attention_bias and clip_qkv, into the blocks' specs; refusals by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelConfigError } from '../../src/model/config.js';
import { layerTypes, slidingWindows } from '../../src/model/families/common.js';
import { readConfig } from '../../src/model/families/registry.js';
import { modelDir } from '../helpers/models.js';

const raw = (name: string, over: Record<string, unknown> = {}) => ({
  ...(JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')) as Record<string, unknown>),
  ...over,
});
const windows = (name: string, over?: Record<string, unknown>) => readConfig(raw(name, over)).config.windows;

describe('sliding windows from config.json', () => {
  it('Mixtral: every layer slides over sliding_window; null turns it off', () => {
    expect(windows('mixtral_sliding')).toEqual([4, 4]);
    expect(windows('mixtral')).toBeUndefined();
  });

  it('Qwen2-MoE: with use_sliding_window, the even layers below max_window_layers; layer_types when given', () => {
    expect(windows('qwen2_moe_sliding')).toEqual([3, undefined, 3, undefined]);
    expect(windows('qwen2_moe_sliding', { max_window_layers: 1 })).toEqual([3, undefined, undefined, undefined]);
    expect(windows('qwen2_moe_sliding', { use_sliding_window: false })).toBeUndefined();
    const types = ['full_attention', 'sliding_attention', 'sliding_attention', 'full_attention'];
    expect(windows('qwen2_moe_sliding', { layer_types: types })).toEqual([undefined, 3, 3, undefined]);
    expect(() => windows('qwen2_moe', { layer_types: types })).toThrow(/layer_types has sliding layers, but use_sliding_window is false/);
  });

  it('Qwen3-MoE: with use_sliding_window, every layer', () => {
    expect(windows('qwen3_moe', { use_sliding_window: true, sliding_window: 16 })).toEqual([16, 16]);
    expect(windows('qwen3_moe', { sliding_window: 16 })).toBeUndefined();
  });

  it('layer_types and sliding_window as gpt-oss spells them; what is not honoured is refused by name', () => {
    const r = { layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'], sliding_window: 128 };
    expect(slidingWindows(r, layerTypes(r, 3)!)).toEqual([128, undefined, 128]);
    expect(layerTypes({}, 3)).toBeUndefined();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ layer_types: ['sliding_attention'] }, /layer_types must list the 3 layers' attention/],
      [{ layer_types: ['sliding_attention', 'chunked_attention', 'full_attention'] }, /layer_types\[1\] "chunked_attention" is not supported/],
    ];
    for (const [config, message] of bad) expect(() => layerTypes(config, 3)).toThrow(message);
    for (const w of [null, 0, 2.5, '4']) {
      expect(() => slidingWindows({ sliding_window: w }, [true])).toThrow(ModelConfigError);
      expect(() => slidingWindows({ sliding_window: w }, [true])).toThrow(/sliding_window must be a positive integer where layers slide/);
    }
    expect(() => windows('mixtral', { sliding_window: -3 })).toThrow(/sliding_window must be a positive integer/);
  });
});

describe('attention_bias and clip_qkv', () => {
  it('attention_bias: q, k, v and o_proj biases (Qwen3-MoE, OLMoE, GraniteMoE); Qwen2-MoE: q, k, v only', () => {
    for (const name of ['qwen3_moe', 'olmoe', 'granitemoe']) {
      const c = readConfig(raw(name, { attention_bias: true })).config;
      expect([c.qkvBias, c.oBias], name).toEqual([true, true]);
      expect(readConfig(raw(name)).config.oBias, name).toBe(false);
    }
    const q2 = readConfig(raw('qwen2_moe')).config;
    expect([q2.qkvBias, q2.oBias ?? false]).toEqual([true, false]);
    expect(() => readConfig(raw('qwen3_moe', { attention_bias: 'yes' }))).toThrow(/attention_bias must be a boolean/);
  });

  it('OLMoE clip_qkv: a positive number, or null for none', () => {
    expect(readConfig(raw('olmoe_clip')).config.clipQkv).toBe(0.6);
    expect(readConfig(raw('olmoe')).config.clipQkv).toBeUndefined();
    expect(() => readConfig(raw('olmoe', { clip_qkv: -1 }))).toThrow(/clip_qkv must be a positive number, got -1/);
    expect(() => readConfig(raw('olmoe', { clip_qkv: '8' }))).toThrow(/clip_qkv must be a number/);
  });
});
