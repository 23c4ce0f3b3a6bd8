// Several sequences in one forward (Decoder.forwardBatch, Sequence.appendBatch), for every family
// fixture: sequences of different prompt lengths, joining at different steps, so that one's prefill
// chunks run beside the others' decode tokens and then all decode together (the fused decode
// attention), each in its own KV slot, give the logits and greedy tokens each gives run alone
// through forward(); sliding windows past their rings; the experts in the expert cache or on workers;
// the GPU sampler on a batch's rows; bad batches refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capStorageBinding } from '../../src/gpu/limits.js';
import { mapRead, stageRead } from '../../src/gpu/workspace.js';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { readConfig } from '../../src/model/families/registry.js';
import { moeConfigOf, sparseLayers } from '../../src/model/config.js';
import { declaredWeights, loadDecoder } from '../../src/model/load.js';
import { ExpertCoordinator } from '../../src/moe/sharded/coordinator.js';
import '../../src/platform/nodeWorkers.js';
import { relativeError } from '../../src/moe/reference.js';
import { type BatchPart, type BatchReader, type Decoder, DecoderInputError } from '../../src/model/decoder.js';
import { GpuSampler } from '../../src/model/gpuSampling.js';
import { kvCacheBytes, ModelMemoryError } from '../../src/model/memory.js';
import { Sequence } from '../../src/model/sequence.js';
import { cachedDecoder } from '../helpers/cached.js';
import { testDevice } from '../helpers/gpu.js';
import { FAMILY_MODELS, fixtureDecoder, modelDir } from '../helpers/models.js';
import { buildWorkers } from '../helpers/workers.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

/** A reader of every row of a forward's logits. */
const readRows = (): BatchReader<Float32Array> => {
  let staging: GPUBuffer;
  return {
    record: (encoder, logits) => void (staging = stageRead(device, encoder, logits)),
    read: async () => new Float32Array(await mapRead(staging)),
  };
};

const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

interface Plan {
  prompt: number[];
  /** the step it joins at, and the most prompt tokens a step runs of it */
  joins: number;
  chunk: number;
}

const GENERATE = 6;

/**
 * Each sequence alone in a decoder of one slot: its prompt's logits (rows 'all'), then greedy decode
 * steps. The logits after position p, by p, and the tokens generated.
 */
async function alone(decoder: Decoder, prompt: number[]) {
  const V = decoder.config.vocab;
  const all = await decoder.forward(prompt, 0, 'all');
  const logits = prompt.map((_, p) => all.subarray(p * V, (p + 1) * V));
  const tokens: number[] = [];
  for (let i = 0; i < GENERATE; i++) {
    const next = argmax(logits[logits.length - 1]);
    tokens.push(next);
    if (i + 1 < GENERATE) logits.push(await decoder.forward([next], logits.length, 'last'));
  }
  return { logits, tokens };
}

/**
 * The sequences together: each step, every joined sequence runs its next prompt chunk or its last
 * greedy token, in a shuffled order of parts; compared row by row with `want`. Returns how many steps
 * were all decode tokens (the fused attention) and how many mixed a prefill chunk with decode tokens.
 */
async function together(decoder: Decoder, plans: Plan[], want: Awaited<ReturnType<typeof alone>>[], rng: Rng, label: string) {
  const seqs = plans.map((plan, i) => ({ plan, seq: new Sequence(decoder, plans.length - 1 - i), generated: [] as number[], done: 0 }));
  let decodeSteps = 0;
  let mixedSteps = 0;
  for (let step = 0; seqs.some((s) => s.generated.length < GENERATE); step++) {
    const active = seqs.filter((s) => s.plan.joins <= step && s.generated.length < GENERATE).sort(() => rng.next() - 0.5);
    if (!active.length) continue;
    const parts = active.map((s) => {
      const left = s.plan.prompt.length - s.done;
      const tokens = left > 0 ? s.plan.prompt.slice(s.done, s.done + Math.min(s.plan.chunk, decoder.maxTokens)) : [s.generated[s.generated.length - 1]];
      return { s, seq: s.seq, tokens };
    });
    if (parts.every((p) => p.tokens.length === 1)) decodeSteps++;
    else if (parts.some((p) => p.tokens.length === 1)) mixedSteps++;
    const rows = await Sequence.appendBatch(parts, readRows());
    const V = decoder.config.vocab;
    parts.forEach(({ s, tokens }, i) => {
      const row = rows.subarray(i * V, (i + 1) * V);
      const i0 = plans.indexOf(s.plan);
      const pos = s.seq.length - 1;
      expect(relativeError(row, want[i0].logits[pos]), `${label}: sequence ${i0} position ${pos}, step ${step}`).toBeLessThan(1e-5);
      s.done = Math.min(s.plan.prompt.length, s.done + tokens.length);
      if (s.done === s.plan.prompt.length) s.generated.push(argmax(row));
    });
  }
  seqs.forEach((s, i) => {
    expect(s.generated, `${label}: sequence ${i}'s greedy tokens`).toEqual(want[i].tokens);
    expect(s.seq.tokens).toEqual([...s.plan.prompt, ...s.generated.slice(0, -1)]);
  });
  return { decodeSteps, mixedSteps };
}

