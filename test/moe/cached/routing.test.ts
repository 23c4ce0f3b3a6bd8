// Cache-aware routing (cacheAwareMargin): the routers of the cached layers prefer resident experts by
// the margin. With a margin past any score gap and room for topK experts a layer, every token after
// the first keeps to the experts the first one made resident: no miss after the first forward. Off
// by default (the logits tests cover that path bit for bit); a bad margin is refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerationChunk, type LoadModelOptions } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import { ExpertCacheError } from '../../../src/moe/cached/experts.js';
import { swigluExpertBytes } from '../../../src/weights/matrix.js';
import { modelDir } from '../../helpers/models.js';
import { testDevice } from '../../helpers/gpu.js';

const EXPERT_BYTES = swigluExpertBytes(64, 16, 'f32'); // the mixtral fixture: H 64, I 16, 2 MoE layers of 8, top-2
const TOP_K = 2;
const LAYERS = 2;

describe('cache-aware routing', () => {
  let device: GPUDevice;
  const load = (o: LoadModelOptions) => Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64, hostCacheBytes: 0, ...o });

  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  /** Each decode step's experts per layer (sorted), and the call's cache stats. */
  async function steps(margin: number) {
    const engine = await load({ expertCacheBytes: TOP_K * LAYERS * EXPERT_BYTES, cacheAwareMargin: margin });
    try {
      const chunks: GenerationChunk[] = [];
      for await (const c of engine.generate({ tokens: [17] }, { maxTokens: 8, temperature: 0, trace: true })) chunks.push(c);
      const routed = chunks.flatMap((c) => c.routing ?? []).map((s) => s.layers.map((l) => [...l.ids[0]].sort((a, b) => a - b)));
      return { routed, stats: chunks[chunks.length - 1].stats!.expertCache! };
    } finally {
      engine.dispose();
    }
  }

  it('a margin past every score gap keeps each layer on its resident experts: no miss after the first forward', async () => {
    const off = await steps(0);
    const on = await steps(1e6);
    // Off, this prompt's tokens move between experts (what the margin then holds back).
    expect(new Set(off.routed.map((r) => JSON.stringify(r))).size).toBeGreaterThan(1);
    expect(off.stats.misses).toBeGreaterThan(TOP_K * LAYERS);
    expect(on.routed.length).toBe(off.routed.length);
    for (const r of on.routed) expect(r).toEqual(on.routed[0]);
    expect(on.stats.misses).toBe(TOP_K * LAYERS);
    expect(on.stats.hits).toBe(TOP_K * LAYERS * (on.stats.tokens - 1));
  });

  it('a bad margin is refused by name', async () => {
    for (const bad of [-1, Infinity, Number.NaN]) {
      const err = await load({ expertCacheBytes: 1e9, cacheAwareMargin: bad }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExpertCacheError);
      expect((err as Error).message).toContain(`cacheAwareMargin must be a finite number ≥ 0, got ${bad}`);
    }
  });
});
