import { describe, expect, it } from 'vitest';
import { NonFiniteLogitsError, Sampler, type SamplingOptions } from '../../src/model/sampling.js';
import { Rng } from '../ref/rng.js';
import { bound, chiSquare, reference } from '../ref/sampling.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

function counts(o: SamplingOptions, logits: Float32Array, previous: number[], n: number): number[] {
  const s = new Sampler(o);
  const c = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) c[s.next(logits, previous)]++;
  return c;
}

const argmax = (x: Float32Array) => x.indexOf(x.reduce((a, b) => Math.max(a, b), -Infinity));

describe('Sampler', () => {
  it('is greedy (argmax, ties to the lower id) at temperature 0 or undefined', () => {
    const logits = f32([1, 3, -2, 3, 2]);
    expect(new Sampler({}).next(logits, [])).toBe(1);
    expect(new Sampler({ temperature: 0, topK: 3, topP: 0.5 }).next(logits, [])).toBe(1);
    expect(new Sampler({}).next(f32([-Infinity, -5, -1, -1]), [])).toBe(2);
  });

  it('repeats itself for a seed and differs across seeds', () => {
    const rng = new Rng(3);
    const logits = rng.array(50);
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 200 }, () => s.next(logits, []));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    expect(new Set(run(7)).size).toBeGreaterThan(10);
  });

  it('top-k 1 and a tiny top-p are greedy', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const logits = rng.array(100, 2);
      expect(new Sampler({ temperature: 1.5, topK: 1, seed: trial }).next(logits, [])).toBe(argmax(logits));
      expect(new Sampler({ temperature: 1.5, topP: 1e-9, seed: trial }).next(logits, [])).toBe(argmax(logits));
    }
  });

  it('draws from the softmax at temperature 1', () => {
    const logits = f32([0.5, -1, 2, 1.2, 0, -0.3, 1.9, -4]);
    const c = counts({ temperature: 1, seed: 11 }, logits, [], 200_000);
    const probs = reference(logits, [], 1);
    expect(chiSquare(c, probs)).toBeLessThan(bound(7));
    // The check has power: the distribution of a different temperature fails it.
    expect(chiSquare(c, reference(logits, [], 1.1))).toBeGreaterThan(bound(7));
  });

  it('scales by the temperature and applies the repetition penalty as a float64 reference', () => {
    const logits = f32([1.5, -0.5, 2, 0.2, -2, 1.1]);
    const previous = [0, 1, 1, 4, 0];
    const c = counts({ temperature: 0.7, repetitionPenalty: 1.4, seed: 2 }, logits, previous, 200_000);
    expect(chiSquare(c, reference(logits, previous, 0.7, 1.4))).toBeLessThan(bound(5));
    expect(chiSquare(c, reference(logits, previous, 0.7))).toBeGreaterThan(bound(5));
    // A token seen twice is penalised once.
    expect(chiSquare(c, reference(logits, [...previous, 0, 1], 0.7, 1.4))).toBeLessThan(bound(5));
  });

  it('adds the logit bias, then the frequency and presence penalties over the generated tokens only', () => {
    const logits = f32([1.5, -0.5, 2, 0.2, -2, 1.1]);
    const previous = [0, 5, 2, 2, 1, 2]; // the prompt is [0, 5]; 2, 2, 1, 2 were generated
    const o = { temperature: 0.9, repetitionPenalty: 1.2, frequencyPenalty: 0.3, presencePenalty: 0.4, logitBias: { 4: 2.5, 0: -0.5 } };
    const s = new Sampler({ ...o, seed: 3 });
    const c = new Array<number>(6).fill(0);
    for (let i = 0; i < 200_000; i++) c[s.next(logits, previous, 2)]++;
    const extra = { bias: o.logitBias, generated: [2, 2, 1, 2], frequency: 0.3, presence: 0.4 };
    expect(chiSquare(c, reference(logits, previous, 0.9, 1.2, extra))).toBeLessThan(bound(5));
    // The prompt's tokens are not counted: the same penalties over all of them is another distribution.
    expect(chiSquare(c, reference(logits, previous, 0.9, 1.2, { ...extra, generated: previous }))).toBeGreaterThan(bound(5));
    expect(new Sampler({ logitBias: { 1: 10 } }).next(logits, [])).toBe(1);
    expect(new Sampler({ presencePenalty: 1 }).next(f32([2, 1.5]), [0], 0)).toBe(1);
    expect(new Sampler({ presencePenalty: 1 }).next(f32([2, 1.5]), [0], 1)).toBe(0);
    expect(new Sampler({ frequencyPenalty: 0.2 }).next(f32([2, 1.5]), [0, 0, 0], 0)).toBe(1);
  });

  it('applies the penalty before greedy choice: divides positive logits, multiplies negative ones', () => {
    expect(new Sampler({ repetitionPenalty: 1.5 }).next(f32([2, 1.5]), [0])).toBe(1); // 2/1.5 < 1.5
    expect(new Sampler({ repetitionPenalty: 1.2 }).next(f32([2, 1.5]), [0])).toBe(0); // 2/1.2 > 1.5
    expect(new Sampler({ repetitionPenalty: 1.3 }).next(f32([-1, -1.2]), [0])).toBe(1); // -1.3 < -1.2
  });

  it('keeps the top-k tokens (ties with the k-th included) and the nucleus of top-p', () => {
    const logits = f32([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const n = 100_000;
    expect(chiSquare(counts({ temperature: 1, topP: 0.75, seed: 1 }, logits, [], n), [5 / 8, 3 / 8, 0, 0])).toBeLessThan(bound(1));
    expect(chiSquare(counts({ temperature: 1, topP: 0.85, seed: 1 }, logits, [], n), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])).toBeLessThan(bound(2));
    expect(chiSquare(counts({ temperature: 1, topK: 2, seed: 1 }, logits, [], n), [5 / 8, 3 / 8, 0, 0])).toBeLessThan(bound(1));
    // top-p acts on the top-k distribution renormalised: 0.625 ≥ 0.6 keeps token 0 alone.
    expect(counts({ temperature: 1, topK: 2, topP: 0.6, seed: 1 }, logits, [], 1000)[0]).toBe(1000);
    const tied = counts({ temperature: 1, topK: 2, seed: 1 }, f32([1, 1, 1, 0]), [], 30_000);
    expect(chiSquare(tied, [1 / 3, 1 / 3, 1 / 3, 0])).toBeLessThan(bound(2));
  });

  it('never draws a -Infinity logit', () => {
    const c = counts({ temperature: 2, seed: 4 }, f32([0, -Infinity, 1, -Infinity]), [], 5000);
    expect(c[1] + c[3]).toBe(0);
  });

  it('filters a 256k vocabulary exactly', () => {
    const vocab = 262_144;
    const rng = new Rng(9);
    const logits = rng.array(vocab, 3);
    const probs = reference(logits, [], 0.8);
    const byProb = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
    let cum = 0;
    const nucleus = new Set<number>();
    for (const id of byProb) {
      if (cum >= 0.9) break;
      nucleus.add(id);
      cum += probs[id];
    }
    const topP = new Sampler({ temperature: 0.8, topP: 0.9, seed: 1 });
    const topK = new Sampler({ temperature: 0.8, topK: 40, seed: 1 });
    const top40 = new Set(byProb.slice(0, 40));
    for (let i = 0; i < 20; i++) {
      expect(nucleus.has(topP.next(logits, []))).toBe(true);
      expect(top40.has(topK.next(logits, []))).toBe(true);
    }
    // A flat distribution: the nucleus is the lower half of the ids (ties sort by id).
    const flat = new Sampler({ temperature: 1, topP: 0.5, seed: 1 });
    const zeros = new Float32Array(vocab);
    for (let i = 0; i < 20; i++) expect(flat.next(zeros, [])).toBeLessThan(vocab / 2);
  });

  it('rejects bad options, naming the option and the value', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature.*-1/);
    expect(() => new Sampler({ temperature: NaN })).toThrow(/temperature.*NaN/);
    expect(() => new Sampler({ topK: 2.5 })).toThrow(/topK.*2\.5/);
    expect(() => new Sampler({ topK: -1 })).toThrow(/topK.*-1/);
    expect(() => new Sampler({ topP: 0 })).toThrow(/topP.*0/);
    expect(() => new Sampler({ topP: 1.5 })).toThrow(/topP.*1\.5/);
    expect(() => new Sampler({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty.*0/);
    expect(() => new Sampler({ seed: 0.5 })).toThrow(/seed.*0\.5/);
    expect(() => new Sampler({ frequencyPenalty: Infinity })).toThrow(/frequencyPenalty.*Infinity/);
    expect(() => new Sampler({ presencePenalty: NaN })).toThrow(/presencePenalty.*NaN/);
    expect(() => new Sampler({ logitBias: { 2: NaN } })).toThrow(/logitBias\[2\].*NaN/);
    expect(() => new Sampler({ logitBias: { '-1': 1 } })).toThrow(/logitBias must be keyed by token ids/);
    expect(() => new Sampler({ logitBias: { 5: 1 } }).next(f32([1, 2]), [])).toThrow(/logitBias names token 5, outside the vocabulary of 2/);
    expect(() => new Sampler({ temperature: -1 })).toThrow(RangeError);
  });

  it('rejects bad inputs', () => {
    expect(() => new Sampler({}).next(new Float32Array(0), [])).toThrow(/no logits/);
    expect(() => new Sampler({ repetitionPenalty: 1.1 }).next(f32([1, 2]), [2])).toThrow(/previous token 2/);
    expect(() => new Sampler({ temperature: 1 }).next(f32([1, NaN]), [])).toThrow(/NaN/);
    expect(() => new Sampler({}).next(f32([NaN, 1]), [])).toThrow(/NaN/);
    expect(() => new Sampler({ temperature: 1 }).next(f32([-Infinity, -Infinity]), [])).toThrow(/largest logit/);
  });

  it('refuses NaN or a non-finite largest logit with NonFiniteLogitsError, greedy or sampled; -Inf on some tokens is a mask', () => {
    for (const o of [{}, { temperature: 0.7, topK: 2, seed: 1 }, { temperature: 1, topP: 0.5, repetitionPenalty: 1.2, seed: 2 }]) {
      for (const logits of [[NaN, 1, 2], [1, 2, NaN], [3, NaN, 1], [-Infinity, -Infinity, -Infinity], [1, Infinity, 2]]) {
        expect(() => new Sampler(o).next(f32(logits), [0]), `${JSON.stringify(o)} ${logits}`).toThrow(NonFiniteLogitsError);
      }
      expect(new Sampler(o).next(f32([-Infinity, 5, -Infinity]), [0])).toBe(1);
    }
    expect(() => new Sampler({}).next(f32([1, NaN]), [])).toThrow('webmoe: the logits contain NaN (the model overflowed): no token to sample');
  });
});
