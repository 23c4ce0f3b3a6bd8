// The expert cache when things go wrong, through the Engine: a budget below topK experts is refused
// naming the minimum; a fetch that fails names the layer, the expert and the source; a call aborted
// while the cache fetches and evicts leaves it consistent (the next call gives a fresh engine's
// logits); an abort reaches the read in flight itself (a read that ends only on its signal's abort),
// so the call ends with the AbortError; dispose() during a fetch ends the call cleanly; a call's stats
// carry the cache's figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineDisposedError, type LoadModelOptions } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import type { ModelSource } from '../../../src/io/source.js';
import { ExpertCacheError } from '../../../src/moe/cached/experts.js';
import { swigluExpertBytes } from '../../../src/weights/matrix.js';
import { golden, modelDir } from '../../helpers/models.js';
import { testDevice } from '../../helpers/gpu.js';

const EXPERT_BYTES = swigluExpertBytes(64, 16, 'f32'); // the mixtral fixture: H 64, I 16
const TOP_K = 2;

/** A file read that yields nothing until its signal aborts (never, without one); counts the reads so cancelled. */
async function* hung(during: { cancelled: number }, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  await new Promise((_, reject) => {
    const stop = () => {
      during.cancelled++;
      reject(signal!.reason);
    };
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}

/**
 * The mixtral fixture, whose file reads fail, call `during`, or hang until aborted once `armed` (after
 * the load).
 */
function trapSource(during: { armed: boolean; fail?: boolean; onRead?: () => void; hang?: { cancelled: number } }): ModelSource {
  const inner = nodeDirSource(modelDir('mixtral'));
  return {
    name: inner.name,
    text: (file, signal) => inner.text(file, signal),
    open: async (file, signal) => {
      const f = await inner.open(file, signal);
      return f && {
        size: f.size,
        stream: (start, end, s) => {
          if (during.armed) {
            during.onRead?.();
            if (during.fail) throw new Error('disk unplugged');
            if (during.hang) return hung(during.hang, s);
          }
          return f.stream(start, end, s);
        },
      };
    },
  };
}

describe('expert cache faults', () => {
  let device: GPUDevice;
  let fused: Engine;
  const load = (o: LoadModelOptions, source: ModelSource = nodeDirSource(modelDir('mixtral'))) =>
    Engine.load(device, source, { contextLength: 64, hostCacheBytes: 0, ...o });

  beforeAll(async () => {
    device = await testDevice();
    fused = await load({});
  });
  afterAll(() => {
    fused.dispose();
    device.destroy();
  });

  it('a budget below topK experts is refused, naming the minimum', async () => {
    const err = await load({ expertCacheBytes: TOP_K * EXPERT_BYTES - 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpertCacheError);
    expect((err as Error).message).toContain(`give at least ${TOP_K * EXPERT_BYTES} bytes`);
    await expect(load({ expertCacheBytes: -1 })).rejects.toThrow(/expertCacheBytes must be a number of bytes ≥ 0, got -1/);
    await expect(load({ expertCacheBytes: 1e9, expertCachePolicy: 'fifo' as 'lru' })).rejects.toThrow(/expertCachePolicy must be 'lru' or 'lfu', got fifo/);
    await expect(load({ expertCacheBytes: 1e9, workers: 1 })).rejects.toThrow(/expertCacheBytes cannot be combined with workers/);
    await expect(load({ expertCacheBytes: 1e9, prefetchTopK: 3 })).rejects.toThrow(/prefetchTopK needs prefetch: true, got prefetch undefined/);
    await expect(load({ expertCacheBytes: 1e9, prefetch: true, prefetchTopK: 9 })).rejects.toThrow(
      /prefetchTopK must be an integer in 1…8 \(the experts a layer has\), got 9/,
    );
  });

  it('a failed fetch names the layer, the expert and the source', async () => {
    const trap = { armed: false, fail: true };
    const engine = await load({ expertCacheBytes: TOP_K * EXPERT_BYTES }, trapSource(trap));
    try {
      trap.armed = true;
      const err = await engine.logits(golden('mixtral').tokens).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExpertCacheError);
      expect((err as Error).message).toMatch(new RegExp(`reading layer \\d expert \\d from ${modelDir('mixtral')} failed: disk unplugged`));
      // The source back: the engine goes on, with the fused logits.
      trap.armed = false;
      const g = golden('mixtral');
      expect(await engine.logits(g.tokens)).toEqual(await fused.logits(g.tokens));
    } finally {
      engine.dispose();
    }
  });

  it('a call aborted while the cache fetches leaves it consistent', async () => {
    const abort = new AbortController();
    const trap = { armed: false, onRead: () => abort.abort() };
    const engine = await load({ expertCacheBytes: TOP_K * EXPERT_BYTES }, trapSource(trap));
    try {
      const g = golden('mixtral');
      trap.armed = true;
      const run = async () => {
        for await (const _ of engine.generate({ tokens: g.tokens }, { maxTokens: 4, signal: abort.signal, temperature: 0 }));
      };
      await expect(run()).rejects.toThrow(/abort/i);
      trap.armed = false;
      expect(await engine.logits(g.tokens)).toEqual(await fused.logits(g.tokens));
    } finally {
      engine.dispose();
    }
  });

  it('an abort cancels the expert read in flight: the call ends with the AbortError at once, the cache stays consistent', async () => {
    const abort = new AbortController();
    const hang = { cancelled: 0 };
    // The read resolves only on its signal's abort: without the call's signal reaching it, the call would never end.
    const trap = { armed: false, hang, onRead: () => setTimeout(() => abort.abort(), 10) };
    const engine = await load({ expertCacheBytes: TOP_K * EXPERT_BYTES, prefetch: true }, trapSource(trap));
    try {
      const g = golden('mixtral');
      trap.armed = true;
      const run = async () => {
        for await (const _ of engine.generate({ tokens: g.tokens }, { maxTokens: 4, signal: abort.signal, temperature: 0 }));
      };
      const err = await run().catch((e: unknown) => e);
      expect((err as Error).name).toBe('AbortError');
      expect(hang.cancelled).toBeGreaterThan(0);
      trap.armed = false;
      expect(await engine.logits(g.tokens)).toEqual(await fused.logits(g.tokens));
    } finally {
      engine.dispose();
    }
  });

  it('dispose() while a call fetches: the call fails with EngineDisposedError, nothing writes into freed buffers', async () => {
    const trap = { armed: false, onRead: () => engine.dispose() };
    const engine = await load({ expertCacheBytes: TOP_K * EXPERT_BYTES, prefetch: true }, trapSource(trap));
    trap.armed = true;
    await expect(engine.logits(golden('mixtral').tokens)).rejects.toThrow(EngineDisposedError);
    await device.queue.onSubmittedWorkDone();
  });

  it('the load streams none of the routed experts: each is read at its first use', async () => {
    const total = async (o: LoadModelOptions) => {
      let bytes = 0;
      (await load({ ...o, onProgress: (p) => (bytes = p.totalBytes) })).dispose();
      return bytes;
    };
    const experts = 2 * 8 * EXPERT_BYTES; // mixtral fixture: 2 layers of 8 experts, F32 in the file
    expect(await total({ expertCacheBytes: TOP_K * EXPERT_BYTES })).toBe((await total({})) - experts);
  });

  it('a call\'s stats carry the cache\'s figures', async () => {
    const engine = await load({ expertCacheBytes: 3 * EXPERT_BYTES, expertCachePolicy: 'lfu', prefetch: true, hostCacheBytes: 1 << 20 });
    try {
      const g = golden('mixtral');
      let stats;
      for await (const c of engine.generate({ tokens: g.tokens }, { maxTokens: 4, temperature: 0 })) stats = c.stats ?? stats;
      const s = stats!.expertCache!;
      expect(s.slots).toBe(3);
      expect(s.expertBytes).toBe(EXPERT_BYTES);
      expect(s.tokens).toBe(g.tokens.length + 3); // the prompt, then a forward per sampled token but the last
      expect(s.hits + s.misses).toBeGreaterThan(0);
      expect(s.hitRate).toBeCloseTo(s.hits / (s.hits + s.misses));
      expect(s.bytesPerToken).toBeCloseTo(s.bytesUploaded / s.tokens);
      expect(s.predicted).toBeGreaterThan(0);
      expect(s.prefetch.recall).toBeGreaterThanOrEqual(0);
      expect(s.prefetch.recall).toBeLessThanOrEqual(1);
      expect(s.resident.map((r) => r.layer)).toEqual([0, 1]);
      expect(s.resident.flatMap((r) => r.experts).length).toBe(3);
      expect(engine.expertCache!.stats().tokens).toBe(s.tokens);
    } finally {
      engine.dispose();
    }
  });
});
