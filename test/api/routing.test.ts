// Routing controls through the engine: per call over the engine's defaults (and undone after), the
// routing telemetry in the generation stats, KV-cache decode under top-p equal to full recomputes,
// expert masks per layer, errors naming the option, and the same logits through expert workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { relativeError } from '../../src/moe/reference.js';
import '../../src/platform/nodeWorkers.js';
import { collect } from '../helpers/generation.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';
import { buildWorkers } from '../helpers/workers.js';

const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
const prompt = [0, 17, 42, 99, 5, 23, 61, 7];

describe('routing controls through the engine', () => {
  let device: GPUDevice;
  let engine: Engine;
  beforeAll(async () => {
    device = await testDevice();
    engine = await Engine.load(device, nodeDirSource(modelDir('deepseek_v3')), { contextLength: 64 });
  });
  afterAll(() => {
    engine.dispose();
    device.destroy();
  });

  it('a call\'s controls change its logits and are undone after it; the engine\'s defaults apply to every call', async () => {
    const plain = await engine.logits(prompt);
    const k1 = await engine.logits(prompt, { routing: { topK: 1 } });
    expect(relativeError(k1[3], plain[3])).toBeGreaterThan(1e-3);
    expect(await engine.logits(prompt)).toEqual(plain);
    engine.setRouting({ topK: 1 });
    expect(await engine.logits(prompt)).toEqual(k1);
    expect(await engine.logits(prompt, { routing: { topK: engine.config.topK } })).toEqual(plain);
    engine.setRouting({});
    expect(await engine.logits(prompt)).toEqual(plain);
  });

  it('stats carry the routing telemetry; top-p runs fewer experts, and its FLOPs and bytes per token drop with them', async () => {
    // reuseCache: false: the whole prompt routed each call (not only what follows the cached prefix)
    const run = async (routing = {}) =>
      (await collect(engine.generate({ tokens: prompt }, { maxTokens: 4, routing, reuseCache: false }))).chunks.at(-1)!.stats!.routing!;
    const all = await run();
    const k = engine.config.topK;
    expect(all.activePerToken).toBe(k);
    expect(all.dropped).toBe(0);
    for (const l of all.layers) {
      expect(l.tokens).toBe(prompt.length + 3); // the prompt, then a forward per generated token but the last
      expect(l.load.reduce((a, b) => a + b, 0)).toBe(l.tokens * k);
      expect(l.maxOverMean).toBeGreaterThanOrEqual(1);
      expect(l.entropy).toBeGreaterThan(0);
      expect(l.entropy).toBeLessThanOrEqual(Math.log2(engine.config.experts) + 1e-9);
      // a decode forward runs its token's k experts; the prompt's forward each expert it routed to, once
      const promptExperts = l.expertRuns - 3 * k;
      expect(promptExperts).toBeGreaterThanOrEqual(1);
      expect(promptExperts).toBeLessThanOrEqual(Math.min(engine.config.experts, prompt.length * k));
    }
    expect(all.expertBytesReadPerToken).toBeLessThan(all.expertBytesPerToken);
    expect(all.expertBytesReadPerToken).toBeGreaterThan(0);
    const some = await run({ topP: 0.4 });
    expect(some.activePerToken).toBeLessThan(k);
    expect(some.activePerToken).toBeGreaterThanOrEqual(1);
    expect(some.expertFlopsPerToken / all.expertFlopsPerToken).toBeCloseTo(some.activePerToken / all.activePerToken, 9);
    expect(some.expertBytesPerToken / all.expertBytesPerToken).toBeCloseTo(some.activePerToken / all.activePerToken, 9);
    const capped = await run({ capacityFactor: 0.5 });
    expect(capped.dropped).toBeGreaterThan(0);
    // routingStats() is the latest call's, also after new defaults are set.
    engine.setRouting({ topK: 1 });
    expect(await engine.routingStats()).toEqual(capped);
    engine.setRouting({});
  });

  it('the KV cache is reused only under the routing it was computed with, never with a capacity factor', async () => {
    const call = async (routing = {}, reuseCache = true) => {
      const { tokens, chunks } = await collect(engine.generate({ tokens: prompt }, { maxTokens: 4, routing, reuseCache }));
      return { tokens, cached: chunks.at(-1)!.stats!.cachedTokens };
    };
    await call();
    expect((await call()).cached).toBe(prompt.length - 1);
    const k1 = await call({ topK: 1 });
    expect(k1.cached).toBe(0);
    expect(k1.tokens).toEqual((await call({ topK: 1 }, false)).tokens);
    expect((await call({ topK: 1 })).cached).toBe(prompt.length - 1);
    engine.setExpertMask(engine.config.sparse.indexOf(true), Array.from({ length: engine.config.experts }, (_, e) => e !== 0));
    expect((await call({ topK: 1 })).cached).toBe(0);
    engine.setRouting({});
    expect((await call({ capacityFactor: 2 })).cached).toBe(0);
    expect((await call({ capacityFactor: 2 })).cached).toBe(0);
  });

  it('greedy decode with the KV cache under top-p equals argmax over full recomputes under it', async () => {
    const routing = { topP: 0.5 };
    const { tokens } = await collect(engine.generate({ tokens: prompt }, { maxTokens: 5, routing }));
    const seq = [...prompt];
    for (const t of tokens) {
      const rows = await engine.logits(seq, { routing });
      expect(t).toBe(argmax(rows[rows.length - 1]));
      seq.push(t);
    }
  });

  it('expert masks per layer, per call and for the engine; the trace never shows a masked expert', async () => {
    const layers = engine.config.sparse.flatMap((s, l) => (s ? [l] : []));
    const E = engine.config.experts;
    const mask = Array.from({ length: E }, (_, e) => (e % 2 ? 1 : 0));
    const experts = async (o: object) => {
      const { chunks } = await collect(engine.generate({ tokens: prompt }, { maxTokens: 2, trace: true, ...o }));
      return chunks.flatMap((c) => c.routing ?? []).flatMap((s) => s.layers).filter((l) => l.layer === layers[0]).flatMap((l) => l.ids.flat());
    };
    expect((await experts({ routing: { expertMask: { [layers[0]]: mask } } })).every((e) => mask[e])).toBe(true);
    expect((await experts({})).some((e) => !mask[e])).toBe(true);
    engine.setExpertMask(layers[0], mask);
    expect((await experts({})).every((e) => mask[e])).toBe(true);
    engine.setExpertMask(layers[0], new Array(E).fill(1));
  });

  it('errors name the option (and the layer of a mask)', async () => {
    const E = engine.config.experts;
    const layer = engine.config.sparse.indexOf(true);
    const call = (routing: object) => engine.logits(prompt, { routing });
    await expect(call({ topP: 0 })).rejects.toThrow(/routing\.topP must be in \(0, 1\], got 0/);
    await expect(call({ topP: 1.01 })).rejects.toThrow(/routing\.topP must be in \(0, 1\], got 1.01/);
    await expect(call({ topK: E + 1 })).rejects.toThrow(new RegExp(`routing\\.topK must be an integer in 1…${E}, got ${E + 1}`));
    await expect(call({ capacityFactor: 0 })).rejects.toThrow(/routing\.capacityFactor must be a positive finite number/);
    await expect(call({ expertMask: { [layer]: [1, ...new Array(E - 1).fill(0)] } })).rejects.toThrow(
      new RegExp(`layer ${layer}: .*fewer than topK = ${engine.config.topK}`),
    );
    await expect(call({ expertMask: { 99: new Array(E).fill(1) } })).rejects.toThrow(/expertMask of layer 99: not a MoE layer/);
    expect(() => engine.setRouting({ minK: E + 1 })).toThrow(/routing\.minK must be an integer/);
    // Nothing was left half set.
    expect(await engine.logits(prompt)).toEqual(await engine.logits(prompt, { routing: {} }));
  });

  it('through expert workers: the same logits as the fused path under every control', async () => {
    await buildWorkers();
    const workers = await Engine.load(device, nodeDirSource(modelDir('deepseek_v3')), { contextLength: 64, workers: 2 });
    try {
      for (const routing of [{ topK: 1 }, { topP: 0.5, minK: 2 }, { capacityFactor: 0.5 }, { capacityFactor: 0.75, capacityMode: 'next' as const }]) {
        const ref = await engine.logits(prompt, { routing });
        const got = await workers.logits(prompt, { routing });
        got.forEach((row, t) => expect(relativeError(row, ref[t]), JSON.stringify(routing)).toBeLessThan(1e-5));
      }
    } finally {
      workers.dispose();
    }
  });
});