/** A decoder of `maxSequences` sequences and what frees it. */
type Made = { decoder: Decoder; dispose(): void };

/**
 * Sequences of random prompts of `lengths` (each with its joins and chunk) alone in `make(1)`, then
 * all of them together in `make(n)` (together()); the decode-only and mixed steps that ran.
 */
async function togetherEqualsAlone(
  make: (maxSequences: number) => Promise<Made>,
  lengths: (Omit<Plan, 'prompt'> & { length: number })[],
  rng: Rng,
  label: string,
) {
  const single = await make(1);
  const V = single.decoder.config.vocab;
  const plans = lengths.map(({ length, joins, chunk }) => ({ prompt: Array.from({ length }, () => rng.int(1, V - 1)), joins, chunk }));
  const want = [];
  for (const p of plans) want.push(await alone(single.decoder, p.prompt));
  single.dispose();
  const { decoder, dispose } = await make(plans.length);
  expect(decoder.slots).toBe(plans.length);
  try {
    return await together(decoder, plans, want, rng, label);
  } finally {
    dispose();
  }
}

describe('forwardBatch: sequences together equal each alone', () => {
  for (const name of FAMILY_MODELS) {
    it(`${name}: three sequences, prefill chunks beside decode steps, then all decoding`, async () => {
      const rng = new Rng(name.length * 31 + name.charCodeAt(0));
      const make = async (maxSequences: number): Promise<Made> => {
        const decoder = await fixtureDecoder(device, name, { contextLength: 32, maxSequences });
        return { decoder, dispose: () => decoder.destroy() };
      };
      // past a sliding window's ring (4 tokens, a ring of 8) in each
      const plans = [{ length: 9, joins: 0, chunk: 9 }, { length: 4, joins: 1, chunk: 3 }, { length: 13, joins: 2, chunk: 5 }];
      const { decodeSteps, mixedSteps } = await togetherEqualsAlone(make, plans, rng, name);
      expect(decodeSteps).toBeGreaterThan(1);
      expect(mixedSteps).toBeGreaterThan(1);
    });
  }

  it('mixtral with its experts in the expert cache (prefetch, few slots): together equal each alone', async () => {
    const rng = new Rng(5);
    const make = async (maxSequences: number): Promise<Made> => {
      const { decoder, cache } = await cachedDecoder(device, 'mixtral', { slots: 5, prefetch: true, maxSequences });
      return { decoder, dispose: () => (decoder.destroy(), cache.dispose()) };
    };
    const plans = [{ length: 6, joins: 0, chunk: 6 }, { length: 9, joins: 1, chunk: 4 }];
    const { decodeSteps, mixedSteps } = await togetherEqualsAlone(make, plans, rng, 'mixtral, expert cache');
    expect(decodeSteps).toBeGreaterThan(1);
    expect(mixedSteps).toBeGreaterThan(0);
  });

  it('mixtral with its experts on a GPU and a CPU worker (expert-parallel): together equal each alone', async () => {
    await buildWorkers();
    const rng = new Rng(6);
    const ckpt = await openCheckpoint(nodeDirSource(modelDir('mixtral')));
    const { family, config } = readConfig(ckpt.config);
    const make = async (maxSequences: number): Promise<Made> => {
      const experts = await ExpertCoordinator.start(device, moeConfigOf(config), sparseLayers(config), 'f32', { workers: ['gpu', 'cpu'] });
      const decoder = await loadDecoder(device, ckpt, family, config, { contextLength: 32, experts, maxSequences });
      return { decoder, dispose: () => (decoder.destroy(), experts.dispose()) };
    };
    const plans = [{ length: 5, joins: 0, chunk: 5 }, { length: 7, joins: 1, chunk: 3 }];
    const { decodeSteps, mixedSteps } = await togetherEqualsAlone(make, plans, rng, 'mixtral, workers');
    expect(decodeSteps).toBeGreaterThan(1);
    expect(mixedSteps).toBeGreaterThan(0);
  });

  it('forward() on slot 1 and 2 of a decoder equals slot 0 alone; a batch of one part equals forward()', async () => {
    const decoder = await fixtureDecoder(device, 'qwen2_moe_sliding', { contextLength: 32, maxSequences: 3 });
    const V = decoder.config.vocab;
    const rng = new Rng(3);
    const tokens = Array.from({ length: 12 }, () => rng.int(1, V - 1));
    const ref = await decoder.forward(tokens, 0, 'all', undefined, 0);
    for (const slot of [1, 2]) {
      await decoder.forward(tokens.slice(0, 5), 0, 'last', undefined, slot);
      for (let p = 5; p < tokens.length; p++) {
        const row = await decoder.forward([tokens[p]], p, 'last', undefined, slot);
        expect(relativeError(row, ref.subarray(p * V, (p + 1) * V)), `slot ${slot} position ${p}`).toBeLessThan(1e-5);
      }
    }
    const one = await decoder.forwardBatch([{ slot: 2, pos0: 0, tokens: tokens.slice(0, 4) }], readRows());
    expect(one.length).toBe(V);
    expect(relativeError(one, ref.subarray(3 * V, 4 * V))).toBeLessThan(1e-5);
    decoder.destroy();
  });

  it('GPU samplers each sample their own row of a batch, greedy as the rows read back', async () => {
    const decoder = await fixtureDecoder(device, 'mixtral', { contextLength: 32, maxSequences: 3 });
    const V = decoder.config.vocab;
    const parts: BatchPart[] = [{ slot: 2, pos0: 0, tokens: [5, 9, 11] }, { slot: 0, pos0: 0, tokens: [7] }, { slot: 1, pos0: 0, tokens: [3, 4] }];
    const rows = await decoder.forwardBatch(parts, readRows());
    const samplers = parts.map(() => new GpuSampler(device, V, {}, []));
    const both: BatchReader<number[]> = {
      record: (encoder, logits, n) => {
        expect(n).toBe(parts.length);
        samplers.forEach((s, i) => s.recordRow(encoder, logits, i));
      },
      read: () => Promise.all(samplers.map((s) => s.readToken())),
    };
    const ids = await decoder.forwardBatch(parts, both);
    expect(ids).toEqual(parts.map((_, i) => argmax(rows.subarray(i * V, (i + 1) * V))));
    // decode steps: each sequence its own token
    const next = parts.map((p, i) => ({ slot: p.slot, pos0: p.tokens.length, tokens: [ids[i]] }));
    const step = await decoder.forwardBatch(next, both);
    const read = await decoder.forwardBatch(next, readRows());
    expect(step).toEqual(next.map((_, i) => argmax(read.subarray(i * V, (i + 1) * V))));
    for (const s of samplers) s.destroy();
    decoder.destroy();
  });
});

