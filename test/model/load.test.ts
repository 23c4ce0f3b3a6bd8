// Loading: named errors for bad configs and checkpoints (nothing uploaded before the checks pass),
// progress, abort, and a device that stays usable afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { NonFiniteWeightError } from '../../src/io/finite.js';
import { f32ToF16Bits } from '../../src/gpu/f16.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { encodeSafetensors, type EncodeTensor } from '../../src/io/safetensors.js';
import { readRange } from '../../src/io/source.js';
import { readConfig } from '../../src/model/families/registry.js';
import { loadDecoder } from '../../src/model/load.js';
import { relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { golden, modelDir } from '../helpers/models.js';
import { memSource } from '../io/mem.js';

/** All tensors of a fixture model, as raw bytes to edit and re-encode. */
async function fixtureTensors(name: string): Promise<Record<string, EncodeTensor>> {
  const source = nodeDirSource(modelDir(name));
  const ckpt = await openCheckpoint(source);
  const out: Record<string, EncodeTensor> = {};
  for (const t of ckpt.tensors.values()) {
    const f = (await source.open(t.file))!;
    out[t.name] = { dtype: t.dtype as EncodeTensor['dtype'], shape: t.shape, data: await readRange(f, t.begin, t.end) };
  }
  return out;
}

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8'));

async function load(device: GPUDevice, config: Record<string, unknown>, tensors: Record<string, EncodeTensor>, options = {}) {
  const source = memSource({ 'config.json': JSON.stringify(config), 'model.safetensors': encodeSafetensors(tensors) }, 4096);
  const ckpt = await openCheckpoint(source);
  const { family, config: c } = readConfig(ckpt.config);
  return loadDecoder(device, ckpt, family, c, options);
}

describe('model loading', () => {
  let device: GPUDevice;
  let tensors: Record<string, EncodeTensor>;
  const config = fixtureConfig('mixtral');
  beforeAll(async () => {
    device = await testDevice();
    tensors = await fixtureTensors('mixtral');
  });
  afterAll(() => device.destroy());

  it('loads from memory and matches the golden logits', async () => {
    const g = golden('mixtral');
    const decoder = await load(device, config, tensors);
    const V = g.logits[0].length;
    const logits = await decoder.forward(g.tokens, 0, 'all');
    expect(relativeError(logits.subarray(0, V), g.logits[0])).toBeLessThan(1e-4);
    decoder.destroy();
  });

  it('names an unsupported architecture and lists the supported ones', async () => {
    await expect(load(device, { ...config, model_type: 'llama', architectures: ['LlamaForCausalLM'] }, tensors))
      .rejects.toThrow(/unsupported architecture: model_type "llama" \(LlamaForCausalLM\); supported: mixtral .*qwen2_moe.*qwen3_moe.*olmoe.*granitemoe/);
  });

  it('names config fields out of range or missing', async () => {
    await expect(load(device, { ...config, num_experts_per_tok: 9 }, tensors)).rejects.toThrow(/num_experts_per_tok must be an integer in 1…8, got 9/);
    await expect(load(device, { ...config, num_key_value_heads: 3 }, tensors)).rejects.toThrow(
      /num_key_value_heads must be a divisor of num_attention_heads 4, got 3/,
    );
    await expect(load(device, { ...config, hidden_size: 0 }, tensors)).rejects.toThrow(/hidden_size must be an integer in 1…/);
    const { vocab_size: _, ...noVocab } = config;
    await expect(load(device, noVocab, tensors)).rejects.toThrow(/config.json has no vocab_size/);
    await expect(load(device, { ...config, rope_scaling: { type: 'longrope' } }, tensors)).rejects.toThrow(
      /rope_scaling: rope type "longrope" is not supported/,
    );
    await expect(load(device, { ...config, rope_scaling: { type: 'yarn', factor: 4, alpha: 2 } }, tensors)).rejects.toThrow(
      /rope_scaling.alpha is not supported for rope type yarn/,
    );
  });

  it('names a tensor the config needs that is missing, and a tensor of the wrong shape', async () => {
    const { 'model.layers.1.block_sparse_moe.experts.2.w3.weight': _, ...missing } = tensors;
    await expect(load(device, config, missing)).rejects.toThrow(
      /lacks tensors the mixtral config needs: model\.layers\.1\.block_sparse_moe\.experts\.2\.w3\.weight/,
    );
    const router = tensors['model.layers.0.block_sparse_moe.gate.weight'];
    const bad = { ...tensors, 'model.layers.0.block_sparse_moe.gate.weight': { ...router, shape: [...router.shape].reverse() } };
    await expect(load(device, config, bad)).rejects.toThrow(
      /tensor model\.layers\.0\.block_sparse_moe\.gate\.weight in model\.safetensors has shape \[64,8\], mixtral config expects \[8,64\]/,
    );
  });

  it('names a tensor of a dtype it cannot read (a norm, an expert matrix) before reading any weight', async () => {
    const norm = tensors['model.norm.weight'];
    const ints = { ...tensors, 'model.norm.weight': { ...norm, dtype: 'I32' as 'F32' } };
    await expect(load(device, config, ints)).rejects.toThrow(
      'model.safetensors: tensor \'model.norm.weight\': dtype I32 cannot be read (supported: F32, F16, BF16)',
    );
    const experts = tensors['model.layers.0.block_sparse_moe.experts.3.w1.weight'];
    const u8 = { ...tensors,
      'model.layers.0.block_sparse_moe.experts.3.w1.weight': { ...experts, dtype: 'U8' as 'F32', data: experts.data.subarray(0, experts.data.length / 4) } };
    await expect(load(device, config, u8)).rejects.toThrow(
      'model.safetensors: tensor \'model.layers.0.block_sparse_moe.experts.3.w1.weight\': dtype U8 cannot be read (supported: F32, F16, BF16)',
    );
  });

  it('checks every tensor against the config before it creates any GPU buffer (a vocabulary or layer count the checkpoint lacks)', async () => {
    let created = 0;
    const counting = new Proxy(device, {
      get: (d, k) => {
        if (k === 'createBuffer') return (desc: GPUBufferDescriptor) => (created++, d.createBuffer(desc));
        const v = Reflect.get(d, k);
        return typeof v === 'function' ? v.bind(d) : v;
      },
    });
    await expect(load(counting, { ...config, vocab_size: 4_000_000 }, tensors)).rejects.toThrow(
      /tensor model.embed_tokens.weight in model.safetensors has shape \[320,64\], mixtral config expects \[4000000,64\]/,
    );
    await expect(load(counting, { ...config, num_hidden_layers: 4000 }, tensors)).rejects.toThrow(
      /the checkpoint lacks tensors the mixtral config needs: model.layers.2.input_layernorm.weight/,
    );
    expect(created).toBe(0);
  });

  it('names a NaN or ±Inf weight (embedding, lm_head, router, expert, norm, q_proj; F32, F16, BF16; any storage) with its file, row and column', async () => {
    /** The tensor in `dtype` with `value` at element `at`. */
    const poisoned = (name: string, dtype: 'F32' | 'F16' | 'BF16', at: number, value: number): EncodeTensor => {
      const t = tensors[name];
      const v = new Float32Array(t.data.slice().buffer);
      v[at] = value;
      const bits = new Uint32Array(v.buffer);
      const data = dtype === 'F32'
        ? new Uint8Array(v.buffer)
        : new Uint8Array(Uint16Array.from(v, (x, i) => (dtype === 'F16' ? f32ToF16Bits(x) : bits[i] >>> 16)).buffer);
      return { dtype, shape: t.shape, data };
    };
    const cases = [
      ['model.embed_tokens.weight', 'F32', 'f32'],
      ['lm_head.weight', 'F16', 'f16'],
      ['model.layers.1.block_sparse_moe.gate.weight', 'BF16', 'f32'],
      ['model.layers.0.block_sparse_moe.experts.3.w2.weight', 'F16', 'q8'],
      ['model.layers.1.block_sparse_moe.experts.0.w1.weight', 'BF16', 'q4'],
      ['model.layers.0.input_layernorm.weight', 'F16', 'f32'],
      ['model.layers.1.self_attn.q_proj.weight', 'BF16', 'f16'],
    ] as const;
    for (const [i, [name, dtype, storage]] of cases.entries()) {
      const { shape } = tensors[name];
      const row = shape.length > 1 ? 1 : 0; // a norm is one row
      const value = [NaN, Infinity, -Infinity][i % 3];
      await expect(load(device, config, { ...tensors, [name]: poisoned(name, dtype, row * shape.at(-1)! + 1, value) }, { dtype: storage, tune: false }),
        `${name} ${dtype}`)
        .rejects.toThrow(`model.safetensors: tensor '${name}' has ${value} at row ${row}, column 1: weights must be finite`);
    }
    await expect(load(device, config, { ...tensors, 'model.norm.weight': poisoned('model.norm.weight', 'F32', 5, NaN) }))
      .rejects.toBeInstanceOf(NonFiniteWeightError);
  });

  it('names a KV cache over the binding limit, after freeing the weights it had loaded', async () => {
    await expect(load(device, config, tensors, { contextLength: 1 << 26 })).rejects.toThrow(
      /KV cache for 67108864 positions needs 8589934592 bytes per binding, over the storage binding limit \d+: use a shorter contextLength/,
    );
    const decoder = await load(device, config, tensors, { contextLength: 32 });
    decoder.destroy();
  });

  it('reports progress up to the total and stops on abort; the device loads again afterwards', async () => {
    const seen: number[] = [];
    let total = 0;
    const decoder = await load(device, config, tensors, { onProgress: (p: { loadedBytes: number; totalBytes: number }) => {
      seen.push(p.loadedBytes);
      total = p.totalBytes;
    } });
    decoder.destroy();
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every((b, i) => i === 0 || b >= seen[i - 1])).toBe(true);
    expect(seen[seen.length - 1]).toBe(total);

    const controller = new AbortController();
    const aborted = load(device, config, tensors, { signal: controller.signal, onProgress: (p: { loadedBytes: number }) => {
      if (p.loadedBytes > 1000) controller.abort(new Error('user stop'));
    } });
    await expect(aborted).rejects.toThrow(/user stop/);
    const again = await load(device, config, tensors);
    again.destroy();
  });
});

