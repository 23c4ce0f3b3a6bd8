// The expert cache on every family fixture (and MXFP4 experts, and q4 ones packed on the way): with
// budgets from topK experts (the minimum: the prompt's forward then runs its experts in batches, each
// miss read again from the checkpoint) to all of them, prefetch predicting topK + 1 experts or topK, prefill logits and greedy decode logits are
// bit-identical to the all-resident fused path (the same kernels and tiles on the same bytes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDecoder, FAMILY_MODELS, golden } from '../../helpers/models.js';
import { cachedDecoder, type SlotOptions } from '../../helpers/cached.js';
import { testDevice } from '../../helpers/gpu.js';
import type { Decoder } from '../../../src/model/decoder.js';
import type { WeightDType } from '../../../src/weights/format.js';

const STEPS = 3;

/** The prompt's logits (every row), then STEPS greedy decode steps' logits. */
async function run(d: Decoder, prompt: number[]): Promise<Float32Array[]> {
  const V = d.config.vocab;
  const out = [await d.forward(prompt, 0, 'all')];
  let last = out[0].subarray((prompt.length - 1) * V);
  for (let s = 0; s < STEPS; s++) {
    const next = last.indexOf(Math.max(...last));
    last = await d.forward([next], prompt.length + s, 'last');
    out.push(last);
  }
  return out;
}

describe('expert cache logits', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  const cases: [string, WeightDType | undefined][] = [...FAMILY_MODELS.map((n) => [n, undefined] as [string, undefined]), ['gpt_oss_mxfp4', undefined], [
    'mixtral',
    'q4',
  ]];
  it.each(cases)('%s (dtype %s): every budget gives the fused logits, bit for bit', async (name, dtype) => {
    const prompt = golden(name).tokens;
    const fused = await fixtureDecoder(device, name, { contextLength: 64, tune: false, dtype });
    const want = await run(fused, prompt);
    fused.destroy();
    const { topK, experts, sparse } = fused.config;
    const budgets: SlotOptions[] = [
      { slots: topK, dtype },
      { slots: topK + 1, expertCachePolicy: 'lfu', prefetch: true, prefetchTopK: topK + 1, hostCacheBytes: 1 << 20, dtype },
      { slots: experts * sparse.filter(Boolean).length, prefetch: true, dtype },
    ];
    for (const [i, o] of budgets.entries()) {
      const { decoder, cache } = await cachedDecoder(device, name, o);
      try {
        const got = await run(decoder, prompt);
        got.forEach((g, i) => expect(g, `${JSON.stringify(o)}, forward ${i}`).toEqual(want[i]));
        const s = cache.stats();
        expect(s.tokens).toBe(prompt.length + STEPS);
        expect(s.hits + s.misses).toBeGreaterThan(0);
        if (i === 0) expect(s.sourceReads).toBeGreaterThan(0); // no host tier: every miss read again
        // Room for all: each expert read once, at its first use (or prefetch), and never given up.
        if (i === 2) expect(s.sourceReads).toBe(s.resident.reduce((n, r) => n + r.experts.length, 0));
      } finally {
        decoder.destroy();
        cache.dispose();
      }
    }
  });
});
