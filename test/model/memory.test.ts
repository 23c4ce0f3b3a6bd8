// The memory a model takes, known before loading (model/memory.ts, the loader's dry declaration),
// against the buffers a load really makes, for every family fixture and dtype; and the refusal of a
// model over memoryLimit, by name and before any GPU buffer is made.
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { readConfig } from '../../src/model/families/registry.js';
import { declaredWeights, loadDecoder } from '../../src/model/load.js';
import { kvCacheBytes, ModelMemoryError } from '../../src/model/memory.js';
import type { WeightDType } from '../../src/weights/format.js';
import { syntheticGraniteSource } from '../../src/bench/synthetic.js';
import { loadModel } from '../../src/node.js';
import { Engine } from '../../src/api/engine.js';
import { swigluExpertBytes } from '../../src/weights/matrix.js';
import { testDevice } from '../helpers/gpu.js';
import { FAMILY_MODELS, modelDir } from '../helpers/models.js';

/** Sizes of the buffers `device` makes while `f` runs, by kind: weight matrices, KV caches, the rest. */
async function madeBytes(device: GPUDevice, f: () => Promise<unknown>) {
  const create = device.createBuffer.bind(device);
  const made = { matrices: 0, kvCache: 0, other: 0 };
  device.createBuffer = (d) => {
    const label = d.label ?? '';
    made[/ experts \d+-\d+ cols \d+-\d+$/.test(label) ? 'matrices' : /^layer \d+ \w+ cache$/.test(label) ? 'kvCache' : 'other'] += d.size;
    return create(d);
  };
  try {
    await f();
  } finally {
    device.createBuffer = create;
  }
  return made;
}

const open = async (name: string) => {
  const ckpt = await openCheckpoint(nodeDirSource(modelDir(name)));
  return { ckpt, ...readConfig(ckpt.config) };
};

describe('model memory', () => {
  const cases: [string, WeightDType][] = [...FAMILY_MODELS.map((m): [string, WeightDType] => [m, 'f32']), ['qwen2_moe', 'q4'], ['gpt_oss_mxfp4', 'q8'], [
    'deepseek_v3',
    'f16',
  ]];
  it.each(cases)('%s at %s: the estimate is what the load makes', async (name, dtype) => {
    const device = await testDevice();
    const { ckpt, family, config } = await open(name);
    const contextLength = 40;
    const made = await madeBytes(device, async () => (await loadDecoder(device, ckpt, family, config, { dtype, contextLength, tune: false })).destroy());
    expect(made.kvCache).toBe(kvCacheBytes(config, contextLength));
    const weights = declaredWeights(family, config, dtype).gpuBytes;
    // buffers are whole 4-byte words: a few bytes over per chunk
    expect(made.matrices - weights).toBeGreaterThanOrEqual(0);
    expect(made.matrices - weights).toBeLessThan(4 * 64);
    device.destroy();
  });

  it('a model over memoryLimit is refused by name before any GPU buffer is made', async () => {
    const device = await testDevice();
    const { ckpt, family, config } = await open('mixtral');
    const need = declaredWeights(family, config).gpuBytes + kvCacheBytes(config, 64);
    const made = await madeBytes(device, async () => {
      const e = await loadDecoder(device, ckpt, family, config, { contextLength: 64, memoryLimit: need - 1 }).catch((e: unknown) => e);
      expect(e).toBeInstanceOf(ModelMemoryError);
      expect((e as Error).message).toMatch(/needs .* GiB of GPU memory \(weights .*, KV cache .*\), over the .* allowed \(memoryLimit\)/);
    });
    expect(made).toEqual({ matrices: 0, kvCache: 0, other: 0 });
    (await loadDecoder(device, ckpt, family, config, { contextLength: 64, memoryLimit: need, tune: false })).destroy();
    device.destroy();
  });

  it('the expert cache: its slots count, not the routed experts it keeps off the GPU', async () => {
    const device = await testDevice();
    const { config, family } = await open('mixtral');
    const kv = kvCacheBytes(config, 64);
    const full = declaredWeights(family, config).gpuBytes + kv;
    const expert = swigluExpertBytes(config.hidden, config.moeIntermediate, 'f32');
    const routed = config.layers * config.experts * expert;
    const load = (memoryLimit: number) =>
      Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64, memoryLimit, expertCacheBytes: config.topK * expert, tune: false });
    await expect(Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64, memoryLimit: full - 1 })).rejects.toThrow(ModelMemoryError);
    (await load(full - routed + config.topK * expert)).dispose();
    await expect(load(full - routed + config.topK * expert - 1)).rejects.toThrow(ModelMemoryError);
    device.destroy();
  });

  it('webmoe/node on a software adapter: a model over the host\'s memory is refused before loading', async () => {
    const device = await testDevice();
    expect(device.adapterInfo.isFallbackAdapter).toBe(true); // lavapipe: its GPU memory is the host's
    // granite-3.1-1b-a400m with 512 experts a layer: 77 GiB at f32
    const source = syntheticGraniteSource({ scale: { experts: 512 } });
    const made = await madeBytes(device, () => expect(loadModel(source, { device, contextLength: 64 })).rejects.toThrow(/needs 7\d\.\d\d GiB of GPU memory/));
    expect(made).toEqual({ matrices: 0, kvCache: 0, other: 0 });
    device.destroy();
  });
});
