// The GPU sampler against the CPU Sampler: the same greedy tokens, the same tokens for a seed (the
// draws are the same numbers; float32 against float64 may only part them at a boundary), and its
// counts over a fixed number of seeded draws against the float64 distribution.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBuffer } from '../../src/gpu/workspace.js';
import { GpuSampler } from '../../src/model/gpuSampling.js';
import { NonFiniteLogitsError, Sampler, type SamplingOptions } from '../../src/model/sampling.js';
import { Rng } from '../ref/rng.js';
import { bound, chiSquare, reference } from '../ref/sampling.js';
import { testDevice } from '../helpers/gpu.js';

describe('GpuSampler', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device?.destroy());

  /**
   * `steps` picks from `logits` on the GPU and on the CPU, each pick joining the sequence. With `row`,
   * the GPU's logits are that row of a buffer of rows, the others other random logits (a batch's).
   */
  async function both(logits: Float32Array, o: SamplingOptions, prompt: number[], steps: number, row?: number) {
    const rng = new Rng(row ?? 0);
    const rows = row === undefined ? logits : rng.array(logits.length * (row + 2), 3);
    rows.set(logits, (row ?? 0) * logits.length);
    const buffer = uploadBuffer(device, rows, 'logits');
    const gpu = new GpuSampler(device, logits.length, o, prompt);
    const cpu = new Sampler(o);
    const seq = [...prompt];
    const picks: { gpu: number; cpu: number }[] = [];
    try {
      for (let i = 0; i < steps; i++) {
        const encoder = device.createCommandEncoder();
        gpu.recordRow(encoder, buffer, row ?? 0);
        device.queue.submit([encoder.finish()]);
        const g = await gpu.readToken();
        const c = cpu.next(logits, seq, prompt.length);
        picks.push({ gpu: g, cpu: c });
        seq.push(g);
      }
    } finally {
      gpu.destroy();
      buffer.destroy();
    }
    return picks;
  }

  it('is greedy as the CPU sampler, with the penalties and the bias, over vocabularies of 1 to 5000, from row 0, 1 or 2 of a batch', async () => {
    const rng = new Rng(1);
    for (const vocab of [1, 2, 7, 255, 256, 257, 1000, 5000]) {
      for (let trial = 0; trial < 3; trial++) {
        const logits = rng.array(vocab, 2);
        if (vocab > 2) logits[rng.int(0, vocab - 1)] = logits[rng.int(0, vocab - 1)]; // a tie
        const prompt = Array.from({ length: rng.int(0, 6) }, () => rng.int(0, vocab - 1));
        const o: SamplingOptions = trial === 0 ? {} : {
          repetitionPenalty: 1 + rng.next(),
          frequencyPenalty: rng.next(),
          presencePenalty: rng.next() - 0.3,
          logitBias: { [rng.int(0, vocab - 1)]: 3 * rng.normal() },
        };
        for (const p of await both(logits, o, prompt, 6, trial)) expect(p.gpu, `vocab ${vocab} row ${trial} ${JSON.stringify(o)}`).toBe(p.cpu);
      }
    }
    // Ties go to the lower id; a -Infinity logit is a mask.
    const tied = Float32Array.from([1, 3, -Infinity, 3, 2]);
    expect((await both(tied, {}, [], 1))[0].gpu).toBe(1);
  });

  it('several samplers each sample their own row of one batch, recorded into one encoder', async () => {
    const rng = new Rng(5);
    const vocab = 300;
    const rows = 4;
    const logits = rng.array(rows * vocab, 2);
    const buffer = uploadBuffer(device, logits, 'logits');
    const options: SamplingOptions[] = [{}, { temperature: 0.8, seed: 3 }, { temperature: 1.1, topP: 0.9, seed: 4 }, { repetitionPenalty: 1.3 }];
    const samplers = options.map((o) => new GpuSampler(device, vocab, o, [1, 2]));
    const cpus = options.map((o) => new Sampler(o));
    const seqs = options.map(() => [1, 2]);
    try {
      for (let step = 0; step < 5; step++) {
        const encoder = device.createCommandEncoder();
        // rows in another order than the samplers', so that no sampler reads row 0 by chance
        const order = [2, 0, 3, 1];
        order.forEach((r, i) => samplers[i].recordRow(encoder, buffer, r));
        device.queue.submit([encoder.finish()]);
        const got = await Promise.all(samplers.map((s) => s.readToken()));
        const want = order.map((r, i) => cpus[i].next(logits.subarray(r * vocab, (r + 1) * vocab), seqs[i], 2));
        expect(got).toEqual(want);
        got.forEach((id, i) => seqs[i].push(id));
      }
    } finally {
      for (const s of samplers) s.destroy();
      buffer.destroy();
    }
  });

  it('draws the tokens the CPU sampler draws for a seed: temperature, top-k, top-p, penalties', async () => {
    const rng = new Rng(2);
    const cases: SamplingOptions[] = [
      { temperature: 1 },
      { temperature: 0.6, topK: 5 },
      { temperature: 1.3, topP: 0.8 },
      { temperature: 0.9, topK: 40, topP: 0.9, repetitionPenalty: 1.3 },
      { temperature: 1, topP: 0.95, frequencyPenalty: 0.4, presencePenalty: 0.2, logitBias: { 3: 2, 7: -1 } },
      { temperature: 0.8, topP: 0.9 },
      { temperature: 1.1, topK: 300, topP: 0.97 },
    ];
    for (const [i, o] of cases.entries()) {
      const vocab = [50, 300, 1000, 777, 64, 20000, 5000][i];
      const logits = rng.array(vocab, 1.5);
      const picks = await both(logits, { ...o, seed: 100 + i }, [1, 2, 3, 2], 60);
      const same = picks.filter((p) => p.gpu === p.cpu).length;
      expect(same, JSON.stringify(o)).toBeGreaterThanOrEqual(59);
      expect(new Set(picks.map((p) => p.gpu)).size).toBeGreaterThan(3);
    }
  });

  it('matches the float64 distribution over 2000 seeded draws (χ²), and a wrong one fails', async () => {
    const logits = Float32Array.from([0.5, -1, 2, 1.2, 0, -0.3, 1.9, -4]);
    const count = async (o: SamplingOptions) => {
      const c = new Array<number>(logits.length).fill(0);
      for (const p of await both(logits, o, [], 2000)) c[p.gpu]++;
      return c;
    };
    const c = await count({ temperature: 0.8, seed: 5 });
    expect(chiSquare(c, reference(logits, [], 0.8))).toBeLessThan(bound(7));
    expect(chiSquare(c, reference(logits, [], 1.2))).toBeGreaterThan(bound(7));
    // top-k 3 then top-p 0.7 of the renormalised top 3: ids 2, 6 (p ≈ .47, .42 of the top 3)
    const filtered = await count({ temperature: 1, topK: 3, topP: 0.7, seed: 6 });
    const top = reference(logits, [], 1);
    const z = top[2] + top[6];
    expect(chiSquare(filtered, top.map((p, i) => (i === 2 || i === 6 ? p / z : 0)))).toBeLessThan(bound(1));
  });

  it('raises NonFiniteLogitsError on NaN or an infinite largest logit; reads only the token', async () => {
    for (const o of [{}, { temperature: 0.7, topK: 2, seed: 1 }, { temperature: 1, topP: 0.5, repetitionPenalty: 1.2, seed: 2 }]) {
      for (const logits of [[NaN, 1, 2], [1, 2, NaN], [-Infinity, -Infinity, -Infinity], [1, Infinity, 2]]) {
        await expect(both(Float32Array.from(logits), o, [0], 1), `${JSON.stringify(o)} ${logits}`).rejects.toThrow(NonFiniteLogitsError);
      }
      expect((await both(Float32Array.from([-Infinity, 5, -Infinity]), o, [0], 3)).map((p) => p.gpu)).toEqual([1, 1, 1]);
    }
  });

  it('refuses a bias outside the vocabulary and bad options by name', () => {
    expect(() => new GpuSampler(device, 10, { logitBias: { 10: 1 } }, [])).toThrow(/logitBias names token 10, outside the vocabulary of 10/);
    expect(() => new GpuSampler(device, 10, { frequencyPenalty: NaN }, [])).toThrow(/frequencyPenalty/);
    expect(() => new GpuSampler(device, 10, { repetitionPenalty: 1.1 }, [10])).toThrow(/token 10 is outside the vocabulary/);
  });
});
