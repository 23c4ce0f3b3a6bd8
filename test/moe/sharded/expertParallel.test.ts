// The expert-parallel scheduler on the fixture checkpoints: the same logits as the fused single-device
// path (≤ 1e-5 relative L2 per position in f32) with experts on 2 GPU workers, on a GPU and a CPU worker
// (half the experts offloaded by the budget), and on a placement map; greedy generation unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type LoadModelOptions } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import { relativeError } from '../../../src/moe/reference.js';
import '../../../src/platform/nodeWorkers.js';
import { testDevice } from '../../helpers/gpu.js';
import { golden, modelDir } from '../../helpers/models.js';
import { buildWorkers } from '../../helpers/workers.js';

const EXPERT_BYTES = 3 * 64 * 16 * 4;  // mixtral fixture: H 64, I 16, f32

describe('expert-parallel scheduler', () => {
  let device: GPUDevice;
  const fused = new Map<string, Engine>();
  const load = (name: string, o: LoadModelOptions = {}) => Engine.load(device, nodeDirSource(modelDir(name)), { contextLength: 64, ...o });

  beforeAll(async () => {
    await buildWorkers();
    device = await testDevice();
    for (const name of ['mixtral', 'qwen2_moe']) fused.set(name, await load(name));
  });
  afterAll(() => {
    for (const e of fused.values()) e.dispose();
    device.destroy();
  });

  const configs: [string, string, LoadModelOptions][] = [
    ['mixtral', '2 GPU workers', { workers: 2 }],
    ['mixtral', 'half the experts on a CPU worker', { workers: 1, gpuExpertBudgetBytes: 4 * 2 * EXPERT_BYTES }],
    ['mixtral', 'a placement map (GPU + CPU)', { workers: ['gpu', 'cpu'], placement: [[7, 0, 2], [1, 3, 4, 5, 6]] }],
    ['qwen2_moe', '2 GPU workers (shared expert, dense layers)', { workers: 2 }],
    ['qwen2_moe', 'all experts on the CPU', { workers: 0, gpuExpertBudgetBytes: 0, cpuWorkers: 2 }],
  ];
  it.each(configs)('%s, %s: logits of every position as the fused path', async (name, _, o) => {
    const g = golden(name);
    const engine = await load(name, o);
    try {
      const ref = await fused.get(name)!.logits(g.tokens);
      const got = await engine.logits(g.tokens);
      got.forEach((row, t) => expect(relativeError(row, ref[t])).toBeLessThan(1e-5));
      const s = engine.experts!.stats();
      expect(s.layerCalls).toBe(engine.config.sparse.filter(Boolean).length);
      expect(s.rowsPerWorker.reduce((a, b) => a + b, 0)).toBe(s.layerCalls * g.tokens.length * engine.config.topK);
    } finally {
      engine.dispose();
    }
  });

  it('greedy generation (prefill, then one token per step) gives the fused tokens', async () => {
    const engine = await load('mixtral', { workers: 1, gpuExpertBudgetBytes: 4 * 2 * EXPERT_BYTES });
    try {
      const run = async (e: Engine) => {
        const out: number[] = [];
        for await (const c of e.generate({ tokens: [0, 17, 42, 99, 5] }, { maxTokens: 8 })) out.push(...c.tokens);
        return out;
      };
      expect(await run(engine)).toEqual(await run(fused.get('mixtral')!));
      expect(engine.experts!.placement.kinds).toEqual(['gpu', 'cpu']);
      expect(engine.experts!.placement.layers.get(0)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    } finally {
      engine.dispose();
    }
  });
});
