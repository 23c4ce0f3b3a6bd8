// RoPE scaling read from config.json: each type's frequencies against what its definition says of
// the bands it keeps, divides or blends, and the refusals of what it does not honour.
import { describe, expect, it } from 'vitest';
import { ModelConfigError } from '../../src/model/config.js';
import { ropeKey, ropeOf, ropeTable } from '../../src/model/rope.js';

const D = 64;
const theta = 10000;
const plain = Array.from({ length: D / 2 }, (_, i) => theta ** (-(2 * i) / D));
const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 12));

describe('ropeOf', () => {
  it('default: θ^(−2i/d), from rope_theta, with no scaling block or an explicit default', () => {
    close(ropeOf({ rope_theta: theta }, D).invFreq, plain);
    close(ropeOf({ rope_theta: theta, rope_scaling: { rope_type: 'default' } }, D).invFreq, plain);
    expect(ropeOf({}, 4).invFreq).toEqual([1, 0.01]);
  });

  it('linear divides every frequency by factor; legacy `type` reads the same', () => {
    const r = ropeOf({ rope_theta: theta, rope_scaling: { type: 'linear', factor: 4 } }, D);
    close(r.invFreq, plain.map((f) => f / 4));
    expect(r.attentionFactor).toBe(1);
  });

  it('dynamic: the default frequencies within max_position_embeddings, longer contexts refused', () => {
    const r = ropeOf({ rope_theta: theta, max_position_embeddings: 512, rope_scaling: { rope_type: 'dynamic', factor: 2 } }, D);
    close(r.invFreq, plain);
    expect(ropeKey(r, 512)).toMatch(/^rope 512 /);
    expect(() => ropeKey(r, 513)).toThrow(/rope_scaling dynamic changes the frequencies past 512 positions .*contextLength ≤ 512, got 513/);
  });

  it('yarn: fast pairs kept, slow ones divided by factor, a ramp between; the attention factor', () => {
    const scaling = { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1 };
    const r = ropeOf({ rope_theta: theta, rope_scaling: scaling }, D);
    // The correction range: pairs turning more than 32 times over 4096 positions are kept (i ≤ 10 for
    // d 64, θ 1e4), fewer than once divided (i ≥ 23), truncated to whole pairs.
    const low = Math.floor((D * Math.log(4096 / (32 * 2 * Math.PI))) / (2 * Math.log(theta)));
    const high = Math.ceil((D * Math.log(4096 / (2 * Math.PI))) / (2 * Math.log(theta)));
    expect([low, high]).toEqual([10, 23]);
    close(r.invFreq.slice(0, low + 1), plain.slice(0, low + 1));
    close(r.invFreq.slice(high), plain.slice(high).map((f) => f / 8));
    const mid = 16;
    const ramp = (mid - low) / (high - low);
    expect(r.invFreq[mid]).toBeCloseTo(plain[mid] * (1 - ramp) + (plain[mid] / 8) * ramp, 14);
    expect(r.attentionFactor).toBeCloseTo(0.1 * Math.log(8) + 1, 14);
    // truncate: false (gpt-oss) keeps the fractional range: another ramp
    const loose = ropeOf({ rope_theta: theta, rope_scaling: { ...scaling, truncate: false } }, D);
    expect(loose.invFreq[mid]).not.toBeCloseTo(r.invFreq[mid], 6);
  });

  it('yarn: DeepSeek mscale / mscale_all_dim, a given attention_factor, factor from the two lengths', () => {
    const ds = { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, mscale: 0.707, mscale_all_dim: 0.707, beta_fast: 32, beta_slow: 1 };
    expect(ropeOf({ rope_theta: theta, rope_scaling: ds }, D).attentionFactor).toBe(1);
    const ratio = ropeOf({ rope_theta: theta, rope_scaling: { ...ds, mscale: 1 } }, D).attentionFactor;
    expect(ratio).toBeCloseTo((0.1 * Math.log(40) + 1) / (0.1 * 0.707 * Math.log(40) + 1), 14);
    expect(ropeOf({ rope_theta: theta, rope_scaling: { ...ds, attention_factor: 0.5 } }, D).attentionFactor).toBe(0.5);
    const derived = ropeOf({ rope_theta: theta, max_position_embeddings: 16384, rope_scaling: { type: 'yarn', original_max_position_embeddings: 4096 } }, D);
    expect(derived.attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 14);
  });

  it('llama3: short wavelengths kept, long ones divided, smooth between', () => {
    const s = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const r = ropeOf({ rope_theta: 500000, rope_scaling: s }, 128).invFreq;
    const base = Array.from({ length: 64 }, (_, i) => 500000 ** (-(2 * i) / 128));
    base.forEach((f, i) => {
      const wl = (2 * Math.PI) / f;
      if (wl < 8192 / 4) expect(r[i]).toBe(f);
      else if (wl > 8192) expect(r[i]).toBeCloseTo(f / 8, 15);
      else expect(r[i]).toBeGreaterThan(f / 8), expect(r[i]).toBeLessThan(f);
    });
  });

  it('rope_parameters (newer configs) carries rope_theta', () => {
    close(ropeOf({ rope_parameters: { rope_type: 'default', rope_theta: theta } }, D).invFreq, plain);
  });

  it('refuses by name what it does not honour', () => {
    const bad: [object, RegExp][] = [
      [{ rope_scaling: { type: 'longrope', factor: 2 } }, /rope type "longrope" is not supported/],
      [{ rope_scaling: { type: 'linear' } }, /rope_scaling.factor must be a positive number, got undefined/],
      [{ rope_scaling: { type: 'linear', factor: -1 } }, /rope_scaling.factor must be a positive number, got -1/],
      [{ rope_scaling: { type: 'yarn', factor: 4, low_freq_factor: 1 } }, /rope_scaling.low_freq_factor is not supported for rope type yarn/],
      [{ rope_scaling: { type: 'yarn', rope_type: 'linear', factor: 4 } }, /has rope_type "linear" and type "yarn"/],
      [{ rope_scaling: { type: 'yarn', factor: 4, truncate: 'no' } }, /rope_scaling.truncate must be a boolean/],
      [{ rope_scaling: { type: 'llama3', factor: 8 } }, /rope_scaling.low_freq_factor must be a positive number/],
      [{ rope_scaling: 'yarn' }, /rope_scaling must be an object/],
      [{ rope_theta: 0 }, /rope_theta must be a positive number, got 0/],
    ];
    for (const [raw, message] of bad) {
      expect(() => ropeOf(raw as Record<string, unknown>, D)).toThrow(ModelConfigError);
      expect(() => ropeOf(raw as Record<string, unknown>, D)).toThrow(message);
    }
  });
});

describe('ropeTable', () => {
  it('(cos, sin) of position · frequency, times the attention factor', () => {
    const t = ropeTable(3, { invFreq: [1, 0.5], attentionFactor: 2 });
    const expected = [0, 1, 2].flatMap((p) => [1, 0.5].flatMap((f) => [2 * Math.cos(p * f), 2 * Math.sin(p * f)]));
    close([...t], expected.map((v) => Math.fround(v)));
  });
});
