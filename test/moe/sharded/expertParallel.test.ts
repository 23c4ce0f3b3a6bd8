// The expert-parallel scheduler on the fixture checkpoints: the same logits as the fused single-device
// path (≤ 1e-5 relative L2 per position in f32; the golden's within 1e-4) with experts on 2 GPU
// workers, on a GPU and a CPU worker (half the experts offloaded by the budget), and on a placement
// map — gpt-oss's biased, clamped experts among them; greedy generation unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type LoadModelOptions } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import { relativeError } from '../../../src/moe/reference.js';
import { MoELayer } from '../../../src/moe/layer.js';
import { runMoE } from '../../../src/moe/run.js';
import { ExpertCoordinator } from '../../../src/moe/sharded/coordinator.js';
import { uploadBuffer } from '../../../src/gpu/workspace.js';
import { rawOf } from '../../../src/weights/convert.js';
import { swigluExpertBytes } from '../../../src/weights/matrix.js';
import '../../../src/platform/nodeWorkers.js';
import { poisoned, readF32, readU32, testDevice } from '../../helpers/gpu.js';
import { randomSpec } from '../../helpers/spec.js';
import { Rng } from '../../ref/rng.js';
import { golden, modelDir } from '../../helpers/models.js';
import { buildWorkers } from '../../helpers/workers.js';

const EXPERT_BYTES = 3 * 64 * 16 * 4; // mixtral and deepseek_v3 fixtures: H 64, I 16, f32
const GPT_OSS_EXPERT_BYTES = 3 * 64 * 32 * 4; // gpt_oss fixture: H 64, I 32, f32, 3 MoE layers
const MXFP4_EXPERT_BYTES = swigluExpertBytes(64, 32, 'mxfp4'); // gpt_oss_mxfp4: the same, MXFP4

describe('expert-parallel scheduler', () => {
  let device: GPUDevice;
  const fused = new Map<string, Engine>();
  const load = (name: string, o: LoadModelOptions = {}) => Engine.load(device, nodeDirSource(modelDir(name)), { contextLength: 64, ...o });

  beforeAll(async () => {
    await buildWorkers();
    device = await testDevice();
    for (const name of ['mixtral', 'qwen2_moe', 'deepseek_v3', 'gpt_oss', 'gpt_oss_mxfp4']) fused.set(name, await load(name));
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
    ['deepseek_v3', 'half the experts on a CPU worker (MLA, selection bias, ungated shared experts)', { workers: 1,
      gpuExpertBudgetBytes: 4 * 2 * EXPERT_BYTES }],
    ['gpt_oss', '2 GPU workers (expert biases, clamped SwiGLU, input-major experts)', { workers: 2 }],
    ['gpt_oss', 'half the experts on a CPU worker', { workers: 1, gpuExpertBudgetBytes: 4 * 3 * GPT_OSS_EXPERT_BYTES }],
    ['gpt_oss_mxfp4', '2 GPU workers (MXFP4 kept so)', { workers: 2 }],
    ['gpt_oss_mxfp4', 'half the experts on a CPU worker (MXFP4 decoded there)', { workers: 1, gpuExpertBudgetBytes: 4 * 3 * MXFP4_EXPERT_BYTES }],
  ];
  it.each(configs)('%s, %s: logits of every position as the fused path', async (name, _, o) => {
    const g = golden(name);
    const engine = await load(name, o);
    try {
      const ref = await fused.get(name)!.logits(g.tokens);
      const got = await engine.logits(g.tokens);
      got.forEach((row, t) => expect(relativeError(row, ref[t])).toBeLessThan(1e-5));
      got.forEach((row, t) => expect(relativeError(row, g.logits[t])).toBeLessThan(1e-4));
      expect(engine.experts!.dtype).toBe(name.endsWith('mxfp4') ? 'mxfp4' : 'f32'); // MXFP4 experts stay so on the workers
      const s = engine.experts!.stats();
      // One forward, in pieces of at most W + 1 tokens where a layer slides by W (decoder.ts).
      const T = g.tokens.length;
      const sparse = engine.config.sparse.filter(Boolean).length;
      const pieceTokens = Math.min(T, ...(engine.config.windows ?? []).map((w) => (w === undefined ? T : w + 1)));
      expect(s.layerCalls).toBe(sparse * Math.ceil(T / pieceTokens));
      expect(s.rowsPerWorker.reduce((a, b) => a + b, 0)).toBe(sparse * T * engine.config.topK);
      expect(s.rowsPerWorker.every((n) => n > 0)).toBe(true);
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

  // What a checkpoint with a router bias (gpt-oss), a selection bias (DeepSeek-V3) or an expert mask
  // gets: the sharded backend routes through the layer's router, so --workers routes as the fused path.
  it('a block with router bias, selection bias, grouped sigmoid routing and an expert mask: the sharded backend gives the fused output', async () => {
    const rng = new Rng(61);
    for (const [routing, tokens] of [[{ topkBeforeSoftmax: true, routerBias: rng.array(8) }, 1], [{ topkBeforeSoftmax: true, routerBias: rng.array(8) }, 9], [{
      scoring: 'sigmoid',
      normTopK: true,
      routedScaling: 2.5,
      nGroup: 4,
      topkGroup: 3,
      selectionBias: rng.array(8, 0.2),
    }, 7]] as const) {
      const s = randomSpec(rng, { tokens, numExperts: 8, topK: 2, hidden: 40, intermediate: 24, ...routing, expertMask: [1, 1, 0, 1, 1, 1, 0, 1] });
      const fusedOut = await runMoE(device, s);
      const coordinator = await ExpertCoordinator.start(device, s, [0], 'f32', { workers: ['gpu', 'cpu'] });
      let layer: MoELayer | undefined;
      try {
        await coordinator.rows(0, 'gateUp', 0, rawOf(s.gateUp));
        await coordinator.rows(0, 'down', 0, rawOf(s.down));
        layer = MoELayer.withExperts(device, s, s, coordinator.backend(0));
        const x = uploadBuffer(device, s.x, 'x');
        const y = poisoned(device, s.x.byteLength, 'y');
        const encoder = device.createCommandEncoder();
        const next = (await layer.encode(encoder, x, y, tokens)) ?? encoder;
        device.queue.submit([next.finish()]);
        const got = await readF32(device, y, tokens * s.hidden);
        const ids = await readU32(device, layer.routing().ids, tokens * 2);
        expect(Array.from(ids)).toEqual(Array.from(fusedOut.expertIds));
        expect(ids.every((e) => e !== 2 && e !== 6)).toBe(true);
        expect(relativeError(got, fusedOut.y)).toBeLessThan(1e-5);
        expect(coordinator.stats().layerCalls).toBe(1);
      } finally {
        layer?.destroy();
        coordinator.dispose();
      }
    }
  });
});