describe('forwardBatch refuses bad batches by name', () => {
  it('slot out of range, a slot twice, no tokens, past maxTokens, past the context, a token outside the vocabulary, no parts', async () => {
    const decoder = await fixtureDecoder(device, 'mixtral_sliding', { contextLength: 16, maxSequences: 2 });
    const r = readRows();
    const ok = { slot: 0, pos0: 0, tokens: [1, 2] };
    const bad = (part: BatchPart) => decoder.forwardBatch([ok, part], r);
    await expect(bad({ slot: 2, pos0: 0, tokens: [1] })).rejects.toThrow(/forwardBatch part 1: slot 2 is outside 0…1/);
    await expect(bad({ slot: -1, pos0: 0, tokens: [1] })).rejects.toThrow(/forwardBatch part 1: slot -1 is outside/);
    await expect(bad({ slot: 0, pos0: 0, tokens: [1] })).rejects.toThrow(/forwardBatch part 1: slot 0 is part 0's too/);
    await expect(bad({ slot: 1, pos0: 0, tokens: [] })).rejects.toThrow(/forwardBatch part 1 needs at least one token/);
    await expect(bad({ slot: 1, pos0: 0, tokens: new Array(decoder.maxTokens + 1).fill(1) })).rejects.toThrow(
      new RegExp(`forwardBatch part 1: ${decoder.maxTokens + 1} tokens, over maxTokens ${decoder.maxTokens}`),
    );
    await expect(bad({ slot: 1, pos0: 14, tokens: [1, 2, 3] })).rejects.toThrow(/forwardBatch part 1: positions 14…16 exceed the context length 16/);
    await expect(bad({ slot: 1, pos0: 0, tokens: [1, 320] })).rejects.toThrow(/forwardBatch part 1: token 1 is 320, outside the vocabulary 0…319/);
    await expect(bad({ slot: 1, pos0: 1.5, tokens: [1] })).rejects.toThrow(/forwardBatch part 1: pos0 1.5 is not a position/);
    await expect(decoder.forwardBatch([], r)).rejects.toThrow(/needs at least one part/);
    await expect(decoder.forward([1], 0, 'last', undefined, 2)).rejects.toThrow(/forward\(\): slot 2 is outside 0…1/);
    await expect(bad({ slot: 2, pos0: 0, tokens: [1] })).rejects.toThrow(DecoderInputError);
    expect(() => new Sequence(decoder, 2)).toThrow(/Sequence slot 2 is outside the decoder's slots 0…1/);
    decoder.destroy();
  });

  it('maxSequences: a positive integer, each a whole cache in the memory check and the binding limit', async () => {
    for (const maxSequences of [0, 1.5, -1, NaN]) {
      await expect(fixtureDecoder(device, 'mixtral', { contextLength: 16, maxSequences })).rejects.toThrow(/maxSequences must be a positive integer/);
    }
    const one = await fixtureDecoder(device, 'mixtral', { contextLength: 16 });
    expect(one.slots).toBe(1);
    one.destroy();
    const { family, config } = readConfig((await openCheckpoint(nodeDirSource(modelDir('mixtral')))).config);
    expect(kvCacheBytes(config, 16, 3)).toBe(3 * kvCacheBytes(config, 16));
    // a limit the weights and two sequences' caches fit, three do not
    const limit = declaredWeights(family, config).gpuBytes + 2 * kvCacheBytes(config, 16);
    (await fixtureDecoder(device, 'mixtral', { contextLength: 16, maxSequences: 2, memoryLimit: limit })).destroy();
    await expect(fixtureDecoder(device, 'mixtral', { contextLength: 16, maxSequences: 3, memoryLimit: limit })).rejects.toThrow(ModelMemoryError);
    await expect(fixtureDecoder(device, 'mixtral', { contextLength: 16, maxSequences: 3, memoryLimit: limit })).rejects.toThrow(/fewer maxSequences/);
    const small = await testDevice();
    capStorageBinding(small, 16384); // a cache of 64 positions takes 8 KiB a binding: two fit, three do not
    (await fixtureDecoder(small, 'mixtral', { contextLength: 64, maxSequences: 2 })).destroy();
    await expect(fixtureDecoder(small, 'mixtral', { contextLength: 64, maxSequences: 3 })).rejects.toThrow(
      /KV cache for 64 positions × 3 sequences needs 24576 bytes per binding, over the storage binding limit 16384: use a shorter contextLength or fewer maxSequences/,
    );
    small.destroy();
  });
});

describe('Sequence.appendBatch', () => {
  it('every part valid after a forward; a failed one keeps each sequence as it was', async () => {
    const decoder = await fixtureDecoder(device, 'olmoe', { contextLength: 16, maxSequences: 2 });
    const [a, b] = [new Sequence(decoder, 0), new Sequence(decoder, 1)];
    await Sequence.appendBatch([{ seq: a, tokens: [1, 2, 3] }, { seq: b, tokens: [4] }], readRows());
    expect([a.tokens, b.tokens]).toEqual([[1, 2, 3], [4]]);
    await expect(Sequence.appendBatch([{ seq: a, tokens: [5] }, { seq: b, tokens: [400] }], readRows())).rejects.toThrow(/part 1: token 0 is 400/);
    expect([a.tokens, b.tokens]).toEqual([[1, 2, 3], [4]]);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(Sequence.appendBatch([{ seq: a, tokens: [5] }], readRows(), aborted.signal)).rejects.toThrow('stop');
    await expect(Sequence.appendBatch([{ seq: a, tokens: [5] }, { seq: new Sequence(decoder, 0), tokens: [6] }], readRows())).rejects.toThrow(
      /slot 0 is part 0's too/,
    );
    await expect(Sequence.appendBatch([], readRows())).rejects.toThrow(/at least one part/);
    const rows = await Sequence.appendBatch([{ seq: b, tokens: [5, 6] }, { seq: a, tokens: [7] }], readRows());
    expect([a.tokens, b.tokens]).toEqual([[1, 2, 3, 7], [4, 5, 6]]);
    // the same rows as each alone
    const V = decoder.config.vocab;
    const aAlone = await decoder.forward([1, 2, 3, 7], 0, 'last');
    const bAlone = await decoder.forward([4, 5, 6], 0, 'last');
    expect(relativeError(rows.subarray(0, V), bAlone)).toBeLessThan(1e-5);
    expect(relativeError(rows.subarray(V, 2 * V), aAlone)).toBeLessThan(1e-5);
    decoder.destroy();
  });
});
