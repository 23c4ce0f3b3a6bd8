// The sampler's OpenAI options (logit bias, frequency and presence penalties) and a grammar's token
// mask, against float64 references.
import { describe, expect, it } from 'vitest';
import { Sampler } from '../../src/model/sampling.js';
import { Rng } from '../ref/rng.js';

/** Greedy picks with OpenAI's penalties in float64: logit − count·frequency − (count > 0)·presence, plus the bias. */
function referenceGreedy(logits: Float32Array, steps: number, frequency: number, presence: number, bias: Record<number, number> = {}): number[] {
  const count = new Array<number>(logits.length).fill(0);
  const picks: number[] = [];
  for (let s = 0; s < steps; s++) {
    const x = Array.from(logits, (v, i) => v + (bias[i] ?? 0) - (count[i] > 0 ? count[i] * frequency + presence : 0));
    const best = x.indexOf(Math.max(...x));
    count[best]++;
    picks.push(best);
  }
  return picks;
}

const uniform = (rng: Rng, lo: number, hi: number) => lo + rng.next() * (hi - lo);

/** A bitmask (bit i % 32 of word i / 32) of the ids for which `keep` holds. */
function mask(vocab: number, keep: (i: number) => boolean): Int32Array {
  const m = new Int32Array(Math.ceil(vocab / 32));
  for (let i = 0; i < vocab; i++) if (keep(i)) m[i >>> 5] |= 1 << (i & 31);
  return m;
}

describe('Sampler: OpenAI options and grammar masks', () => {
  it('penalises the tokens it picked by their count (frequency) and once (presence), as a float64 reference', () => {
    const rng = new Rng(21);
    for (let trial = 0; trial < 20; trial++) {
      const logits = rng.array(12, 1);
      const frequency = uniform(rng, -0.5, 2);
      const presence = uniform(rng, -0.5, 2);
      const bias = { [trial % 12]: uniform(rng, -3, 3) };
      const s = new Sampler({ frequencyPenalty: frequency, presencePenalty: presence, logitBias: bias });
      const picked: number[] = []; // all generated (prompt length 0)
      for (let i = 0; i < 30; i++) picked.push(s.next(logits, picked, 0));
      const got = picked;
      expect(got).toEqual(referenceGreedy(logits, 30, frequency, presence, bias));
    }
  });

  it('adds the logit bias before drawing: -100 bans a token, +100 forces it', () => {
    const rng = new Rng(4);
    const logits = rng.array(50, 2);
    const banned = new Sampler({ temperature: 1, seed: 3, logitBias: { 7: -100, 9: -100 } });
    const draws = Array.from({ length: 2000 }, () => banned.next(logits, []));
    expect(draws.filter((t) => t === 7 || t === 9)).toEqual([]);
    const forced = new Sampler({ temperature: 1, seed: 3, logitBias: { 31: 100 } });
    expect(new Set(Array.from({ length: 200 }, () => forced.next(logits, [])))).toEqual(new Set([31]));
  });

  it('never picks a token the mask leaves out, greedy or sampled, across mask words', () => {
    const rng = new Rng(8);
    const logits = rng.array(70, 2);
    const allowed = mask(70, (i) => i % 3 === 1 && i !== 4);
    const best = [...logits.keys()].filter((i) => i % 3 === 1 && i !== 4).reduce((a, b) => (logits[b] > logits[a] ? b : a));
    expect(new Sampler({}).next(logits, [], 0, allowed)).toBe(best);
    const s = new Sampler({ temperature: 2, seed: 1 });
    const draws = Array.from({ length: 3000 }, () => s.next(logits, [], 0, allowed));
    expect(draws.filter((t) => t % 3 !== 1 || t === 4)).toEqual([]);
    expect(new Set(draws).size).toBeGreaterThan(10);
  });

  it('rejects bad options, naming the option and the value', () => {
    expect(() => new Sampler({ frequencyPenalty: 2.5 })).toThrow('webmoe: sampling option frequencyPenalty must be in [-2, 2], got 2.5');
    expect(() => new Sampler({ presencePenalty: NaN })).toThrow('presencePenalty must be in [-2, 2], got NaN');
    expect(() => new Sampler({ logitBias: { 3: 101 } })).toThrow('logitBias[3] must be in [-100, 100], got 101');
    expect(() => new Sampler({ logitBias: { x: 1 } as Record<string, number> })).toThrow('logitBias must be keyed by token ids');
    expect(() => new Sampler({ logitBias: { 12: 1 } }).next(new Float32Array(10).fill(1), [])).toThrow(
      'webmoe: sampling option logitBias names token 12, outside the vocabulary of 10',
    );
  });
});