describe('every checkpoint tensor is read, or the load is refused by name', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('names tie_word_embeddings against a checkpoint with lm_head.weight, and a missing lm_head when not tied', async () => {
    await expect(load(device, { ...fixtureConfig('mixtral'), tie_word_embeddings: true }, await fixtureTensors('mixtral'))).rejects.toThrow(
      'webmoe: the checkpoint has lm_head.weight (model.safetensors), but config.json (mixtral) has tie_word_embeddings true: expected no lm_head.weight, or tie_word_embeddings false',
    );
    await expect(load(device, { ...fixtureConfig('granitemoe'), tie_word_embeddings: false }, await fixtureTensors('granitemoe'))).rejects.toThrow(
      /lacks tensors the granitemoe config needs: lm_head\.weight$/,
    );
  });

  it('names a layer or an expert beyond the config\'s counts', async () => {
    const config = fixtureConfig('mixtral');
    const tensors = await fixtureTensors('mixtral');
    await expect(load(device, { ...config, num_hidden_layers: 1 }, tensors)).rejects.toThrow(
      /^webmoe: the checkpoint has model\.layers\.1\.\S+ \(model\.safetensors\) of layer 1, but config\.json \(mixtral\) has num_hidden_layers 1$/,
    );
    const norm = tensors['model.layers.1.input_layernorm.weight'];
    await expect(load(device, config, { ...tensors, 'model.layers.2.input_layernorm.weight': norm })).rejects.toThrow(
      'webmoe: the checkpoint has model.layers.2.input_layernorm.weight (model.safetensors) of layer 2, but config.json (mixtral) has num_hidden_layers 2',
    );
    const w1 = tensors['model.layers.1.block_sparse_moe.experts.7.w1.weight'];
    await expect(load(device, config, { ...tensors, 'model.layers.1.block_sparse_moe.experts.8.w1.weight': w1 })).rejects.toThrow(
      'webmoe: the checkpoint has model.layers.1.block_sparse_moe.experts.8.w1.weight (model.safetensors) of expert 8, but config.json (mixtral) has num_experts / num_local_experts / n_routed_experts 8',
    );
    // Fewer experts in the config: the router's rows, or Granite's stacked experts, are the wrong shape.
    await expect(load(device, { ...config, num_local_experts: 7 }, tensors)).rejects.toThrow(
      'webmoe: tensor model.layers.0.block_sparse_moe.gate.weight in model.safetensors has shape [8,64], mixtral config expects [7,64]',
    );
    await expect(load(device, { ...fixtureConfig('granitemoe'), num_local_experts: 4 }, await fixtureTensors('granitemoe'))).rejects.toThrow(
      /block_sparse_moe\.router\.layer\.weight in model\.safetensors has shape \[5,64\], granitemoe config expects \[4,64\]/,
    );
  });

  it('names tensors no block reads (an expert of a dense layer, a buffer the family does not use)', async () => {
    const config = fixtureConfig('qwen2_moe');
    const tensors = await fixtureTensors('qwen2_moe');
    // qwen2_moe's layer 3 is dense (mlp_only_layers): expert tensors there are not its arithmetic.
    const expert = tensors['model.layers.1.mlp.experts.0.up_proj.weight'];
    const inv = { dtype: 'F32' as const, shape: [12], data: new Uint8Array(48).fill(7) };
    await expect(
      load(device, config, { ...tensors, 'model.layers.3.mlp.experts.0.up_proj.weight': expert, 'model.layers.0.self_attn.rotary_emb.inv_freq': inv }),
    )
      .rejects.toThrow(
        'webmoe: the checkpoint has tensors the qwen2_moe config does not read: model.layers.3.mlp.experts.0.up_proj.weight (model.safetensors), model.layers.0.self_attn.rotary_emb.inv_freq (model.safetensors)',
      );
  });

  it('qwen2_moe: qkv_bias false reads no q/k/v biases, and equals zero biases', async () => {
    const config = fixtureConfig('qwen2_moe');
    const tensors = await fixtureTensors('qwen2_moe');
    await expect(load(device, { ...config, qkv_bias: false }, tensors)).rejects.toThrow(
      /the checkpoint has tensors the qwen2_moe config does not read: model\.layers\.0\.self_attn\.[qkv]_proj\.bias/,
    );
    const isBias = (n: string) => /self_attn\.[qkv]_proj\.bias$/.test(n);
    const zeroed = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, isBias(n) ? { ...t, data: new Uint8Array(t.data.length) } : t]));
    const without = Object.fromEntries(Object.entries(tensors).filter(([n]) => !isBias(n)));
    const { tokens } = golden('qwen2_moe');
    const zero = await load(device, config, zeroed);
    const none = await load(device, { ...config, qkv_bias: false }, without);
    const [a, b] = [await zero.forward(tokens, 0, 'all'), await none.forward(tokens, 0, 'all')];
    zero.destroy();
    none.destroy();
    expect(relativeError(b, a)).toBeLessThan(1e-6);
  });
});
