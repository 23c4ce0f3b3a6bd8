// Hostile config numbers and arrays: each refused by name (ModelConfigError) before anything is sized
// by it, for every family; never a heap-exhaustion abort or a raw TypeError.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_SIZES, ModelConfigError } from '../../src/model/config.js';
import { readConfig } from '../../src/model/families/registry.js';
import { FAMILY_MODELS, modelDir } from '../helpers/models.js';

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8'));

/** readConfig's error for `raw`, which must be a ModelConfigError. */
function refusal(raw: Record<string, unknown>): string {
  try {
    readConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('config sizes beyond any model are refused by key', () => {
  const huge = [1e10, 1e15, 2 ** 53, Infinity, 1.5, -1];
  it.each(FAMILY_MODELS)('%s', (name) => {
    const raw = fixtureConfig(name);
    const experts = ['num_experts', 'num_local_experts', 'n_routed_experts'].find((k) => k in raw)!;
    const intermediate = raw.moe_intermediate_size !== undefined ? 'moe_intermediate_size' : 'intermediate_size';
    const keys = ['num_hidden_layers', 'vocab_size', 'hidden_size', 'num_attention_heads', 'max_position_embeddings', experts, intermediate];
    for (const key of keys) {
      // (DeepSeek-V3's grouped routing may name the expert count first: "… of the 1.5 experts".)
      for (const v of huge) expect(refusal({ ...raw, [key]: v }), `${key} ${v}`).toMatch(new RegExp(`${key}[^:]* must be|the ${v} experts`));
    }
    // A head_dim that is not given is hidden_size / num_attention_heads: named as such.
    if (raw.head_dim === undefined && raw.model_type !== 'deepseek_v2' && raw.model_type !== 'deepseek_v3') {
      expect(refusal({ ...raw, hidden_size: 3 * MAX_SIZES.headDim, num_attention_heads: 1 })).toMatch(
        /head_dim \(hidden_size \/ num_attention_heads\) must be an integer in 1…256, got 768/,
      );
    }
  });

  it('names the limits', () => {
    const raw = fixtureConfig('mixtral');
    expect(refusal({ ...raw, num_hidden_layers: 1e9 })).toBe('webmoe: config.json (mixtral): num_hidden_layers must be an integer in 1…4096, got 1000000000');
    expect(refusal({ ...raw, vocab_size: 1e15 })).toBe('webmoe: config.json (mixtral): vocab_size must be an integer in 1…4194304, got 1000000000000000');
    expect(refusal({ ...raw, num_local_experts: 1e6 })).toMatch(/num_local_experts \/ n_routed_experts must be an integer in 1…512, got 1000000/);
  });
});

describe('config arrays of the wrong shape are refused by key', () => {
  for (const name of ['qwen2_moe', 'qwen3_moe']) {
    it(`${name}: mlp_only_layers and decoder_sparse_step`, () => {
      const raw = fixtureConfig(name);
      const layers = raw.num_hidden_layers as number;
      for (const v of ['0', 3, { 0: 1 }, [0.5], ['1'], [-1], [layers], [null]]) {
        expect(refusal({ ...raw, mlp_only_layers: v })).toBe(
          `webmoe: config.json (${name}): mlp_only_layers must be an array of layer indices in 0…${layers - 1}, got ${JSON.stringify(v)}`,
        );
      }
      expect(readConfig({ ...raw, mlp_only_layers: [0] }).config.sparse[0]).toBe(false);
      for (const v of [0, 1.5, -2, 1e9]) expect(refusal({ ...raw, decoder_sparse_step: v })).toMatch(/decoder_sparse_step must be an integer in 1…4096/);
    });
  }

  it('eos_token_id: a token id or an array of them', () => {
    const raw = fixtureConfig('mixtral');
    for (const v of ['2', [1, '2'], [1.5], -1, { id: 1 }]) {
      expect(refusal({ ...raw, eos_token_id: v })).toBe(
        `webmoe: config.json (mixtral): eos_token_id must be a token id or an array of them, got ${JSON.stringify(v)}`,
      );
    }
    expect(readConfig({ ...raw, eos_token_id: [1, 2] }).config.eosTokenIds).toEqual([1, 2]);
    expect(readConfig({ ...raw, eos_token_id: null }).config.eosTokenIds).toEqual([]);
  });
});
